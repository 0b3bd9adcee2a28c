"""FSR-GAN (seed 001 §3): G maps a small query's feature to the large image's, against a WGAN critic D.

    L(D) = E[D(F_SR)] − E[D(F_HR)]                                               (Eq. 7)
    L(G) = −w_adv · E[D(F_SR)] + (1/m) · Σ_i ‖F_SR,i − F_HR,i‖₂^r                  (Eq. 9)

r = 1 is GAN-MSE (Eq. 8); r > 1 focuses G on the pairs it maps worst. D is kept Lipschitz by
weight clipping (the WGAN the paper builds on) or, as an option, a gradient penalty. Optuna
maximises the validation mAP averaged over the query sizes; the tables report the test landmarks.
"""

from __future__ import annotations

import torch

from trainables.contract import Progress, Report, Stages
from trainables.fsr_gan.config import Config
from trainables.fsr_gan.data import load_dataset
from trainables.fsr_gan.metrics import distances, retrieval_map, similar_dissimilar
from trainables.fsr_gan.stages import BANK, CNN_BASELINE, EXTRACTOR, GAN_MSE, ISR
from trainables.loop import Trainees, run_epochs
from trainables.models import FSRCritic, FSRGenerator

SPLITS = ("val", "test")


def critic_loss(d_sr: torch.Tensor, d_hr: torch.Tensor) -> torch.Tensor:
    """Eq. 7: the critic scores large-image features above generated ones."""
    return d_sr.mean() - d_hr.mean()


def focal_term(sr: torch.Tensor, hr: torch.Tensor, r: float) -> torch.Tensor:
    """(1/m)·Σ‖F_SR − F_HR‖₂^r; the clamp keeps the gradient finite at a perfect match when r < 1."""
    return (sr - hr).norm(dim=1).clamp_min(1e-6).pow(r).mean()


def generator_loss(d_sr: torch.Tensor, sr: torch.Tensor, hr: torch.Tensor, r: float, w_adv: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 9, the one weighted sum: −w_adv·E[D(F_SR)] + focal term; returns (loss, focal term)."""
    focal = focal_term(sr, hr, r)
    return -w_adv * d_sr.mean() + focal, focal


def gradient_penalty(critic: torch.nn.Module, hr: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: (‖∇D‖ − 1)² on random points between large-image and generated features."""
    t = torch.rand(len(hr), 1, device=hr.device)
    mix = (t * hr + (1 - t) * sr).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def build_generator(config: Config) -> FSRGenerator:
    return FSRGenerator(channels=1, size=config.feature_side, dropout=config.dropout)


def build_model(config: Config) -> torch.nn.Module:
    return build_generator(config)


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    stages = {"extractor": EXTRACTOR, "bank": BANK, "isr": ISR, "cnn_baseline": CNN_BASELINE, "gan_mse": GAN_MSE}
    return {name: stage.ensure(config, device=device, progress=progress) for name, stage in stages.items()}


class FsrTraining:
    """One G (and D) training run on the feature bank's pairs; ``w_adv = 0`` trains G alone."""

    def __init__(self, config: Config, bank: dict, device: torch.device, r: float, w_adv: float):
        torch.manual_seed(config.seed)
        self.config, self.device, self.r, self.w_adv = config, device, r, w_adv
        self.generator = build_generator(config).to(device)
        self.critic = FSRCritic(channels=1, size=config.feature_side).to(device)
        # (0.5, 0.9): the Adam momenta WGAN critics are usually trained with; the paper gives only lr
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=(0.5, 0.9))
        self.hr, self.lr = bank["train_hr"], bank["train_lr"]
        self.gen = torch.Generator().manual_seed(config.seed * 7919 + 1)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pairs: a training crop at a random size from the list, and its large feature."""
        i = torch.randint(len(self.hr), (self.config.batch_size,), generator=self.gen)
        k = torch.randint(self.lr.shape[1], (self.config.batch_size,), generator=self.gen)
        return self.lr[i, k].to(self.device), self.hr[i].to(self.device)

    def critic_step(self) -> float:
        small, large = self.batch()
        with torch.no_grad():
            sr = self.generator(small)
        loss = critic_loss(self.critic(sr), self.critic(large))
        if self.config.lipschitz == "gp":
            loss = loss + self.config.gp_weight * gradient_penalty(self.critic, large, sr)
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        if self.config.lipschitz == "clip":
            for p in self.critic.parameters():
                p.data.clamp_(-self.config.clip_value, self.config.clip_value)
        return loss.item()

    def train_one_epoch(self) -> dict[str, float]:
        c, sums = self.config, {"train_loss_g": 0.0, "train_loss_d": 0.0, "train_focal": 0.0}
        self.generator.train()
        self.critic.train()
        for _ in range(c.steps_per_epoch):
            if self.w_adv > 0:
                sums["train_loss_d"] += sum(self.critic_step() for _ in range(c.n_critic)) / c.n_critic / c.steps_per_epoch
            small, large = self.batch()
            sr = self.generator(small)
            d_sr = self.critic(sr) if self.w_adv > 0 else torch.zeros(len(sr), device=self.device)
            loss, focal = generator_loss(d_sr, sr, large, self.r, self.w_adv)
            self.opt_g.zero_grad()
            loss.backward()
            self.opt_g.step()
            sums["train_loss_g"] += loss.item() / c.steps_per_epoch
            sums["train_focal"] += focal.item() / c.steps_per_epoch
        return sums


@torch.no_grad()
def enhance(generator: torch.nn.Module, small: torch.Tensor, device: torch.device) -> torch.Tensor:
    """G of every (query, size) feature: (Q, K, D) → (Q, K, D)."""
    generator.eval()
    q, k, d = small.shape
    return generator(small.reshape(q * k, d).to(device)).cpu().reshape(q, k, d)


def method_metrics(features: dict[str, torch.Tensor], bank: dict, gnds: dict, config: Config, suffix: str) -> dict[str, float]:
    """Per split and size 1/k per side: mAP without (Fig. 6) and with (Fig. 7) distractors, distance to F_HR (Figs. 4-5)."""
    out = {}
    for split in SPLITS:
        feats, target = features[split], bank[f"{split}_hr"]
        for j, k in enumerate(config.factors):
            out[f"{split}_map_x{k}{suffix}"] = retrieval_map(feats[:, j], bank["db"], gnds[split], bank["distractor"])
            out[f"{split}_map_distractors_x{k}{suffix}"] = retrieval_map(feats[:, j], bank["db"], gnds[split])
            out[f"{split}_dist_x{k}{suffix}"] = float(distances(feats[:, j], target).mean())
        for name in ("map", "map_distractors"):
            values = [out[f"{split}_{name}_x{k}{suffix}"] for k in config.factors]
            out[f"{split}_{name}{suffix}"] = sum(values) / len(values)
    return out


def reference_metrics(bank: dict, gnds: dict, config: Config) -> dict[str, float]:
    """Rows that do not depend on G: the large queries, Table 1's variance, Fig. 4's lines, Fig. 8's sizes."""
    out = {}
    for split in SPLITS:
        hr = bank[f"{split}_hr"]
        out[f"{split}_map_clean"] = retrieval_map(hr, bank["db"], gnds[split], bank["distractor"])
        out[f"{split}_map_distractors_clean"] = retrieval_map(hr, bank["db"], gnds[split])
        out[f"{split}_dist_similar"], out[f"{split}_dist_dissimilar"] = similar_dissimilar(hr, bank["db"], gnds[split])
        for j, k in enumerate(config.factors):
            out[f"{split}_dist_var_x{k}_raw"] = float(distances(bank[f"{split}_lr"][:, j], hr).var())
            out[f"{split}_bits_x{k}"] = float(bank[f"{split}_bits"][:, j].mean())
    return out


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """Train G against D; after each epoch report every method's metrics on validation and test."""
    bank = BANK.load(stages["bank"], config, device=device)
    rset = load_dataset(config)
    gnds = {s: [rset.gnd[i] for i in bank[f"{s}_index"].tolist()] for s in SPLITS}
    raw = {s: bank[f"{s}_lr"] for s in SPLITS}

    def of_generator(generator) -> dict[str, torch.Tensor]:
        return {s: enhance(generator, raw[s], device) for s in SPLITS}

    constants = reference_metrics(bank, gnds, config)
    constants |= method_metrics(raw, bank, gnds, config, "_raw")
    constants |= method_metrics(ISR.load(stages["isr"], config, device=device), bank, gnds, config, "_isr")
    constants |= method_metrics(of_generator(CNN_BASELINE.load(stages["cnn_baseline"], config, device=device)), bank, gnds, config, "_cnn")
    constants |= method_metrics(of_generator(GAN_MSE.load(stages["gan_mse"], config, device=device)), bank, gnds, config, "_gan_mse")
    run = FsrTraining(config, bank, device, r=config.r, w_adv=config.w_adv)
    trainees = Trainees(nets={"generator": run.generator, "critic": run.critic}, model="generator",
                        optimizers={"generator": run.opt_g, "critic": run.opt_d}, generators={"batches": run.gen})

    def one_epoch(epoch: int) -> dict[str, float]:
        metrics = run.train_one_epoch()
        return metrics | method_metrics(of_generator(run.generator), bank, gnds, config, "") | constants

    run_epochs(config.epochs, trainees, one_epoch, report, resume)

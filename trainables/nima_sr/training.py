"""NIMA-EDSR / NIMA-MDSR (seed 002 §2.3): fine-tune the L2 baseline model with a frozen judge.

    l(W) = L2(x_r, c_W(x)) + γ · (10 − Σ_i i·p_i(c_W(x)))                        (§2.3.1)

L2 is on the 0–255 scale (``stages.l2``), NIMA judges the output clamped to [0, 1] (it only saw
images there). γ = 0 is the baseline row; the L2 twin stage is that row fine-tuned as long.
Optuna maximises validation PSNR and validation NIMA score (a Pareto front); the tables report
the held-out test photos.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trainables.contract import Progress, Report, Stages
from trainables.data.degradations import imresize, quantise
from trainables.loop import Trainees, run_epochs
from trainables.metrics import nima_mean_score, psnr_per_image, ssim_per_image
from trainables.nima_sr.config import Config
from trainables.nima_sr.data import EvalSet, TrainPairs, eval_set
from trainables.nima_sr.judge import predict
from trainables.nima_sr.stages import JUDGE, L2_TWIN, PRETRAIN, build_enhancer, enhance, l2


def coupled_loss(output: torch.Tensor, hr: torch.Tensor, scores: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The one weighted sum: ``L2 + γ·(10 − NIMA mean score).mean()``; returns (loss, l2)."""
    pixel = l2(output, hr)
    return pixel + gamma * (10 - scores).mean(), pixel


def build_model(config: Config) -> torch.nn.Module:
    return build_enhancer(config)


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    return {"judge": JUDGE.ensure(config, device=device, progress=progress),
            "pretrain": PRETRAIN.ensure(config, device=device, progress=progress),
            "l2_twin": L2_TWIN.ensure(config, device=device, progress=progress)}


class Finetune:
    """One fine-tuning run: the enhancer from ``pretrain_dir``, Adam, its batch generator."""

    def __init__(self, config: Config, pretrain_dir: Path, judge, device: torch.device):
        self.config, self.judge, self.device = config, judge, device
        self.model = PRETRAIN.load(pretrain_dir, config, device=device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.lr)  # no weight decay (§2.3.1)
        self.gen = torch.Generator().manual_seed(config.seed * 7919 + 1)
        self.pairs = TrainPairs(config)
        self.step = 0

    def train_one_epoch(self, gamma: float) -> dict[str, float]:
        c, sums = self.config, {"train_loss": 0.0, "train_l2": 0.0, "train_nima": 0.0}
        self.model.train()
        for _ in range(c.steps_per_epoch):
            scale = c.scales[self.step % len(c.scales)]
            self.step += 1
            lr, hr = self.pairs.batch(scale, c.batch_size, self.gen)
            out = enhance(self.model, lr.to(self.device), scale, c)
            scores = nima_mean_score(self.judge(out.clamp(0, 1))) if gamma > 0 else torch.zeros(len(out), device=self.device)
            loss, pixel = coupled_loss(out, hr.to(self.device), scores, gamma)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            for k, v in (("train_loss", loss), ("train_l2", pixel), ("train_nima", scores.mean())):
                sums[k] += v.item() / c.steps_per_epoch
        return sums


@torch.no_grad()
def evaluate(outputs: torch.Tensor, hr: torch.Tensor, scale: int, judge, device: torch.device) -> dict[str, float]:
    """PSNR (Y, border = scale, the SR convention), SSIM (Y, same border), mean NIMA score."""
    out = quantise(outputs)  # what a saved output image holds
    return {"psnr": float(psnr_per_image(out, hr, crop_border=scale, y_channel=True).mean()),
            "ssim": float(ssim_per_image(out, hr, crop_border=scale, y_channel=True).mean()),
            "nima": mean_nima(out, judge, device)}


def mean_nima(images: torch.Tensor, judge, device: torch.device) -> float:
    return float(nima_mean_score(predict(judge, images, device)).mean())


@torch.no_grad()
def run_model(model: torch.nn.Module, data: EvalSet, scale: int, config: Config, device: torch.device) -> torch.Tensor:
    model.eval()
    return torch.cat([enhance(model, x.to(device), scale, config).cpu() for x in data.inputs[scale].split(4)])


def model_metrics(model, sets: dict[str, EvalSet], judge, config: Config, device, suffix: str = "") -> dict[str, float]:
    """``{split}_{metric}{suffix}`` at the objective scale, and ``_x{s}`` for every scale of MDSR."""
    out = {}
    for split, data in sets.items():
        for s in config.scales:
            m = evaluate(run_model(model, data, s, config, device), data.hr, s, judge, device)
            tag = "" if s == config.scale else f"_x{s}"
            if config.arch == "mdsr" and s == config.scale:
                out |= {f"{split}_{k}_x{s}{suffix}": v for k, v in m.items()}
            out |= {f"{split}_{k}{tag}{suffix}": v for k, v in m.items()}
    return out


def reference_metrics(sets: dict[str, EvalSet], judge, config: Config, device: torch.device) -> dict[str, float]:
    """Constant rows: the HR image's NIMA score, and bicubic upscaling of the input."""
    out = {}
    for split, data in sets.items():
        s = config.scale
        out[f"{split}_nima_hr"] = mean_nima(data.hr, judge, device)
        bicubic = evaluate(imresize(data.inputs[s], s), data.hr, s, judge, device)
        out |= {f"{split}_{k}_bicubic": v for k, v in bicubic.items()}
    return out


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """Fine-tune with the coupled loss; after each epoch report validation and test metrics."""
    judge, judge_metrics = JUDGE.load(stages["judge"], config, device=device)
    sets = {"val": eval_set(config, "val"), "test": eval_set(config, "test")}
    constants = {f"judge_{k}": v for k, v in judge_metrics.items() if k in ("srcc", "plcc", "emd")}
    constants |= reference_metrics(sets, judge, config, device)
    constants |= model_metrics(PRETRAIN.load(stages["pretrain"], config, device=device), sets, judge, config, device, "_pretrained")
    constants |= model_metrics(L2_TWIN.load(stages["l2_twin"], config, device=device), sets, judge, config, device, "_l2")
    run = Finetune(config, stages["pretrain"], judge, device)
    trainees = Trainees(nets={"enhancer": run.model}, model="enhancer", optimizers={"enhancer": run.opt},
                        generators={"batches": run.gen})

    def one_epoch(epoch: int) -> dict[str, float]:
        run.step = epoch * config.steps_per_epoch  # MDSR's scale rotation resumes where it was
        metrics = run.train_one_epoch(config.gamma)
        return metrics | model_metrics(run.model, sets, judge, config, device) | constants

    run_epochs(config.epochs, trainees, one_epoch, report, resume)

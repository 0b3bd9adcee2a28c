"""QAIR (seed 000 §4.1–4.2, §6.2, Tables 3 and 8): fine-tune the enhancer with a frozen AP predictor.

    loss = (1 − QAIR(E(degraded))).mean() + λ · MSE(E(degraded), clean)        (Eq. 3)

E is DnCNN on σ-noisy images (``qair_denoise``), bicubic ×4 then DnCNN on ×4 smaller ones
(``qair_sr``), or one DnCNN for both, the small ones upsampled first (``qair_joint``);
``config.TASK`` picks, and nothing else in the loop differs. The upstream stages
(pretrained enhancer, true-AP labels, one QAIR head per split) are built once by ``prepare``
(``stages.py``); a trial only fine-tunes and evaluates.

Splits: the paper learns λ "through a validation dataset": here Optuna maximises ``val_map``
(mean over ``splits``) and the tables report ``test_map``. Validation never overlaps a test
fold, so λ never sees test content. Retrieval is SIFT + RANSAC against the clean database (or
ORB, or a CNN's pooled features: ``local_feature``); AP is revisitop Medium.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress, Report, Stages
from trainables.data.image_files import read_rgb, to_tensor
from trainables.loop import Trainees, run_epochs
from trainables.metrics import psnr, ssim
from trainables.qair_denoise.config import Config
from trainables.data.landmark_splits import Split, query_indices
from trainables.qair_denoise.data import degrade, enhance, load_dataset, query_ap, random_patches, splits_of, uint8_chw
from trainables.qair_denoise.stages import (LABELS, PRETRAIN, QAIR_HEAD, build_model, head_stage_name, input_file,
                                            input_kinds, labels_split, labels_stage_name, reference_query,
                                            retrieval_backends)


def coupled_loss(ap_pred: torch.Tensor, output: torch.Tensor, clean: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 3, the one weighted sum: ``(1 − AP).mean() + λ·MSE``; returns (loss, mse)."""
    mse = F.mse_loss(output, clean)
    return (1 - ap_pred).mean() + lam * mse, mse


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    """Build (or find) the pretrained enhancer, the AP labels (one set, or one per split with the
    CNN backend) and every split's QAIR head."""
    stages = {"pretrain": PRETRAIN.ensure(config, device=device, progress=progress)}
    for split in splits_of(config, load_dataset(config)):
        stages[labels_stage_name(config, split)] = LABELS.ensure(config, labels_split(config, split), device=device,
                                                                 progress=progress)
        stages[head_stage_name(split)] = QAIR_HEAD.ensure(config, split, device=device, progress=progress)
    return stages


def evaluate(config: Config, model: torch.nn.Module, rset, backend, indices: list[int], inputs: Path,
             kind: str = "") -> dict[str, float]:
    """Enhance each degraded query whole, rank it against the clean database: mAP, PSNR, SSIM."""
    aps, psnrs, ssims = [], [], []
    for i in indices:
        out = enhance(model, read_rgb(inputs / input_file(rset.qimlist[i], kind)))
        aps.append(query_ap(backend, rset, i, out))
        x, y = to_tensor(out)[None], to_tensor(reference_query(config, rset, i))[None]
        psnrs.append(psnr(x, y))
        ssims.append(ssim(x, y))
    return {"map": float(np.nanmean(aps)), "psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}


def baseline_metrics(config: Config, rset, splits: list[Split], labels_dirs: list[Path], judge_metrics: list[dict],
                     judge: str = "qair") -> dict[str, float]:
    """Constant rows of Table 3 (8) and Table 1, as means over the splits of per-split means, and per
    split; the judge's figures as ``{judge}_mae…`` (``qair``, or ``fqa``: the feature QA net)."""
    rows: dict[str, list[float]] = {}
    for split, labels_dir, head_metrics in zip(splits, labels_dirs, judge_metrics):
        per_query = json.loads((labels_dir / "baselines.json").read_text())
        for part, names in (("test", split.test), ("val", split.val)):
            queries = [rset.qimlist[i] for i in query_indices(rset, names)]
            # every method the labels stage measured: clean, noisy, nn, the classical denoiser
            # (denoising) or clean, down, bicubic, nn (SR); PSNR/SSIM where the image had the
            # query's size. Val PSNR too: `promote --where val_psnr>=val_psnr_nn` picks on it.
            for method, measured in per_query[queries[0]].items():
                for m in measured:
                    name = f"{part}_{'map' if m == 'ap' else m}_{method}"
                    rows.setdefault(name, []).append(float(np.nanmean([per_query[q][method][m] for q in queries])))
        for figure in ("", "_denoised", "_constant", "_per_version", "_landmark_oracle"):  # the last three: what
            rows.setdefault(f"{judge}_mae{figure}", []).append(head_metrics[f"mae{figure}"])  # its MAE is read against
    if config.TASK == "joint":  # Table 9's "Noisy/LR" and "NN": both test versions of a query together
        for part in ("test", "val"):
            for m in ("map", "psnr", "ssim"):
                for name, pair in (("degraded", ("noisy", "bicubic")), ("nn", ("nn_noise", "nn_sr"))):
                    a, b = (rows[f"{part}_{m}_{p}"] for p in pair)
                    rows[f"{part}_{m}_{name}"] = [(x + y) / 2 for x, y in zip(a, b)]
    # each split's own figure too (``…_s3``): the 5 test folds are paired comparisons of their own
    per_split = {f"{k}_s{split.index}": v[n] for k, v in rows.items() for n, split in enumerate(splits)}
    return {k: float(np.mean(v)) for k, v in rows.items()} | per_split


class SplitRun:
    """One split's fine-tuning: its enhancer, SGD state, patch/noise generator, frozen judge, and the
    labels folder and retrieval backend its evaluation reads (shared by every split unless CNN)."""

    def __init__(self, config: Config, rset, split: Split, stages: Stages, backend, device: torch.device):
        self.split, self.device, self.backend = split, device, backend
        self.labels_dir = LABELS.load(stages[labels_stage_name(config, split)], config, device=device)
        self.model = PRETRAIN.load(stages["pretrain"], config, device=device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum)
        self.gen = torch.Generator().manual_seed(config.seed * 7919 + split.index)
        self.head, self.head_metrics = QAIR_HEAD.load(stages[head_stage_name(split)], config, split, device=device)
        self.train_images = [uint8_chw(rset.load_query(i)) for i in query_indices(rset, split.train)]

    def train_one_epoch(self, config: Config) -> dict[str, float]:
        # BN keeps the pretraining statistics: batches of a few patches from a few dozen queries
        # would make them noisy, and with lr = 0 the enhancer then stays exactly the NN baseline
        self.model.eval()
        sums = {"loss": 0.0, "mse": 0.0, "ap_pred": 0.0}
        for _ in range(config.steps_per_epoch):
            _, clean = random_patches(self.train_images, config.batch_size, config.patch, self.gen)
            clean = clean.to(self.device)
            output = self.model(degrade(config, clean, self.gen))  # fresh noise every step
            ap_pred = self.head(output.clamp(0, 1))  # the judge only saw images in [0, 1]
            loss, mse = coupled_loss(ap_pred, output, clean, config.lam)
            self.opt.zero_grad()
            # the step descends Eq. 3 / (1 + λ): the same minimisers, but a gradient that stays
            # bounded as λ grows, so one lr range holds from λ → 0 (AP only) to λ → ∞ (the
            # MSE-only fine-tune, i.e. NN), and the sweep can find either end
            (loss / (1 + config.lam)).backward()
            self.opt.step()
            for k, v in (("loss", loss), ("mse", mse), ("ap_pred", ap_pred.mean())):
                sums[k] += v.item() / config.steps_per_epoch
        return sums


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """Fine-tune one enhancer per split; after each epoch report val/test metrics (means over splits)."""
    rset = load_dataset(config)
    splits = splits_of(config, rset)
    backends = retrieval_backends(config, rset, splits, device=device)
    runs = [SplitRun(config, rset, s, stages, backends[labels_stage_name(config, s)], device) for s in splits]
    baselines = baseline_metrics(config, rset, splits, [run.labels_dir for run in runs], [run.head_metrics for run in runs])
    # "the" model of the trial is the first split's; every split's state is kept to resume
    trainees = Trainees(nets={f"s{r.split.index}": r.model for r in runs}, model=f"s{splits[0].index}",
                        optimizers={f"s{r.split.index}": r.opt for r in runs},
                        generators={f"s{r.split.index}": r.gen for r in runs})

    def one_epoch(epoch: int) -> dict[str, float]:
        parts = [run.train_one_epoch(config) for run in runs]
        for run, part in zip(runs, parts):
            for kind in input_kinds(config):  # the joint network: the noisy and the small query
                for group, names in (("val", run.split.val), ("test", run.split.test)):
                    scores = evaluate(config, run.model, rset, run.backend, query_indices(rset, names),
                                      run.labels_dir / "inputs", kind)
                    part.update({f"{group}_{k}{'_' + kind if kind else ''}": v for k, v in scores.items()})
            if config.TASK == "joint":  # Table 9 scores both test versions of every query together
                part.update({f"{g}_{k}": (part[f"{g}_{k}_noise"] + part[f"{g}_{k}_sr"]) / 2
                             for g in ("val", "test") for k in ("map", "psnr", "ssim")})
        per_split = {f"test_{k}_s{run.split.index}": part[f"test_{k}"] for run, part in zip(runs, parts)
                     for k in ("map", "psnr", "ssim")}
        return {k: float(np.mean([p[k] for p in parts])) for k in parts[0]} | per_split | baselines

    run_epochs(config.epochs, trainees, one_epoch, report, resume)

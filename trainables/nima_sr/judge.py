"""The NIMA judge of seed 002 (§2.2): trained with the squared EMD loss, measured as NIMA is.

Data: ``embedded-quality`` (technical-quality stand-in for AVA, split by photo: the validation
and test photos are never seen in training) or AVA from ``judge_root`` (80/20 random split,
seeded, a tenth of the 80 % held out for validation). The judge kept is the epoch with the best
validation SRCC: from scratch on a few photos the test SRCC swings by ±0.1 between epochs.
Images are resized to ``judge_resize`` and randomly cropped to ``judge_crop`` for training
(§2.2.1: 256 → 192), judged whole (resized) for testing.

Measured on the test split as Talebi & Milanfar report it: EMD (r = 1) between predicted and
ground-truth distributions, and SRCC / PLCC between predicted and ground-truth mean scores.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from trainables.contract import Progress
from trainables.data import embedded_quality
from trainables.data.ava import load_ava
from trainables.metrics import emd_loss, nima_mean_score
from trainables.models import NIMAHead
from trainables.nima_sr.config import Config

SRCC_BAR = 0.7  # below this the judge cannot rank images: not good enough to train against


def build_judge(config: Config) -> NIMAHead:
    return NIMAHead(config.judge_backbone, dropout=config.judge_dropout, weights_path=config.judge_weights)


def judge_key(config: Config) -> dict:
    data = ({"dataset": "embedded-quality", "crops": config.quality_crops} if config.judge_dataset == "embedded-quality"
            else {"dataset": "ava", "root": config.judge_root})
    return {**data, "backbone": config.judge_backbone, "weights": config.judge_weights, "dropout": config.judge_dropout,
            "epochs": config.judge_epochs, "lr": config.judge_lr, "decay": config.judge_lr_decay,
            "batch": config.judge_batch_size, "resize": config.judge_resize, "crop": config.judge_crop, "seed": config.seed}


def load_split(config: Config) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train" | "val" | "test": (images uint8 (N, 3, R, R), rating distributions (N, 10))}."""
    if config.judge_dataset == "embedded-quality":
        ava, rows = embedded_quality.load(embedded_quality.QualitySpec(crops_per_photo=config.quality_crops))
        split = np.array(["test" if r["photo"] in embedded_quality.TEST_PHOTOS else
                          "val" if r["photo"] in embedded_quality.VAL_PHOTOS else "train" for r in rows])
    else:
        ava = load_ava(config.judge_root, skip_missing=True)
        u = np.random.default_rng(config.seed).permutation(len(ava)) / len(ava)
        split = np.where(u < 0.2, "test", np.where(u < 0.28, "val", "train"))
    images, dists = [], []
    for i in range(len(ava)):
        img, dist = ava[i]
        images.append(F.interpolate(img[None], size=(config.judge_resize,) * 2, mode="bilinear", antialias=True,
                                    align_corners=False)[0].mul(255).round().byte())
        dists.append(dist)
    images, dists = torch.stack(images), torch.stack(dists)
    return {part: (images[torch.from_numpy(split == part)], dists[torch.from_numpy(split == part)])
            for part in ("train", "val", "test")}


def _random_crops(images: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = images.shape
    ys = torch.randint(h - crop + 1, (n,), generator=gen).tolist()
    xs = torch.randint(w - crop + 1, (n,), generator=gen).tolist()
    out = torch.stack([img[:, y:y + crop, x:x + crop] for img, y, x in zip(images, ys, xs)])
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


@torch.no_grad()
def predict(judge: NIMAHead, images: torch.Tensor, device: torch.device, batch: int = 64) -> torch.Tensor:
    """Distributions (N, 10) for uint8 or [0, 1] float images, judged whole."""
    judge.eval()
    out = [judge(chunk.to(device).float().div(255 if chunk.dtype == torch.uint8 else 1)).cpu()
           for chunk in images.split(batch)]
    return torch.cat(out)


def measure(judge: NIMAHead, images: torch.Tensor, dists: torch.Tensor, device: torch.device) -> dict[str, float]:
    pred = predict(judge, images, device)
    predicted, truth = nima_mean_score(pred).numpy(), nima_mean_score(dists).numpy()
    return {"emd": float(emd_loss(pred, dists, r=1.0)), "srcc": float(stats.spearmanr(predicted, truth).statistic),
            "plcc": float(stats.pearsonr(predicted, truth).statistic), "n_test": float(len(dists))}


def train_judge(config: Config, device: torch.device, progress: Progress | None = None) -> tuple[NIMAHead, dict[str, float]]:
    """Squared-EMD training, Adam with exponential decay per epoch; returns the judge of the best
    validation epoch and its test metrics (plus that epoch and its validation SRCC)."""
    data = load_split(config)
    train_x, train_p = data["train"]
    torch.manual_seed(config.seed)
    judge = build_judge(config).to(device)
    opt = torch.optim.Adam(judge.parameters(), lr=config.judge_lr)
    decay = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.judge_lr_decay)
    gen = torch.Generator().manual_seed(config.seed)
    best = (-math.inf, 0, None)
    for epoch in range(config.judge_epochs):
        judge.train()
        order = torch.randperm(len(train_x), generator=gen)
        for idx in order.split(config.judge_batch_size):
            x = _random_crops(train_x[idx], config.judge_crop, gen).to(device).float().div(255)
            loss = emd_loss(judge(x), train_p[idx].to(device), r=2.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
        decay.step()
        val_srcc = measure(judge, *data["val"], device)["srcc"]
        if val_srcc > best[0]:
            best = (val_srcc, epoch + 1, copy.deepcopy(judge.state_dict()))
        if progress and ((epoch + 1) % 5 == 0 or epoch + 1 == config.judge_epochs):
            progress(f"NIMA judge epoch {epoch + 1}/{config.judge_epochs}: train EMD² {loss.item():.4f}, val SRCC {val_srcc:.3f}")
    judge.load_state_dict(best[2])
    metrics = measure(judge, *data["test"], device) | {"val_srcc": best[0], "epoch": float(best[1])}
    return judge.eval().requires_grad_(False), metrics

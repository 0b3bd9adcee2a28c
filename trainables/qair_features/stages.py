"""The one stage ``qair_features`` adds to the qair stages it shares (pretrained enhancer,
descriptor, CNN AP labels): ``FEATURE_QA``, the feature QA net of one split (seed 000 §5.2,
Fig. 8), trained with MAE on the conv maps of the split's training landmarks' labelled images
(every distorted version of ``qair-labels``, with its true CNN AP)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from trainables.data.landmark_splits import Split
from trainables.models import QAIRHead
from trainables.models.descriptor import shrink_to
from trainables.qair_denoise.stages import LABELS, judge_metrics, labels_split, read_labels, retrieval_cnn
from trainables.stages import Stage


def _fqa_key(config, split: Split) -> dict:
    return {"labels": LABELS.full_key(config, labels_split(config, split)), "train": split.train, "test": split.test, "steps": config.fqa_steps,
            "lr": config.fqa_lr, "batch": config.fqa_batch_size, "seed": config.seed}


@torch.no_grad()
def pooled_maps(conv, images: list[torch.Tensor], device) -> torch.Tensor:
    """Each uint8 (3, H, W) image's conv map, average-pooled to (N, C, 1, 1): what the feature QA
    net's first FC layer sees, so its 3000 steps need one pass of the CNN, not one per step."""
    return torch.stack([conv(shrink_to(img[None].to(device).float().div(255))).mean(dim=(2, 3), keepdim=True)[0]
                        for img in images])


def _build_fqa(out: Path, config, split: Split, *, device, progress) -> None:
    """``fqa.pt`` and ``metrics.json``: image-level MAE on the test landmarks (``judge_metrics``)."""
    folder = LABELS.ensure(config, labels_split(config, split), device=device, progress=progress)
    conv = retrieval_cnn(config, labels_split(config, split), device=device, progress=progress)
    rows, images = read_labels(folder, split.train)
    maps = pooled_maps(conv, images, device)
    targets = torch.tensor([r["ap"] for r in rows], dtype=torch.float32, device=device)
    torch.manual_seed(config.seed + 1000 * split.index)
    fqa = QAIRHead(backbone=None, in_channels=maps.shape[1]).to(device)
    opt = torch.optim.Adam(fqa.parameters(), lr=config.fqa_lr)
    gen = torch.Generator().manual_seed(config.seed + 1000 * split.index)
    for _ in range(config.fqa_steps):
        idx = torch.randint(len(rows), (config.fqa_batch_size,), generator=gen).to(device)
        loss = (fqa(maps[idx]) - targets[idx]).abs().mean()  # MAE, as the image judge's Eq. 2
        opt.zero_grad()
        loss.backward()
        opt.step()
    fqa.eval()
    test_rows, test_images = read_labels(folder, split.test)
    with torch.no_grad():
        predicted = fqa(pooled_maps(conv, test_images, device)).cpu().numpy()
    errors = np.abs(predicted - np.array([r["ap"] for r in test_rows]))
    metrics = judge_metrics("feature QA", split, errors, rows, test_rows, loss.item(), progress)
    torch.save(fqa.state_dict(), out / "fqa.pt")
    (out / "metrics.json").write_text(json.dumps(metrics))


def _load_fqa(folder: Path, config, split: Split, *, device) -> tuple[QAIRHead, dict]:
    """The frozen feature QA net (eval mode, no grad) and its test MAE figures."""
    saved = torch.load(folder / "fqa.pt", map_location="cpu", weights_only=True)
    fqa = QAIRHead(backbone=None, in_channels=saved["fc.0.weight"].shape[1])
    fqa.load_state_dict(saved)
    return fqa.to(device).eval().requires_grad_(False), json.loads((folder / "metrics.json").read_text())


FEATURE_QA = Stage("qair-feature-qa", version=1, key=_fqa_key, build=_build_fqa, load=_load_fqa,
                   tag=lambda split: f"s{split.index}")

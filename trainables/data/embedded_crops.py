"""The "embedded-photo-crops" classification set: which photo does a small crop come from?

A stand-in for a natural-image classification set (Caltech-256 in seed 004), built from the 20
photos that ship in the scikit-image, scikit-learn and matplotlib wheels: one class per photo,
``size``×``size`` RGB crops (grey photos repeated to 3 channels). Each photo is scaled so its
short side is ``short_side`` and cut into ``block``² blocks; blocks go to train / val / test in
a fixed interleaved pattern, so the three splits cover every part of every photo but never
share a pixel. Crops lie wholly inside one block, at seeded random positions.

It is not Caltech-256 and not a set of object categories: a class is one photo's content
(faces and sky of the astronaut, the bricks, the text), which makes it a real test at 32² (no
trivially separable colour or texture for every class) where a few seconds of CPU training
give a classifier that AWGN hurts badly. ``measure_difficulty`` gives both figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import TensorDataset

from trainables.cache import built_arrays
from trainables.data.sources import CLASSIFICATION_PHOTOS as PHOTOS, licence_card
from trainables.errors import UserInputError

NAME = "embedded-photo-crops"
SPLITS = ("train", "val", "test")
# Block (bx, by) belongs to split _PATTERN[(bx + 2 * by) % 5]: 3/5 train, 1/5 val, 1/5 test,
# each split spread over the whole photo.
_PATTERN = ("train", "train", "val", "train", "test")


@dataclass(frozen=True)
class CropsSpec:
    seed: int = 0
    size: int = 32  # crop side
    short_side: int = 256  # each photo's short side after scaling
    block: int = 48  # split blocks: crops never straddle two
    per_class: tuple[int, int, int] = (240, 60, 80)  # train, val, test crops per photo
    version: int = 1


def _photo(source, short_side: int) -> np.ndarray:
    rgb = source.load()
    scale = short_side / min(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _blocks(h: int, w: int, block: int) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {s: [] for s in SPLITS}
    for by in range(h // block):
        for bx in range(w // block):
            out[_PATTERN[(bx + 2 * by) % 5]].append((by * block, bx * block))
    return out


def _build(spec: CropsSpec) -> dict[str, np.ndarray]:
    if spec.size > spec.block:
        raise UserInputError(f"{NAME}: crop size {spec.size} must fit in a block of {spec.block}")
    rng = np.random.default_rng(spec.seed)
    arrays: dict[str, list] = {f"{k}_{s}": [] for s in SPLITS for k in ("x", "y")}
    for label, source in enumerate(PHOTOS):
        photo = _photo(source, spec.short_side)
        blocks = _blocks(*photo.shape[:2], spec.block)
        for split, n in zip(SPLITS, spec.per_class):
            corners = blocks[split]
            picks = rng.integers(len(corners), size=n)
            offsets = rng.integers(spec.block - spec.size + 1, size=(n, 2))
            for (y0, x0), (dy, dx) in zip((corners[i] for i in picks), offsets):
                arrays[f"x_{split}"].append(photo[y0 + dy:y0 + dy + spec.size, x0 + dx:x0 + dx + spec.size])
                arrays[f"y_{split}"].append(label)
    return {k: np.stack(v) if k.startswith("x") else np.array(v, np.int64) for k, v in arrays.items()}


def _arrays(spec: CropsSpec) -> dict[str, np.ndarray]:
    return built_arrays(NAME, spec, lambda: _build(spec))


def load(split: str, spec: CropsSpec = CropsSpec()) -> TensorDataset:
    """``split`` in train/val/test → TensorDataset of (float32 (3, size, size) in [0, 1], int64 label)."""
    if split not in SPLITS:
        raise UserInputError(f"unknown split '{split}' of {NAME} (choose from: {', '.join(SPLITS)})")
    arrays = _arrays(spec)
    x = torch.from_numpy(arrays[f"x_{split}"]).permute(0, 3, 1, 2).float().div(255.0).contiguous()
    return TensorDataset(x, torch.from_numpy(arrays[f"y_{split}"]))


def classes() -> list[str]:
    return [s.name for s in PHOTOS]


def measure_difficulty(spec: CropsSpec = CropsSpec(), sigma: float = 0.3, steps: int = 400, seed: int = 0, width: int = 16) -> dict:
    """Is it a real test? A small classifier (``SmallResNet``) trained ``steps`` Adam steps on
    clean train crops: its test accuracy on clean crops and under AWGN σ (in [0, 1] units).
    The defaults take about 20 s on 2 CPU cores, so the test suite re-measures them."""
    from trainables.data.degradations import awgn
    from trainables.models import SmallResNet

    train, test = load("train", spec), load("test", spec)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SmallResNet(len(PHOTOS), width=width)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = train.tensors
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (64,), generator=gen)
        batch = x[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5  # the only augmentation: a mirrored crop is the same photo
        batch[flip] = batch[flip].flip(-1)
        loss = torch.nn.functional.cross_entropy(model(batch), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = test.tensors
    with torch.no_grad():
        clean = (model(xt).argmax(1) == yt).float().mean().item()
        noisy = (model(awgn(xt, sigma * 255.0, gen)).argmax(1) == yt).float().mean().item()
    return {"classifier": f"SmallResNet (width {width}), trained on clean crops", "steps": steps, "seed": seed,
            "test_acc_clean": round(clean, 4), f"test_acc_awgn_{sigma:g}": round(noisy, 4),
            "drop": round(clean - noisy, 4)}


def card(spec: CropsSpec = CropsSpec()) -> dict:
    arrays = _arrays(spec)
    return {
        "name": NAME,
        "kind": "classification",
        "description": __doc__.strip().splitlines()[0],
        "stand_in_for": "a natural-image classification set such as Caltech-256 (seed 004); not Caltech-256",
        "classes": classes(),
        "image_size": [3, spec.size, spec.size],
        **{f"n_{s}": int(len(arrays[f"y_{s}"])) for s in SPLITS},
        "spec": asdict(spec),
        "difficulty": DIFFICULTY,
        "sources": licence_card(PHOTOS),
    }


# Measured with `python -m trainables.data.embedded_crops` (training seeds 0-2 of the default
# recipe, plus a wider network trained longer); the test suite re-measures the first.
_SMALL, _WIDE = "SmallResNet (width 16), trained on clean crops", "SmallResNet (width 32), trained on clean crops"
DIFFICULTY: list[dict] = [
    {"classifier": _SMALL, "steps": 400, "seed": 0, "test_acc_clean": 0.8144, "test_acc_awgn_0.3": 0.1006, "drop": 0.7137},
    {"classifier": _SMALL, "steps": 400, "seed": 1, "test_acc_clean": 0.8581, "test_acc_awgn_0.3": 0.0712, "drop": 0.7869},
    {"classifier": _SMALL, "steps": 400, "seed": 2, "test_acc_clean": 0.8631, "test_acc_awgn_0.3": 0.0644, "drop": 0.7988},
    {"classifier": _WIDE, "steps": 600, "seed": 0, "test_acc_clean": 0.8763, "test_acc_awgn_0.3": 0.1338, "drop": 0.7425},
]


if __name__ == "__main__":
    import json

    print(json.dumps([*(measure_difficulty(seed=s) for s in (0, 1, 2)), measure_difficulty(steps=600, width=32)], indent=1))

"""DIV2K paired super-resolution data (bicubic track) read from a local copy.

Layout (the unpacked DIV2K_{train,valid}_HR.zip and DIV2K_{train,valid}_LR_bicubic_X{s}.zip)::

    <root>/DIV2K_train_HR/0001.png ... 0800.png
    <root>/DIV2K_train_LR_bicubic/X4/0001x4.png ...      (X2, X3 likewise: 0001x2.png, 0001x3.png)
    <root>/DIV2K_valid_HR/0801.png ... 0900.png
    <root>/DIV2K_valid_LR_bicubic/X4/0801x4.png ...

``ds[i]`` is ``(lr, hr)``, float32 RGB (3, h, w) and (3, s·h, s·w) in [0, 1]. With
``patch_size`` (in HR pixels, a multiple of the scale) both are aligned random crops: the LR
crop starts at (x, y) and the HR crop at (s·x, s·y). Without it both are full images, the HR
trimmed to exactly s× the LR size as EDSR's evaluation does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from trainables.data.image_files import read_tensor, require_dir
from trainables.errors import UserInputError

DIV2K_LAYOUT = "<root>/DIV2K_{split}_HR/0001.png and <root>/DIV2K_{split}_LR_bicubic/X{s}/0001x{s}.png"


class DIV2KPairs(Dataset):
    """LR/HR pairs; crops are drawn from ``(seed, epoch, index)``, so every DataLoader worker
    draws the same crop for the same sample and a run is repeatable. Call ``set_epoch`` to get
    fresh crops each epoch. ``transform(lr, hr) -> (lr, hr)`` must treat both alike (flips...)."""

    def __init__(self, pairs: list[tuple[Path, Path]], scale: int, patch_size: int | None = None,
                 seed: int = 0, transform=None):
        if patch_size is not None and (patch_size <= 0 or patch_size % scale):
            raise UserInputError(f"patch_size {patch_size} must be a positive multiple of the scale {scale}")
        self.pairs, self.scale, self.patch_size, self.seed = pairs, scale, patch_size, seed
        self.transform = transform
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr_path, hr_path = self.pairs[i]
        lr, hr = read_tensor(lr_path), read_tensor(hr_path)
        s = self.scale
        h, w = lr.shape[1:]
        if hr.shape[1] < s * h or hr.shape[2] < s * w:
            raise UserInputError(f"{hr_path} is smaller than {s}x its LR image {lr_path}")
        if self.patch_size is None:
            lr_box, hr_box = (0, 0, h, w), (0, 0, s * h, s * w)
        else:
            y, x = self.crop_origin(i, h, w)
            p = self.patch_size // s
            lr_box, hr_box = (y, x, p, p), (s * y, s * x, s * p, s * p)
        lr, hr = _crop(lr, lr_box), _crop(hr, hr_box)
        return self.transform(lr, hr) if self.transform is not None else (lr, hr)

    def crop_origin(self, i: int, h: int, w: int) -> tuple[int, int]:
        """Top-left (y, x) of the LR crop of sample ``i`` whose LR image is h × w."""
        p = self.patch_size // self.scale
        if p > h or p > w:
            raise UserInputError(f"patch_size {self.patch_size} exceeds {self.pairs[i][1]} ({self.scale * h}x{self.scale * w} usable)")
        rng = np.random.default_rng([self.seed, self.epoch, i])
        return int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))


def _crop(img: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    y, x, h, w = box
    return img[:, y : y + h, x : x + w]


def load_div2k(root: str | Path, split: str = "train", scale: int = 4, patch_size: int | None = None,
               seed: int = 0, transform=None) -> DIV2KPairs:
    """Pair every HR image of ``split`` ("train" or "valid") with its bicubic ×``scale`` LR image."""
    if split not in ("train", "valid"):
        raise UserInputError(f"DIV2K split must be 'train' or 'valid', not {split!r}")
    if scale not in (2, 3, 4):
        raise UserInputError(f"DIV2K bicubic scale must be 2, 3 or 4, not {scale}")
    root = Path(root)
    hr_dir = require_dir(root / f"DIV2K_{split}_HR", DIV2K_LAYOUT)
    lr_dir = require_dir(root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}", DIV2K_LAYOUT)
    hr_paths = sorted(hr_dir.glob("*.png"))
    if not hr_paths:
        raise UserInputError(f"missing {hr_dir}/*.png (expected layout: {DIV2K_LAYOUT})")
    pairs = []
    for hr in hr_paths:
        lr = lr_dir / f"{hr.stem}x{scale}.png"
        if not lr.is_file():
            raise UserInputError(f"missing {lr}, the LR image of {hr} (expected layout: {DIV2K_LAYOUT})")
        pairs.append((lr, hr))
    return DIV2KPairs(pairs, scale, patch_size, seed, transform)

"""The enhancer's images: HR photos split by photo, their LR (and blurred LR) inputs, patches.

- ``embedded-photos``: ``sources.SR_PHOTOS`` (train / val / test, none in two splits and none in
  the judge's quality set).
- ``div2k``: ``DIV2K_train_HR`` for training; ``DIV2K_valid_HR``'s first half for validation,
  its second half for test (the paper reports on the validation set).

Inputs are made here from the HR images, as DIV2K's bicubic track makes them: LR = MATLAB
bicubic ``imresize(HR, 1/s)`` stored as uint8; deblurring (§2.1, §4.2) then blurs the LR image
with a Gaussian of σ = ``deblur_sigma`` (uint8 again). The network maps that input to HR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainables.data.degradations import gaussian_blur, imresize, quantise
from trainables.data.image_files import list_images, read_rgb, require_dir, to_tensor
from trainables.data.set5 import modcrop
from trainables.data.sources import SR_PHOTOS
from trainables.errors import UserInputError
from trainables.nima_sr.config import Config

DIV2K_HR_LAYOUT = "<root>/DIV2K_train_HR/*.png and <root>/DIV2K_valid_HR/*.png"


def degrade(hr: torch.Tensor, scale: int, config: Config) -> torch.Tensor:
    """(N, 3, s·h, s·w) HR → the network's (N, 3, h, w) input for ``config.task``."""
    lr = quantise(imresize(hr, 1 / scale))
    return quantise(gaussian_blur(lr, config.deblur_sigma)) if config.task == "deblur" else lr


def photos(config: Config, split: str) -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8) of every HR photo of ``split`` ("train", "val" or "test")."""
    if config.dataset == "embedded-photos":
        return [(s.name, s.load()) for s in SR_PHOTOS[split]]
    root = Path(config.data_root)
    folder = require_dir(root / ("DIV2K_train_HR" if split == "train" else "DIV2K_valid_HR"), DIV2K_HR_LAYOUT)
    paths = list_images(folder)
    if len(paths) < (1 if split == "train" else 2):
        raise UserInputError(f"{folder} holds too few images for the {split} split (expected layout: {DIV2K_HR_LAYOUT})")
    if split != "train":
        half = len(paths) // 2
        paths = paths[:half] if split == "val" else paths[half:]
    return [(p.stem, read_rgb(p)) for p in paths]


@dataclass
class EvalSet:
    """Fixed HR crops of one split and the network's input for each scale."""

    names: list[str]
    hr: torch.Tensor  # (N, 3, eval_size, eval_size)
    inputs: dict[int, torch.Tensor]  # scale → (N, 3, eval_size / s, eval_size / s)


def eval_set(config: Config, split: str) -> EvalSet:
    """``eval_crops`` crops per photo, evenly spaced along its diagonal (the same every run)."""
    size, names, crops = config.eval_size, [], []
    for name, img in photos(config, split):
        h, w = img.shape[:2]
        if min(h, w) < size:
            raise UserInputError(f"{split} image {name} ({h}x{w}) is smaller than eval_size {size}")
        for t in np.linspace(0, 1, config.eval_crops + 2)[1:-1]:  # one crop: the centre
            y, x = round(t * (h - size)), round(t * (w - size))
            names.append(f"{name}@{y},{x}")
            crops.append(to_tensor(img[y:y + size, x:x + size]))
    hr = torch.stack(crops)
    return EvalSet(names, hr, {s: degrade(hr, s, config) for s in config.scales})


class TrainPairs:
    """Aligned random LR/HR patches of the training photos, flipped and rotated (EDSR's
    augmentation), drawn from an explicit generator so a seed gives the same batches anywhere."""

    def __init__(self, config: Config):
        self.patch = config.patch
        self.hr = {s: [] for s in config.scales}
        self.lr = {s: [] for s in config.scales}
        for _, img in photos(config, "train"):
            for s in config.scales:
                hr = to_tensor(modcrop(img, s))[None]
                if min(hr.shape[2:]) < s * self.patch:
                    raise UserInputError(f"a training image ({hr.shape[2]}x{hr.shape[3]}) is smaller than the HR patch {s * self.patch}")
                self.hr[s].append(hr[0])
                self.lr[s].append(degrade(hr, s, config)[0])

    def batch(self, scale: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        p, lrs, hrs = self.patch, [], []
        for _ in range(size):
            i = int(torch.randint(len(self.lr[scale]), (1,), generator=gen))
            lr, hr = self.lr[scale][i], self.hr[scale][i]
            y = int(torch.randint(lr.shape[1] - p + 1, (1,), generator=gen))
            x = int(torch.randint(lr.shape[2] - p + 1, (1,), generator=gen))
            pair = [lr[:, y:y + p, x:x + p], hr[:, scale * y:scale * (y + p), scale * x:scale * (x + p)]]
            flip, rot = torch.randint(2, (2,), generator=gen).tolist()
            if flip:
                pair = [t.flip(-1) for t in pair]
            if rot:
                pair = [t.transpose(-1, -2) for t in pair]
            lrs.append(pair[0])
            hrs.append(pair[1])
        return torch.stack(lrs), torch.stack(hrs)


def dataset_key(config: Config) -> dict:
    """What the enhancer's data depends on (a stage key part)."""
    return {"dataset": config.dataset, "root": str(Path(config.data_root).resolve()) if config.data_root else None,
            "task": config.task, "deblur_sigma": config.deblur_sigma if config.task == "deblur" else None}

"""Data of ``fidelity`` (seed 004): the two datasets, their splits and the degradations of §3.2.

- ``embedded-photo-crops``: built in (20 classes), needs no stage.
- ``caltech256``: read from ``data_root``, 60 images per class of which 12 validate (§3.1: 20 %
  of the training images), the rest test; squashed to ``image_size``² once by the
  ``fidelity-data`` stage (``folder`` below; None for the embedded set).

Conditions (columns of Table 5.1): ``clean``, AWGN ``s0.1`` … ``s0.5`` (σ in [0, 1] units) and
the spatially varying ``ramp1d`` / ``ramp2d`` (σ rising linearly from 0 to the largest σ along
a random axis / with the distance from a random pixel).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress
from trainables.data import embedded_crops
from trainables.data.classification import capped, stored_split
from trainables.data.degradations import awgn, noise_ramp_map, quantise, spatially_varying_awgn

Data = tuple[torch.Tensor, torch.Tensor]  # uint8 (N, 3, S, S) images, int64 (N,) labels
RAMPS = ("ramp1d", "ramp2d")


def data_key(config) -> dict:
    """What the images of every split depend on (every stage's key holds it)."""
    root = str(Path(config.data_root).expanduser().resolve()) if config.data_root else None
    return {"dataset": config.dataset, "root": root, "size": config.image_size, "train_images": config.train_images,
            "eval_images": config.eval_images, "seed": config.seed}


def caltech_arrays(config, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Caltech-256 squashed to ``image_size``², split 48 / 12 / rest per class (§3.1)."""
    from trainables.data.classification import stratified_split
    from trainables.data.real import load_real

    ds = load_real("caltech256", config.data_root)
    split = stratified_split(ds.targets, train=48, val=12, test=None, seed=config.seed)
    arrays = {"classes": np.asarray(ds.classes)}
    for name, idx in split.items():
        images = []
        for k, i in enumerate(idx):
            img = F.interpolate(ds[i][0][None], size=(config.image_size,) * 2, mode="bilinear", antialias=True)
            images.append(img.clamp(0, 1).mul(255).round().byte()[0])
            if progress and (k + 1) % 1000 == 0:
                progress(f"caltech256 {name}: {k + 1}/{len(idx)} images")
        arrays[f"x_{name}"] = torch.stack(images).numpy()
        arrays[f"y_{name}"] = np.asarray([ds.targets[i] for i in idx], dtype=np.int64)
    return arrays


def load_split(config, split: str, folder: Path | None) -> Data:
    """``train``/``val``/``test`` as uint8 images and labels, capped (evenly spaced) at
    ``train_images`` / ``eval_images``."""
    cap = config.train_images if split == "train" else config.eval_images
    if folder is not None:
        return stored_split(folder, split, cap)
    x, y = embedded_crops.load(split, embedded_crops.CropsSpec(seed=config.seed)).tensors
    return capped(x.mul(255).round().byte(), y, cap)


def class_names(config, folder: Path | None) -> list[str]:
    if folder is None:
        return embedded_crops.classes()
    with np.load(folder / "data.npz") as f:
        return [str(c) for c in f["classes"]]


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255.0)


def conditions(config) -> list[str]:
    return ["clean", *(f"s{s:g}" for s in config.sigmas), *RAMPS]


def degrade(clean: torch.Tensor, condition: str, config, generator: torch.Generator) -> torch.Tensor:
    """One condition of Table 5.1 applied to [0, 1] images (each ramp drawn per image)."""
    if condition == "clean":
        return clean
    if condition.startswith("s"):
        return quantise(awgn(clean, float(condition[1:]) * 255.0, generator))
    h, w = clean.shape[-2:]
    top = max(config.sigmas) * 255.0
    maps = torch.stack([noise_ramp_map(h, w, 0.0, top, condition[-2:], generator) for _ in range(len(clean))])
    return quantise(spatially_varying_awgn(clean, maps[:, None], generator))


def mixed_noise(clean: torch.Tensor, config, generator: torch.Generator) -> torch.Tensor:
    """Training inputs (setups 2 and 3, the restorer, the method): each image at a σ drawn from
    ``config.levels()`` (clean included), as §3.2.2's mixture."""
    levels = torch.tensor(config.levels())
    sigma = levels[torch.randint(len(levels), (len(clean),), generator=generator)]
    return quantise(awgn(clean, sigma * 255.0, generator))


def eval_sets(x: torch.Tensor, config, split: str, device: torch.device) -> Iterator[tuple[str, torch.Tensor, torch.Tensor, slice]]:
    """Every condition of a split in chunks: ``(condition, clean, degraded, rows)``. Each
    (split, condition) has its own seeded generator: the same images for every method and epoch."""
    for j, cond in enumerate(conditions(config)):
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + 7919 * ("val", "test").index(split) + j)
        for start in range(0, len(x), config.eval_batch):
            rows = slice(start, start + config.eval_batch)
            clean = as_float(x[rows])  # degraded on the CPU: the same images on every device
            yield cond, clean.to(device), degrade(clean, cond, config, gen).to(device), rows

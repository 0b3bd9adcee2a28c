"""Data of ``qrnet`` / ``mqrnet``: the two datasets, their splits, the distortions (§IV-A).

- ``embedded-digits``: built in (10 classes), needs no stage.
- ``caltech101``: read from ``data_root``, squashed to ``image_size``² and split 64/16/20 % per
  class (the paper's 80/20 with 20 % of train for validation) once, by the ``qrnet-data`` stage;
  ``folder`` below is that stage's folder (None for embedded-digits).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress
from trainables.data import embedded_digits
from trainables.data.classification import capped, stored_split
from trainables.data.degradations import awgn, gaussian_blur
from trainables.errors import UserInputError

Data = tuple[torch.Tensor, torch.Tensor]  # uint8 (N, 3, S, S) images, int64 (N,) labels
DATASETS = (embedded_digits.NAME, "caltech101")
KINDS = ("noise", "blur")


# ---------------------------------------------------------------- datasets and splits


def data_key(config) -> dict:
    """What the images of every split depend on (every stage's key holds it)."""
    root = str(Path(config.data_root).expanduser().resolve()) if config.data_root else None
    return {"dataset": config.dataset, "root": root, "size": config.image_size,
            "train_images": config.train_images, "seed": config.seed}


def caltech_arrays(config, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Caltech101 as uint8 images squashed to ``image_size``², labels and the per-class split
    (``x_train``, ``y_train``, ... and ``n_classes``): what the data stage saves."""
    from trainables.data.classification import stratified_split
    from trainables.data.real import load_real

    ds = load_real("caltech101", config.data_root)
    split = stratified_split(ds.targets, train=0.64, val=0.16, test=None, seed=config.seed)
    arrays = {"n_classes": np.asarray(len(ds.classes))}
    for name, idx in split.items():
        images = []
        for k, i in enumerate(idx):
            img = ds[i][0][None]
            img = F.interpolate(img, size=(config.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
            images.append(img.clamp(0, 1).mul(255).round().byte()[0])
            if progress and (k + 1) % 500 == 0:
                progress(f"caltech101 {name}: {k + 1}/{len(idx)} images")
        arrays[f"x_{name}"] = torch.stack(images).numpy()
        arrays[f"y_{name}"] = np.asarray([ds.samples[i][1] for i in idx], dtype=np.int64)
    return arrays


def load_split(config, split: str, folder: Path | None) -> Data:
    """``train``/``val``/``test`` as uint8 images and labels; train capped at ``train_images``,
    val and test at ``eval_images`` (evenly spaced, so every class stays in). ``folder``: the
    data stage's (None for embedded-digits)."""
    cap = config.train_images if split == "train" else config.eval_images
    if config.dataset != embedded_digits.NAME:
        return stored_split(folder, split, cap)
    x, y = embedded_digits.load(split, embedded_digits.DigitsSpec(seed=config.seed, size=config.image_size)).tensors
    return capped(x.mul(255).round().byte(), y, cap)


def num_classes(config, folder: Path | None) -> int:
    if config.dataset == embedded_digits.NAME:
        return 10
    with np.load(folder / "data.npz") as f:
        return int(f["n_classes"])


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255.0)


# ---------------------------------------------------------------- distortions (§IV-A)


def levels_of(config, kind: str) -> tuple[float, ...]:
    return {"noise": config.noise_levels, "blur": config.blur_levels}[kind]


def distort(x: torch.Tensor, kind: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """AWGN (σ in 0–255 units) or Gaussian blur (kernel 4σ−1, the paper's rule) of [0, 1] images."""
    if kind == "noise":
        return awgn(x, level, generator)
    if kind == "blur":
        return gaussian_blur(x, level, rule="qrnet")
    raise UserInputError(f"unknown distortion {kind!r} (known: {', '.join(KINDS)})")


def sample_distortion(config, kinds: tuple[str, ...], generator: torch.Generator) -> tuple[str, float]:
    """Algorithm 1: a random type d ∈ D, then a random level p ∈ P_d (one per batch)."""
    kind = kinds[int(torch.randint(len(kinds), (1,), generator=generator))]
    levels = levels_of(config, kind)
    return kind, levels[int(torch.randint(len(levels), (1,), generator=generator))]


def half_distorted_batch(clean: torch.Tensor, config, kinds: tuple[str, ...], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, str, float]:
    """``b_x_train = [b_x*, G(b_x*, d, p)]``, ``b_x_target = [b_x*, b_x*]``: half stays clean."""
    kind, level = sample_distortion(config, kinds, generator)
    return torch.cat([clean, distort(clean, kind, level, generator)]), torch.cat([clean, clean]), kind, level


def eval_sets(x: torch.Tensor, config, kinds: tuple[str, ...], split: str,
              device: torch.device) -> Iterator[tuple[str, float, torch.Tensor, torch.Tensor, slice]]:
    """Every (type, level) version of a split, in chunks: ``(kind, level, clean, distorted, rows)``.
    Each (split, type, level) has its own seeded generator, so the images are the same for every
    method and every epoch."""
    for kind in kinds:
        for j, level in enumerate(levels_of(config, kind)):
            gen = torch.Generator().manual_seed(config.seed * 1_000_003 + 7919 * ("val", "test").index(split) + 97 * KINDS.index(kind) + j)
            for start in range(0, len(x), config.eval_batch):
                rows = slice(start, start + config.eval_batch)
                clean = as_float(x[rows])  # distorted on the CPU: the same images on every device
                distorted = distort(clean, kind, level, gen)
                yield kind, level, clean.to(device), distorted.to(device), rows

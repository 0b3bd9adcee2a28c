"""Image classification sets read from a local copy: Caltech101, Caltech256, any ImageFolder root.

Layouts (torchvision's, so a root prepared for ``torchvision.datasets`` works unchanged)::

    Caltech101:   <root>/caltech101/101_ObjectCategories/<class>/image_0001.jpg
    Caltech256:   <root>/caltech256/256_ObjectCategories/<NNN.class>/<NNN>_0001.jpg
    ImageFolder:  <root>/<class>/**/*.{jpg,png,...}

Classes, label indices and sample order match ``torchvision.datasets.Caltech101`` /
``Caltech256`` / ``ImageFolder``: sorted class folders; Caltech101 drops ``BACKGROUND_Google``
(not a real class), Caltech256 keeps ``257.clutter`` (257 classes). Torchvision's
Faces→Faces_2 style renames only concern the Caltech101 *annotation* folders, which a
category label never reads. The torchvision Caltech classes themselves are not called: even
with ``download=False`` they create ``<root>/caltech101`` on disk, and they rebuild file names
from per-folder counts instead of listing the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from trainables.data.image_files import read_tensor, require_dir
from trainables.errors import UserInputError

CALTECH101_LAYOUT = "<root>/caltech101/101_ObjectCategories/<class>/image_NNNN.jpg"
CALTECH256_LAYOUT = "<root>/caltech256/256_ObjectCategories/<NNN.class>/NNN_NNNN.jpg"
IMAGE_FOLDER_LAYOUT = "<root>/<class>/*.{jpg,jpeg,png,ppm,bmp,pgm,tif,tiff,webp}"


class ImageClassificationSet(Dataset):
    """``ds[i]`` is ``(float32 RGB (3, H, W) in [0, 1], label)``; grey images come back as RGB."""

    def __init__(self, samples: list[tuple[Path, int]], classes: list[str], transform=None):
        self.samples = samples
        self.classes = classes
        self.transform = transform

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        img = read_tensor(path)
        return (self.transform(img) if self.transform is not None else img), label


def _caltech(folder: Path, layout: str, drop: set[str], transform) -> ImageClassificationSet:
    require_dir(folder, layout)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in drop)
    if not classes:
        raise UserInputError(f"missing class folders in {folder}/ (expected layout: {layout})")
    samples = []
    for label, name in enumerate(classes):
        # torchvision counts only .jpg: Caltech256 class folders hold a few stray non-image files.
        files = sorted(p for p in (folder / name).iterdir() if p.suffix == ".jpg")
        if not files:
            raise UserInputError(f"missing images in {folder / name}/ (expected layout: {layout})")
        samples += [(p, label) for p in files]
    return ImageClassificationSet(samples, classes, transform)


def load_caltech101(root: str | Path, transform=None) -> ImageClassificationSet:
    """Caltech101 (101 classes, ~8.7k images) from a torchvision-style root."""
    folder = Path(root) / "caltech101" / "101_ObjectCategories"
    return _caltech(folder, CALTECH101_LAYOUT, {"BACKGROUND_Google"}, transform)


def load_caltech256(root: str | Path, transform=None) -> ImageClassificationSet:
    """Caltech256 (257 classes including clutter, ~30.6k images) from a torchvision-style root."""
    folder = Path(root) / "caltech256" / "256_ObjectCategories"
    return _caltech(folder, CALTECH256_LAYOUT, set(), transform)


def load_image_folder(root: str | Path, transform=None) -> ImageClassificationSet:
    """Any ``<root>/<class>/...`` tree, indexed exactly as ``torchvision.datasets.ImageFolder``."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    root = require_dir(Path(root), IMAGE_FOLDER_LAYOUT)
    try:
        classes, class_to_idx = find_classes(str(root))
        samples = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as e:  # "no class folder" / "no valid file for class X"
        raise UserInputError(f"{e} (expected layout: {IMAGE_FOLDER_LAYOUT})") from None
    return ImageClassificationSet([(Path(p), y) for p, y in samples], classes, transform)


def stratified_split(
    labels: list[int] | np.ndarray,
    train: int | float = 30,
    val: int | float = 0,
    test: int | float | None = None,
    seed: int = 0,
) -> dict[str, list[int]]:
    """Per-class random split into sorted index lists ``{"train", "val", "test"}``.

    Each size is per class: an int is a count (the Caltech protocol is ``train=30``), a float
    in (0, 1) a fraction of that class, rounded. ``test=None`` takes the rest of each class; a
    number caps it. The same labels and seed always give the same split.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):  # sorted, so the rng is consumed in a fixed order
        idx = np.flatnonzero(labels == c)
        n = len(idx)
        n_train, n_val = _size(train, n), _size(val, n)
        if n_train + n_val > n:
            raise UserInputError(f"class {c} has {n} samples, fewer than train+val = {n_train + n_val}")
        rest = n - n_train - n_val
        n_test = rest if test is None else min(rest, _size(test, n))
        idx = rng.permutation(idx)
        out["train"] += idx[:n_train].tolist()
        out["val"] += idx[n_train : n_train + n_val].tolist()
        out["test"] += idx[n_train + n_val : n_train + n_val + n_test].tolist()
    return {k: sorted(v) for k, v in out.items()}


def _size(spec: int | float, n: int) -> int:
    if isinstance(spec, float):
        if not 0.0 <= spec <= 1.0:
            raise UserInputError(f"split fraction {spec} is not in [0, 1]")
        return int(round(spec * n))
    if spec < 0:
        raise UserInputError(f"split count {spec} is negative")
    return int(spec)


def stored_split(folder: Path, split: str, cap: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A split a data stage stored as ``x_<split>`` / ``y_<split>`` in ``folder/data.npz``, capped."""
    with np.load(folder / "data.npz") as f:
        return capped(torch.from_numpy(f[f"x_{split}"]), torch.from_numpy(f[f"y_{split}"]), cap)


def capped(x: torch.Tensor, y: torch.Tensor, cap: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``cap`` samples, evenly spaced: a class-sorted split keeps every class."""
    if cap is None or cap >= len(y):
        return x, y
    keep = torch.linspace(0, len(y) - 1, cap).round().long()
    return x[keep], y[keep]

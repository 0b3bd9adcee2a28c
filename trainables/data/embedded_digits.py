"""The "embedded-digits" classification set: scikit-learn's 1,797 handwritten digits (UCI).

The 8×8 scans are upsampled bicubically to ``size``×``size`` and repeated to 3 channels, so
classification schemes run the same RGB models on them as on Caltech. The split is
stratified, seeded and fixed: train 60%, val 15%, test 25% of each class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import TensorDataset

from trainables.cache import built_arrays
from trainables.data.classification import stratified_split
from trainables.errors import UserInputError

NAME = "embedded-digits"
SPLITS = ("train", "val", "test")
SOURCE = {
    "name": "digits",
    "origin": "scikit-learn wheel, sklearn.datasets.load_digits",
    "licence": "CC-BY-4.0 (UCI ML hand-written digits, Alpaydin & Kaynak)",
    "attribution": "E. Alpaydin, C. Kaynak, Optical Recognition of Handwritten Digits, UCI ML Repository",
}


@dataclass(frozen=True)
class DigitsSpec:
    seed: int = 0
    size: int = 32
    val_frac: float = 0.15
    test_frac: float = 0.25
    version: int = 1


def _build(spec: DigitsSpec) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    scans = (digits.images / 16.0 * 255.0).astype(np.float32)  # 0..16 ink levels → 0..255
    big = np.stack([cv2.resize(s, (spec.size, spec.size), interpolation=cv2.INTER_CUBIC) for s in scans])
    images = np.clip(big, 0, 255).round().astype(np.uint8)
    split = stratified_split(digits.target, train=1 - spec.val_frac - spec.test_frac, val=spec.val_frac, test=None, seed=spec.seed)
    arrays = {}
    for name in SPLITS:
        arrays[f"x_{name}"] = images[split[name]]
        arrays[f"y_{name}"] = digits.target[split[name]].astype(np.int64)
    return arrays


def _arrays(spec: DigitsSpec) -> dict[str, np.ndarray]:
    return built_arrays(NAME, spec, lambda: _build(spec))


def load(split: str, spec: DigitsSpec = DigitsSpec()) -> TensorDataset:
    """``split`` in train/val/test → TensorDataset of (float32 (3, H, W) in [0, 1], int64 label)."""
    if split not in SPLITS:
        raise UserInputError(f"unknown split '{split}' of {NAME} (choose from: {', '.join(SPLITS)})")
    arrays = _arrays(spec)
    x = torch.from_numpy(arrays[f"x_{split}"]).float().div(255.0)[:, None].expand(-1, 3, -1, -1).contiguous()
    return TensorDataset(x, torch.from_numpy(arrays[f"y_{split}"]))


def card(spec: DigitsSpec = DigitsSpec()) -> dict:
    arrays = _arrays(spec)
    return {
        "name": NAME,
        "kind": "classification",
        "description": __doc__.strip().splitlines()[0],
        "n_classes": int(len(np.unique(arrays["y_train"]))),
        "image_size": [3, spec.size, spec.size],
        **{f"n_{s}": int(len(arrays[f"y_{s}"])) for s in SPLITS},
        "spec": asdict(spec),
        "sources": [SOURCE],
    }

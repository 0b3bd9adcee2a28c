"""Data of ``fsr_gan``: the retrieval set, its landmark split, and the small queries of §5.2.

A query is downsampled by 1/k per side (area ratio 1/k², k = 2 … 8: 1/4 … 1/64), stored as a
small uint8 image (what a phone would send; its PNG size is Fig. 8's x-axis), then resized with
bicubic up to the extractor's square input, as the large image is. Every resize is MATLAB's
bicubic (``imresize``, antialiased when shrinking).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from trainables.data import embedded_landmarks
from trainables.data.degradations import imresize
from trainables.data.image_files import to_tensor
from trainables.data.landmark_splits import Split, landmark_of, make_split, query_indices, train_views
from trainables.data.retrieval_set import RetrievalSet
from trainables.data.sources import DISTRACTORS

__all__ = ["load_dataset", "dataset_key", "split_of", "query_indices", "train_views", "distractor_mask",
           "to_input", "downscaled", "small_query_input", "png_bits", "random_crop"]


def load_dataset(config) -> RetrievalSet:
    if config.dataset == embedded_landmarks.NAME:
        return embedded_landmarks.load()
    from trainables.data.real import load_real

    return load_real(config.dataset, config.data_root)


def dataset_key(config) -> dict:
    if config.dataset == embedded_landmarks.NAME:
        return {"dataset": config.dataset, "spec": repr(embedded_landmarks.LandmarksSpec())}
    return {"dataset": config.dataset, "root": str(Path(config.data_root).resolve())}


def split_of(config, rset: RetrievalSet) -> Split:
    """The seed's landmark split: seed s tests on fold s mod n_folds; validation is one fixed group."""
    return make_split([landmark_of(q) for q in rset.qimlist], config.split, config.n_folds)


def distractor_mask(rset: RetrievalSet) -> np.ndarray:
    """True for the embedded set's distractor views (Fig. 7 adds them; Fig. 6 leaves them out).

    A real revisitop set has none here (its +1M distractors are a separate download)."""
    names = {s.name for s in DISTRACTORS}
    return np.array([landmark_of(n) in names for n in rset.imlist])


def to_input(image: np.ndarray, side: int) -> torch.Tensor:
    """RGB uint8 (H, W, 3) → float (3, side, side) in [0, 1]: squashed to the extractor's square."""
    return imresize(to_tensor(image)[None], size=(side, side))[0].clamp(0, 1)


def downscaled(image: np.ndarray, k: int) -> np.ndarray:
    """The small query: 1/k per side (area 1/k²), quantised to uint8 like a stored image."""
    h, w = image.shape[:2]
    small = imresize(to_tensor(image)[None], size=(max(1, round(h / k)), max(1, round(w / k))))[0]
    return (small.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def small_query_input(image: np.ndarray, k: int, side: int) -> torch.Tensor:
    """§5.2: downsample by 1/k, then bicubic back up to the extractor's input."""
    return to_input(downscaled(image, k), side)


def png_bits(image: np.ndarray) -> int:
    """Size of the image as a PNG file, in bits (Fig. 8: what sending the query costs)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return 8 * len(buf)


def random_crop(image: np.ndarray, min_area: float, generator: torch.Generator) -> np.ndarray:
    """A crop keeping ``min_area``–1 of the image's area, the aspect kept (more training pairs per view)."""
    h, w = image.shape[:2]
    f = float(torch.empty(()).uniform_(min_area, 1.0, generator=generator)) ** 0.5
    ch, cw = max(1, int(h * f)), max(1, int(w * f))
    y = int(torch.randint(h - ch + 1, (), generator=generator))
    x = int(torch.randint(w - cw + 1, (), generator=generator))
    return image[y:y + ch, x:x + cw]

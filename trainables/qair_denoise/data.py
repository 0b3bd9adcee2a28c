"""Data of ``qair_denoise``, ``qair_sr`` and ``qair_joint``: the retrieval set, landmark-disjoint
splits, patches, the degradation (σ-noise, ×4 downscaling, or either), SIFT AP.

Splits (seed 000 §6.1: "no overlap in the content between the training and testing sets"):
landmarks, not images, are split; see ``trainables.data.landmark_splits``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from trainables.data import embedded_landmarks
from trainables.data.degradations import awgn, imresize, quantise
from trainables.data.image_files import to_tensor, to_uint8
from trainables.data.landmark_splits import Split, landmark_of, make_split
from trainables.data.retrieval_set import RetrievalSet
from trainables.errors import UserInputError
from trainables.metrics import average_precision, ranks_from_scores
from trainables.retrieval import SiftBackend, SiftConfig, build_backend, index_database

REAL = ("roxford5k", "rparis6k")


def load_dataset(config) -> RetrievalSet:
    if config.dataset == embedded_landmarks.NAME:
        return embedded_landmarks.load(landmarks_spec(config))
    from trainables.data.real import load_real

    return load_real(config.dataset, config.data_root)


def landmarks_spec(config) -> embedded_landmarks.LandmarksSpec:
    return embedded_landmarks.LandmarksSpec(
        db_views_per_landmark=config.db_views, queries_per_landmark=config.queries_per_landmark,
        views_per_distractor=config.distractor_views, view_hw=tuple(config.view_hw))


def dataset_key(config) -> dict:
    if config.dataset == embedded_landmarks.NAME:
        return {"dataset": config.dataset, **asdict(landmarks_spec(config))}
    return {"dataset": config.dataset, "root": str(Path(config.data_root).resolve())}


def splits_of(config, rset: RetrievalSet) -> list[Split]:
    """The splits a trial runs (``config.splits``)."""
    landmarks = [landmark_of(q) for q in rset.qimlist]
    return [make_split(landmarks, k, config.n_folds) for k in config.splits]


def random_patches(images: list[torch.Tensor], n: int, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random ``size``² crops of uint8 (3, H, W) images → (indices, float (n, 3, size, size))."""
    idx = torch.randint(len(images), (n,), generator=generator)
    crops = []
    for i in idx.tolist():
        h, w = images[i].shape[1:]
        y = int(torch.randint(h - size + 1, (1,), generator=generator))
        x = int(torch.randint(w - size + 1, (1,), generator=generator))
        crops.append(images[i][:, y:y + size, x:x + size])
    return idx, torch.stack(crops).float().div_(255.0)


def draw_sigma(config, generator: torch.Generator) -> float:
    """``sigma``, or with ``sigma_max`` set a σ drawn uniformly in [sigma, sigma_max] (Table 5)."""
    if config.sigma_max is None:
        return config.sigma
    u = torch.rand((), generator=generator, device=generator.device).item()
    return config.sigma + u * (config.sigma_max - config.sigma)


def noisy(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """AWGN σ, clipped and quantised to 8 bits like a saved photo (what the evaluation sees)."""
    return quantise(awgn(x, sigma, generator))


def degrade(config, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The enhancer's input for clean ``(N, 3, H, W)`` images, 8-bit: σ-noisy (denoising);
    MATLAB-bicubic ×``scale`` smaller (SR; ``clean`` a multiple of ``scale``); or, for the joint
    network (§6.8), either of the two at even odds, the small image at one of ``sr_factors`` and
    bicubic-upsampled back to the clean size."""
    if config.TASK == "sr":
        return quantise(imresize(clean, 1 / config.scale))
    if config.TASK == "joint" and torch.rand((), generator=generator).item() < 0.5:
        factor = config.sr_factors[int(torch.randint(len(config.sr_factors), (), generator=generator))]
        return upsampled_small(clean, factor)
    return noisy(clean, draw_sigma(config, generator), generator)


def upsampled_small(clean: torch.Tensor, factor: float) -> torch.Tensor:
    """A low-resolution photo (×``factor`` smaller, 8-bit) bicubic-upsampled to the clean size, 8-bit."""
    return quantise(imresize(quantise(imresize(clean, 1 / factor)), size=tuple(clean.shape[-2:])))


def uint8_chw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def local_feature_backend(config, rset: RetrievalSet, progress=None) -> SiftBackend:
    """SIFT (the paper's) or ORB (§6.5's second feature, standing in for SURF), same pipeline."""
    backend = build_backend(config.local_feature, config=SiftConfig(n_features=config.sift_features))
    index_database(backend, rset, progress)  # descriptors cached on disk across trials
    return backend


def query_ap(backend: SiftBackend, rset: RetrievalSet, i: int, image: np.ndarray) -> float:
    """True AP of one query image, revisitop Medium: positives easy+hard, junk ignored."""
    g = rset.gnd[i]
    positives = list(g["easy"]) + list(g["hard"])
    ranking = ranks_from_scores(backend.scores(image, positives, g["junk"])[None])[:, 0]
    return average_precision(ranking, positives, g["junk"])


def enhance(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """RGB uint8 → RGB uint8, the full image at once (same size, or ×scale for SR; no pad or crop)."""
    model.eval()
    with torch.no_grad():
        return to_uint8(model(to_tensor(image)[None].to(next(model.parameters()).device))[0].cpu())


def classical_denoise(method: str, image: np.ndarray, sigma: float) -> np.ndarray:
    """NLM (σ-aware h, skimage's fast mode) or BM3D (optional extra) on an RGB uint8 image."""
    x = image.astype(np.float32) / 255.0
    if method == "nlm":
        from skimage.restoration import denoise_nl_means

        # h = 0.6σ: the best PSNR of {0.6, 0.8, 1.0}σ on an embedded query at σ=50
        y = denoise_nl_means(x, h=0.6 * sigma / 255, sigma=sigma / 255, fast_mode=True,
                             patch_size=5, patch_distance=6, channel_axis=-1)
    elif method == "bm3d":
        y = bm3d_module().bm3d_rgb(x, sigma_psd=sigma / 255)
    else:
        raise UserInputError(f"classical denoiser must be 'nlm' or 'bm3d', got {method!r}")
    return (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)


def bm3d_module():
    try:
        import bm3d
    except ImportError:
        raise UserInputError("classical='bm3d' needs the optional extra: pip install 'tasksweep[bm3d]'") from None
    return bm3d

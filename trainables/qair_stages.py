"""The upstream stages of ``qair_denoise`` (seed 000 §6.2.1), each cached by ``cached_stage``.

- ``pretrain``: DnCNN trained with MSE on AWGN-σ patches of the database images (the "NN" row).
- ``labels``: every query in 10 distorted versions (noise σ 3..44, blur σ 0.5..2, the stage-a
  DnCNN and a classical denoiser applied to the σ-noisy query), each labelled with its true
  SIFT AP; plus the σ-noisy queries every trial evaluates on and the per-query baselines.
- ``qair-s<k>``: the QAIR head of split k, trained with MAE on the train landmarks' labels.

Keys hold everything a stage's output depends on (dataset, sizes, seed, code version) and
nothing the sweep searches (λ, lr, epochs), so every trial of a sweep shares them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from trainables.data import embedded_landmarks
from trainables.data.degradations import awgn, gaussian_blur
from trainables.data.image_files import read_rgb, to_tensor, to_uint8
from trainables.data.retrieval_set import RetrievalSet
from trainables.device import compute_device
from trainables.errors import UserInputError
from trainables.metrics import average_precision, psnr, ranks_from_scores, ssim
from trainables.models import DnCNN, QAIRHead
from trainables.retrieval import SiftBackend, SiftConfig, index_database
from trainables.stages import cached_stage

Progress = Callable[[str], None] | None
VERSION = {"pretrain": 1, "labels": 1, "qair": 1}  # bump when a stage's code changes its output
LABEL_NOISE = (3.0, 8.0, 14.0, 26.0, 44.0)  # §6.2.1, 0–255 units
LABEL_BLUR = (0.5, 1.0, 2.0)
REAL = ("roxford5k", "rparis6k")
PRETRAIN_IMAGES = 300  # at most this many database images (evenly spaced) held in memory


# ---------------------------------------------------------------- data and splits


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


def landmark_of(query_name: str) -> str:
    """``astronaut_query3`` → ``astronaut`` (embedded), ``all_souls_000013`` → ``all_souls`` (ROxford)."""
    return re.sub(r"_(query)?\d+$", "", query_name)


@dataclass(frozen=True)
class Split:
    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]


def make_split(landmarks: list[str], index: int, n_folds: int) -> Split:
    """Landmark-disjoint train / val / test (§6.1: no content overlap between train and test).

    One fixed shuffle of the landmark names; its first sixth is the validation group of every
    split (λ is chosen there), the rest is cut into ``n_folds`` test folds. Split k tests on
    fold k and trains on the other folds. Validation never overlaps any split's test set, so
    picking λ by validation mAP does not peek at the test landmarks.
    """
    names = [str(n) for n in np.random.default_rng(0).permutation(sorted(set(landmarks)))]
    n_val = max(1, len(names) // 6)
    folds = np.array_split(names[n_val:], n_folds)
    if not 0 <= index < n_folds or min(len(f) for f in folds) == 0:
        raise UserInputError(f"split {index} is not valid for {len(names)} landmarks in {n_folds} folds")
    train = [str(n) for k, f in enumerate(folds) if k != index for n in f]
    return Split(index, tuple(train), tuple(names[:n_val]), tuple(str(n) for n in folds[index]))


def query_indices(rset: RetrievalSet, landmarks: tuple[str, ...]) -> list[int]:
    return [i for i, q in enumerate(rset.qimlist) if landmark_of(q) in landmarks]


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
    return awgn(x, sigma, generator).mul(255).round().div(255)


def uint8_chw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def sift_backend(config, rset: RetrievalSet, progress: Progress = None) -> SiftBackend:
    backend = SiftBackend(SiftConfig(n_features=config.sift_features))
    index_database(backend, rset, progress)  # descriptors cached on disk across trials
    return backend


def query_ap(backend: SiftBackend, rset: RetrievalSet, i: int, image: np.ndarray) -> float:
    """True AP of one query image, revisitop Medium: positives easy+hard, junk ignored."""
    ranking = ranks_from_scores(backend.scores(image)[None])[:, 0]
    g = rset.gnd[i]
    return average_precision(ranking, list(g["easy"]) + list(g["hard"]), g["junk"])


# ---------------------------------------------------------------- (a) pretrain DnCNN


def pretrain_key(config) -> dict:
    return {"version": VERSION["pretrain"], "data": dataset_key(config), "sigma": config.sigma, "sigma_max": config.sigma_max,
            "depth": config.dncnn_depth, "width": config.dncnn_width, "patch": config.patch,
            "batch": config.batch_size, "steps": config.pretrain_steps, "lr": config.pretrain_lr,
            "seed": config.seed}


def pretrain_stage(config, progress: Progress = None) -> Path:
    def build(out: Path) -> None:
        rset = load_dataset(config)
        picks = np.linspace(0, len(rset.imlist) - 1, min(len(rset.imlist), PRETRAIN_IMAGES)).round().astype(int)
        db = [uint8_chw(rset.load_db(i)) for i in sorted(set(picks.tolist()))]
        torch.manual_seed(config.seed)  # the initial weights
        model = DnCNN(config.dncnn_depth, config.dncnn_width).to(compute_device())
        opt = torch.optim.Adam(model.parameters(), lr=config.pretrain_lr)
        gen = torch.Generator().manual_seed(config.seed)
        model.train()
        for step in range(config.pretrain_steps):
            _, clean = random_patches(db, config.batch_size, config.patch, gen)
            clean = clean.to(compute_device())
            loss = torch.nn.functional.mse_loss(model(noisy(clean, draw_sigma(config, gen), gen)), clean)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if progress and (step + 1) % 100 == 0:
                progress(f"pretrain DnCNN step {step + 1}/{config.pretrain_steps}: mse {loss.item():.5f}")
        torch.save(model.state_dict(), out / "dncnn.pt")

    return cached_stage("qair-pretrain", pretrain_key(config), build, progress)


def load_pretrained(config, progress: Progress = None) -> DnCNN:
    model = DnCNN(config.dncnn_depth, config.dncnn_width)
    model.load_state_dict(torch.load(pretrain_stage(config, progress) / "dncnn.pt", map_location="cpu", weights_only=True))
    return model.to(compute_device())


def denoise(model: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    """RGB uint8 → RGB uint8, the full image at once (DnCNN keeps the size: no pad or crop)."""
    model.eval()
    with torch.no_grad():
        return to_uint8(model(to_tensor(image)[None].to(next(model.parameters()).device))[0].cpu())


# ---------------------------------------------------------------- (b) AP labels


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


def labels_key(config) -> dict:
    return {"version": VERSION["labels"], "pretrain": pretrain_key(config), "classical": config.classical,
            "sift_features": config.sift_features, "noise": LABEL_NOISE, "blur": LABEL_BLUR}


def labels_stage(config, progress: Progress = None) -> Path:
    """``labels.json`` (query, landmark, version, file, ap), ``images/``, ``noisy/`` (the σ-noisy
    queries trials evaluate on) and ``baselines.json`` ({query: {method: {ap, psnr, ssim}}})."""

    def build(out: Path) -> None:
        rset = load_dataset(config)
        backend = sift_backend(config, rset, progress)
        dncnn = load_pretrained(config, progress)
        (out / "images").mkdir()
        (out / "noisy").mkdir()
        labels, baselines = [], {}
        for i, name in enumerate(rset.qimlist):
            clean = rset.load_query(i)
            x = to_tensor(clean)[None]
            gen = torch.Generator().manual_seed(config.seed * 100_003 + i)  # per query: order-free
            sigma = draw_sigma(config, gen)  # the classical denoiser is told the true σ, as BM3D needs
            sigma_noisy = to_uint8(noisy(x, sigma, gen)[0])
            write_png(out / "noisy" / f"{name}.png", sigma_noisy)
            versions = {f"noise{s:g}": to_uint8(noisy(x, s, gen)[0]) for s in LABEL_NOISE}
            versions |= {f"blur{s:g}": to_uint8(gaussian_blur(x, s)[0]) for s in LABEL_BLUR}
            versions["nn"] = denoise(dncnn, sigma_noisy)
            versions[config.classical] = classical_denoise(config.classical, sigma_noisy, sigma)
            aps = {v: query_ap(backend, rset, i, img) for v, img in versions.items()}
            for v, img in versions.items():
                file = f"images/{name}__{v}.png"
                write_png(out / file, img)
                labels.append({"query": name, "landmark": landmark_of(name), "version": v, "file": file, "ap": aps[v]})
            methods = {"clean": (clean, query_ap(backend, rset, i, clean)),
                       "noisy": (sigma_noisy, query_ap(backend, rset, i, sigma_noisy)),
                       "nn": (versions["nn"], aps["nn"]),
                       config.classical: (versions[config.classical], aps[config.classical])}
            baselines[name] = {m: {"ap": ap, "psnr": psnr(to_tensor(img)[None], x), "ssim": ssim(to_tensor(img)[None], x)}
                               for m, (img, ap) in methods.items()}
            if progress and ((i + 1) % 8 == 0 or i + 1 == len(rset.qimlist)):
                progress(f"AP labels: {i + 1}/{len(rset.qimlist)} queries")
        (out / "labels.json").write_text(json.dumps(labels, indent=0))
        (out / "baselines.json").write_text(json.dumps(baselines, indent=1))

    return cached_stage("qair-labels", labels_key(config), build, progress)


def read_labels(folder: Path, landmarks: tuple[str, ...]) -> tuple[list[dict], list[torch.Tensor]]:
    """The labelled images (uint8 (3, H, W)) of ``landmarks``, queries without positives left out."""
    rows = [r for r in json.loads((folder / "labels.json").read_text())
            if r["landmark"] in landmarks and r["ap"] == r["ap"]]  # NaN AP: no positives
    return rows, [uint8_chw(read_rgb(folder / r["file"])) for r in rows]


# ---------------------------------------------------------------- (c) QAIR head per split


def qair_key(config, split: Split) -> dict:
    return {"version": VERSION["qair"], "labels": labels_key(config), "train": split.train,
            "test": split.test, "patch": config.patch, "batch": config.qa_batch_size,
            "steps": config.qa_steps, "lr": config.qa_lr, "seed": config.seed}


def predict_image_ap(head: QAIRHead, image: torch.Tensor, patch: int) -> float:
    """An image's predicted AP: the mean over its non-overlapping patches (§6.2: patch-based)."""
    h, w = image.shape[1:]
    tiles = [image[:, y:y + patch, x:x + patch] for y in range(0, h - patch + 1, patch) for x in range(0, w - patch + 1, patch)]
    with torch.no_grad():  # an image smaller than a patch is judged whole
        return float(head(torch.stack(tiles or [image]).to(next(head.parameters()).device).float().div(255)).mean())


def qair_stage(config, split: Split, progress: Progress = None) -> Path:
    """``qair.pt`` and ``metrics.json``: image-level MAE on the test landmarks (Table 1)."""

    def build(out: Path) -> None:
        folder = labels_stage(config, progress)
        rows, images = read_labels(folder, split.train)
        targets = torch.tensor([r["ap"] for r in rows], dtype=torch.float32, device=compute_device())
        torch.manual_seed(config.seed + 1000 * split.index)
        head = QAIRHead(backbone="small").to(compute_device())
        opt = torch.optim.Adam(head.parameters(), lr=config.qa_lr)
        gen = torch.Generator().manual_seed(config.seed + 1000 * split.index)
        head.train()
        for step in range(config.qa_steps):
            idx, patches = random_patches(images, config.qa_batch_size, config.patch, gen)
            loss = (head(patches.to(compute_device())) - targets[idx.to(compute_device())]).abs().mean()  # Eq. 2: every patch gets its image's AP
            opt.zero_grad()
            loss.backward()
            opt.step()
        head.eval()
        test_rows, test_images = read_labels(folder, split.test)
        errors = [abs(predict_image_ap(head, img, config.patch) - r["ap"]) for r, img in zip(test_rows, test_images)]
        denoised = [e for e, r in zip(errors, test_rows) if r["version"] == "nn"]
        metrics = {"mae": float(np.mean(errors)), "mae_denoised": float(np.mean(denoised)), "last_train_loss": loss.item()}
        if progress:
            progress(f"QAIR head split {split.index}: test MAE {metrics['mae']:.3f} (denoised only {metrics['mae_denoised']:.3f})")
        torch.save(head.state_dict(), out / "qair.pt")
        (out / "metrics.json").write_text(json.dumps(metrics))

    return cached_stage(f"qair-head-s{split.index}", qair_key(config, split), build, progress)


def load_qair(config, split: Split, progress: Progress = None) -> tuple[QAIRHead, dict[str, Any]]:
    folder = qair_stage(config, split, progress)
    head = QAIRHead(backbone="small")
    head.load_state_dict(torch.load(folder / "qair.pt", map_location="cpu", weights_only=True))
    return head.to(compute_device()).eval(), json.loads((folder / "metrics.json").read_text())

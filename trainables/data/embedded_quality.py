"""The "embedded-quality" set: a *technical-quality* stand-in for AVA, built offline.

No aesthetic rating set ships in any wheel, so the NIMA judge of seed 002 is trained here on
what NIMA's own TID2013 variant learns: how distorted a photo is. It is not AVA and says
nothing about aesthetics.

- Photos: ``sources.QUALITY_PHOTOS`` (none of them is an SR photo of seed 002's scheme).
- Each photo gives ``crops_per_photo`` random square regions, resized (area) to ``size``.
- Each crop is kept pristine and distorted by four types at five levels (``DISTORTIONS``).
- The rating rule: a mean opinion from a full-reference measure, ``μ = 1 + 9·SSIM³``, where
  SSIM is the mean over every crop of the set of that crop's distortion type and level (Y
  channel, against each pristine crop), as TID-style ratings follow the distortion and its
  level rather than the photo. (Rating each image by its own SSIM made the rating depend on
  the photo's texture: a judge trained from scratch on 7 photos then ranked held-out photos
  at SRCC 0.45–0.67.) The cube spreads the mild blur and resolution losses SR is about over
  the scale instead of packing them near 10. Then ``raters`` simulated
  raters each give ``round(μ + N(0, rater_sd))`` clipped to 1..10, ``rater_sd`` = 1.4 being
  AVA's mean per-image standard deviation (seed 002 §2.1). Their counts are the image's
  10-bucket rating distribution.

Written in the AVA layout (``AVA.txt`` + ``images/<id>.jpg``, JPEG quality 95 without chroma
subsampling; ratings are computed on the images as stored), so ``load_ava`` reads it like the
real one; ``quality.json`` adds each image's photo, distortion, level and SSIM.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from trainables.cache import built_dataset
from trainables.data.ava import AVASet, load_ava
from trainables.data.degradations import awgn, gaussian_blur, imresize
from trainables.data.image_files import read_rgb, to_tensor, to_uint8
from trainables.data.sources import QUALITY_PHOTOS, licence_card
from trainables.metrics import ssim

NAME = "embedded-quality"
RULE = "μ = 1 + 9·(mean SSIM_Y(distorted, pristine) over the set's crops of the same distortion and level)^ssim_power; ratings round(μ + N(0, rater_sd)) clipped to 1..10"
DISTORTIONS: dict[str, tuple[float, ...]] = {
    "noise": (5.0, 10.0, 20.0, 35.0, 55.0),  # AWGN σ, 0–255 units
    "blur": (0.6, 1.0, 1.6, 2.4, 3.5),  # Gaussian σ, pixels
    "jpeg": (60.0, 35.0, 20.0, 10.0, 5.0),  # libjpeg quality
    "downsample": (1.5, 2.0, 3.0, 4.0, 6.0),  # bicubic down by this factor, then back up
}
TEST_PHOTOS = ("grace_hopper", "camera")  # the judge's held-out photos (2 of 9, ~20 %)
VAL_PHOTOS = ("immunohistochemistry",)  # the judge's epoch is chosen on these


@dataclass(frozen=True)
class QualitySpec:
    seed: int = 0
    crops_per_photo: int = 12
    size: int = 256  # NIMA's resize (seed 002 §2.2.1: 256, then a 192 random crop)
    raters: int = 100
    rater_sd: float = 1.4
    ssim_power: float = 3.0
    version: int = 2  # bump when the generator changes, so old caches are not reused


def distort(x: torch.Tensor, kind: str, level: float, gen: torch.Generator) -> torch.Tensor:
    """One (1, 3, H, W) crop in [0, 1] distorted by ``kind`` at ``level``."""
    if kind == "noise":
        return awgn(x, level, gen)
    if kind == "blur":
        return gaussian_blur(x, level)
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(to_uint8(x[0]), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(level)])
        return to_tensor(cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))[None]
    if kind == "downsample":
        h, w = x.shape[2:]
        small = imresize(x, size=(round(h / level), round(w / level)))
        return imresize(small, size=(h, w)).clamp(0, 1)
    raise ValueError(f"unknown distortion {kind!r}")


def mean_opinion(ssim_y: float, power: float) -> float:
    return 1.0 + 9.0 * float(np.clip(ssim_y, 0.0, 1.0)) ** power


def rating_counts(mu: float, raters: int, sd: float, rng: np.random.Generator) -> np.ndarray:
    """(10,) int counts of ``raters`` simulated ratings around ``mu``."""
    ratings = np.clip(np.rint(rng.normal(mu, sd, raters)), 1, 10).astype(int)
    return np.bincount(ratings - 1, minlength=10)


def _crops(photo: np.ndarray, spec: QualitySpec, rng: np.random.Generator) -> list[np.ndarray]:
    h, w = photo.shape[:2]
    out = []
    for _ in range(spec.crops_per_photo):
        side = int(rng.integers(min(spec.size, min(h, w)), min(h, w) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out.append(cv2.resize(photo[y:y + side, x:x + side], (spec.size, spec.size), interpolation=cv2.INTER_AREA))
    return out


def _write(path: Path, rgb: np.ndarray) -> np.ndarray:
    """Store as the AVA layout wants (JPEG) and return what a reader gets back."""
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    return read_rgb(path)


def build(spec: QualitySpec, out: Path) -> None:
    (out / "images").mkdir(parents=True)
    rng = np.random.default_rng(spec.seed)
    rows = []
    for source in QUALITY_PHOTOS:
        for crop in _crops(source.load(), spec, rng):
            pristine = to_tensor(crop)[None]
            gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
            versions = [("pristine", 0.0, pristine)]
            versions += [(k, lv, distort(pristine, k, lv, gen)) for k, levels in DISTORTIONS.items() for lv in levels]
            for kind, level, img in versions:
                image_id = len(rows) + 1
                stored = _write(out / "images" / f"{image_id}.jpg", to_uint8(img[0]))
                rows.append({"id": image_id, "photo": source.name, "distortion": kind, "level": level,
                             "ssim": round(ssim(to_tensor(stored)[None], pristine, y_channel=True), 5)})
    condition_ssim = {}
    for r in rows:
        condition_ssim.setdefault((r["distortion"], r["level"]), []).append(r["ssim"])
    lines = []
    for r in rows:
        r["condition_ssim"] = round(float(np.mean(condition_ssim[r["distortion"], r["level"]])), 5)
        r["mean_opinion"] = round(mean_opinion(r["condition_ssim"], spec.ssim_power), 4)
        counts = rating_counts(r["mean_opinion"], spec.raters, spec.rater_sd, rng)
        lines.append(" ".join(map(str, [r["id"], r["id"], *counts, 0, 0, 0])))
    (out / "AVA.txt").write_text("\n".join(lines) + "\n")
    (out / "quality.json").write_text(json.dumps(rows, indent=0))


def dataset_root(spec: QualitySpec = QualitySpec()) -> Path:
    """Build once (atomically, safe against concurrent trials) and return the AVA-layout root."""
    return built_dataset(NAME, spec, lambda out: build(spec, out), "quality.json")


def load(spec: QualitySpec = QualitySpec()) -> tuple[AVASet, list[dict]]:
    """The set through the AVA reader, and each image's row of ``quality.json`` (same order)."""
    root = dataset_root(spec)
    ava = load_ava(root)
    rows = {r["id"]: r for r in json.loads((root / "quality.json").read_text())}
    return ava, [rows[i] for i in ava.ids]


def card(spec: QualitySpec = QualitySpec()) -> dict:
    ava, rows = load(spec)
    means = ava.mean_scores()
    by_kind = {k: round(float(np.mean([m for m, r in zip(means, rows) if r["distortion"] == k])), 3)
               for k in ["pristine", *DISTORTIONS]}
    return {
        "name": NAME,
        "kind": "technical-quality ratings (a stand-in for AVA; not aesthetic ratings)",
        "description": "Crops of wheel photos, pristine and distorted, rated by a documented full-reference rule, AVA layout.",
        "rule": RULE,
        "rule_parameters": {"raters": spec.raters, "rater_sd": spec.rater_sd, "ssim_power": spec.ssim_power},
        "distortions": {k: list(v) for k, v in DISTORTIONS.items()},
        "n_images": len(rows),
        "n_photos": len(QUALITY_PHOTOS),
        "test_photos": list(TEST_PHOTOS),
        "val_photos": list(VAL_PHOTOS),
        "mean_score": {"min": round(float(means.min()), 3), "max": round(float(means.max()), 3),
                       "std": round(float(means.std()), 3), "by_distortion": by_kind},
        "spec": asdict(spec),
        "path": str(dataset_root(spec)),
        "sources": licence_card(QUALITY_PHOTOS),
    }

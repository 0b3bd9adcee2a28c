"""The "embedded-landmarks" retrieval benchmark, built offline from photos shipped in wheels.

Each source photo is a landmark. Database images and queries are distinct synthetic *views* of
it: a random region (scale change), rotated and perspective-warped (viewpoint change), with
photometric jitter (lighting change). Because every view's footprint in the source photo is
known, the ground truth follows the revisited-Oxford rules from geometry alone:

- easy:  the database view shows >= 50% of the query region at a similar scale (ratio <= 1.8);
- hard:  it shows >= 25% of it, or >= 50% at a strong scale change;
- junk:  it shows some (> 0) but under 25% of it (ignored by the metric);
- other views of the same landmark with no overlap, and all distractor views, are negatives.

The result is written in the ROxford5k layout, so ``load_revisitop`` reads it like the real one.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from trainables.cache import built_dataset
from trainables.data.retrieval_set import RetrievalSet, load_revisitop
from trainables.data.sources import DISTRACTORS, LANDMARKS, licence_card

NAME = "embedded-landmarks"


@dataclass(frozen=True)
class LandmarksSpec:
    seed: int = 0
    db_views_per_landmark: int = 18
    queries_per_landmark: int = 6
    views_per_distractor: int = 6
    view_hw: tuple[int, int] = (240, 320)
    region_frac: tuple[float, float] = (0.3, 0.8)  # region height / source min side
    max_rotation_deg: float = 30.0
    perspective: float = 0.12  # corner jitter, fraction of the region's height
    photometric: float = 0.25  # strength of brightness/contrast/gamma/colour jitter
    query_margin: float = 0.12  # context around a query's bbx, fraction of the view
    jpeg_quality: int = 92
    version: int = 1  # bump when the generator changes, so old caches are not reused


def _sample_quad(rng: np.random.Generator, src_hw: tuple[int, int], spec: LandmarksSpec) -> np.ndarray:
    """A convex 4-corner footprint (TL, TR, BR, BL) in source pixel coordinates."""
    h_src, w_src = src_hw
    out_h, out_w = spec.view_hw
    for _ in range(100):
        h = rng.uniform(*spec.region_frac) * min(h_src, w_src)
        w = h * out_w / out_h
        angle = np.deg2rad(rng.uniform(-spec.max_rotation_deg, spec.max_rotation_deg))
        rect = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
        rect += rng.uniform(-spec.perspective, spec.perspective, size=(4, 2)) * h
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        corners = rect @ rot.T
        lo, hi = -corners.min(axis=0), np.array([w_src, h_src]) - corners.max(axis=0)
        if np.all(hi > lo):  # the footprint fits inside the photo somewhere
            return (corners + rng.uniform(lo, hi)).astype(np.float32)
    raise RuntimeError("could not place a view inside the source image")


def _render(src: np.ndarray, quad: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Warp the footprint ``quad`` of ``src`` to an ``out_hw`` image (pre-shrunk to limit aliasing)."""
    out_h, out_w = out_hw
    side = np.linalg.norm(quad[3] - quad[0])
    shrink = min(1.0, 1.5 * out_h / side)
    if shrink < 1.0:
        src = cv2.resize(src, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        quad = quad * shrink
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    warp = cv2.getPerspectiveTransform(dst, quad.astype(np.float32))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(src, warp, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REFLECT101)


def _jitter(rng: np.random.Generator, img: np.ndarray, strength: float) -> np.ndarray:
    """Lighting change: gamma, contrast, brightness and per-channel gain."""
    x = img.astype(np.float32) / 255.0
    x = x ** np.exp(rng.uniform(-strength, strength))
    x = (x - 0.5) * (1 + rng.uniform(-strength, strength)) + 0.5
    x = x + rng.uniform(-strength, strength) * 0.4
    x = x * (1 + rng.uniform(-strength, strength, size=3) / 3)
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _expand(quad: np.ndarray, factor: float) -> np.ndarray:
    centre = quad.mean(axis=0)
    return (quad - centre) * factor + centre


def _overlap_and_scale(query_quad: np.ndarray, db_quad: np.ndarray) -> tuple[float, float]:
    """Fraction of the query footprint visible in the db view, and their linear scale ratio."""
    area_q = cv2.contourArea(query_quad)
    inter, _ = cv2.intersectConvexConvex(query_quad, db_quad)
    ratio = np.sqrt(cv2.contourArea(db_quad) / area_q)
    return float(inter / area_q), float(max(ratio, 1 / ratio))


def relevance(overlap: float, scale_ratio: float) -> str | None:
    """'easy', 'hard', 'junk' or None (negative), by the rules in the module docstring."""
    if overlap >= 0.5 and scale_ratio <= 1.8:
        return "easy"
    if overlap >= 0.25:
        return "hard"
    if overlap > 0:
        return "junk"
    return None


def _write_jpg(path: Path, rgb: np.ndarray, quality: int) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])


def build(spec: LandmarksSpec, out_root: Path) -> None:
    """Write the benchmark under ``out_root/embedded-landmarks/`` in the revisitop layout."""
    rng = np.random.default_rng(spec.seed)
    folder = out_root / NAME
    (folder / "jpg").mkdir(parents=True)
    db_items, queries = [], []  # (image name, landmark, quad); (name, landmark, quad, bbx)
    out_h, out_w = spec.view_hw
    m = spec.query_margin
    for source in LANDMARKS + DISTRACTORS:
        src = source.load()
        is_landmark = source in LANDMARKS
        n_db = spec.db_views_per_landmark if is_landmark else spec.views_per_distractor
        for k in range(n_db):
            quad = _sample_quad(rng, src.shape[:2], spec)
            name = f"{source.name}_db{k:02d}"
            _write_jpg(folder / "jpg" / f"{name}.jpg", _jitter(rng, _render(src, quad, spec.view_hw), spec.photometric), spec.jpeg_quality)
            db_items.append((name, source.name if is_landmark else None, quad))
        for k in range(spec.queries_per_landmark if is_landmark else 0):
            quad = _sample_quad(rng, src.shape[:2], spec)
            view = _render(src, _expand(quad, 1 + 2 * m), spec.view_hw)
            name = f"{source.name}_query{k}"
            _write_jpg(folder / "jpg" / f"{name}.jpg", _jitter(rng, view, spec.photometric), spec.jpeg_quality)
            s = 1 / (1 + 2 * m)  # the inner footprint's share of the rendered view
            bbx = [out_w * (1 - s) / 2, out_h * (1 - s) / 2, out_w * (1 + s) / 2, out_h * (1 + s) / 2]
            queries.append((name, source.name, quad, bbx))
    order = rng.permutation(len(db_items))  # so that ties in a ranking carry no landmark signal
    db_items = [db_items[i] for i in order]
    gnd = []
    for _, landmark, qquad, bbx in queries:
        entry = {"bbx": bbx, "easy": [], "hard": [], "junk": []}
        for j, (_, db_landmark, dquad) in enumerate(db_items):
            if db_landmark == landmark:
                label = relevance(*_overlap_and_scale(qquad, dquad))
                if label:
                    entry[label].append(j)
        gnd.append(entry)
    cfg = {"imlist": [d[0] for d in db_items], "qimlist": [q[0] for q in queries], "gnd": gnd}
    with open(folder / f"gnd_{NAME}.pkl", "wb") as f:
        pickle.dump(cfg, f)


def dataset_root(spec: LandmarksSpec = LandmarksSpec()) -> Path:
    """Build once (atomically, safe against concurrent trials) and return the revisitop root."""
    return built_dataset(NAME, spec, lambda out: build(spec, out), f"{NAME}/gnd_{NAME}.pkl")


def load(spec: LandmarksSpec = LandmarksSpec()) -> RetrievalSet:
    return load_revisitop(dataset_root(spec), NAME)


def sources_card() -> list[dict]:
    return licence_card(LANDMARKS + DISTRACTORS)

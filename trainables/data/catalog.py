"""The embedded datasets by name, and their data cards (what ``tasksweep data describe`` prints)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Callable

from trainables.data import embedded_crops, embedded_digits, embedded_landmarks, embedded_quality
from trainables.data.sources import DISTRACTORS, LANDMARKS
from trainables.errors import UserInputError

Progress = Callable[[str], None] | None


def landmarks_card(spec: embedded_landmarks.LandmarksSpec = embedded_landmarks.LandmarksSpec(), progress: Progress = None) -> dict:
    """Build the set if needed and measure its difficulty once with the SIFT backend (cached)."""
    from trainables.retrieval import SiftBackend
    from trainables.retrieval.benchmark import noise_sensitivity

    if progress:
        progress(f"preparing {embedded_landmarks.NAME} (built once, then cached)")
    root = embedded_landmarks.dataset_root(spec)
    path = root / "card.json"
    if path.is_file():
        return json.loads(path.read_text())
    rset = embedded_landmarks.load(spec)
    backend = SiftBackend()
    measured = noise_sensitivity(backend, rset, sigma=50.0, seed=spec.seed, progress=progress)
    gnd = rset.gnd
    card = {
        "name": embedded_landmarks.NAME,
        "kind": "retrieval",
        "description": "Views of photos shipped in the scikit-image and scikit-learn wheels, revisited-Oxford gnd format.",
        "n_landmarks": len(LANDMARKS),
        "n_distractor_sources": len(DISTRACTORS),
        "n_database": len(rset.imlist),
        "n_queries": len(rset.qimlist),
        "mean_easy_per_query": sum(len(g["easy"]) for g in gnd) / len(gnd),
        "mean_hard_per_query": sum(len(g["hard"]) for g in gnd) / len(gnd),
        "mean_junk_per_query": sum(len(g["junk"]) for g in gnd) / len(gnd),
        "map_protocol": "revisitop Medium (positives easy+hard, junk ignored), SIFT + ratio test + RANSAC inliers",
        "map_clean": measured["clean"]["mAP_M"],
        "map_sigma50": measured["noisy"]["mAP_M"],
        "metrics_clean": measured["clean"],
        "metrics_sigma50": measured["noisy"],
        "backend": backend.cache_key(),
        "spec": asdict(spec),
        "path": str(root),
        "sources": embedded_landmarks.sources_card(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(card, indent=1))
    tmp.replace(path)
    return card


# How hard the set is for fsr_gan's embedded descriptor (a stand-in for VGG16 fc7, trained per split on
# the split's training landmarks): revisitop Medium mAP of the large queries and of the queries
# downsampled to 1/64 of their area, all database images. Logged by the feature-bank stage
# ("extractor on this split: ...") of `tasksweep seeds sweeps/fsr_gan_r.yaml --seeds 0 1 2`; training
# the descriptor takes minutes, so these are recorded here, not re-measured by `data describe`.
FSR_SPLITS = [  # seed → test landmarks; validation is always hubble_deep_field, camera
    {"seed": 0, "test": "coins, china, clock, rocket", "val_map_clean": 0.649, "val_map_1/64": 0.223,
     "test_map_clean": 0.534, "test_map_1/64": 0.335},
    {"seed": 1, "test": "astronaut, chelsea, coffee", "val_map_clean": 0.715, "val_map_1/64": 0.272,
     "test_map_clean": 0.442, "test_map_1/64": 0.153},
    {"seed": 2, "test": "immunohistochemistry, flower, brick", "val_map_clean": 0.658, "val_map_1/64": 0.375,
     "test_map_clean": 0.506, "test_map_1/64": 0.111},
]
FSR_DESCRIPTOR = {
    "extractor": "fsr_gan embedded descriptor (instance discrimination, luminance, input 192², GeM-pooled conv map, fc7 1024-d), not VGG16",
    "protocol": "revisitop Medium, cosine similarity, queries of the split's landmarks against all 240 database images",
    "per_split": FSR_SPLITS,
}


def landmarks_card_with_fsr(progress: Progress = None) -> dict:
    return {**landmarks_card(progress=progress), "fsr_gan_descriptor": FSR_DESCRIPTOR}


EMBEDDED: dict[str, Callable[..., dict]] = {
    embedded_landmarks.NAME: landmarks_card_with_fsr,
    embedded_digits.NAME: lambda progress=None: embedded_digits.card(),
    embedded_quality.NAME: lambda progress=None: embedded_quality.card(),
    embedded_crops.NAME: lambda progress=None: embedded_crops.card(),
}


def describe(name: str, progress: Progress = None) -> dict:
    if name not in EMBEDDED:
        raise UserInputError(f"unknown dataset '{name}' (embedded datasets: {', '.join(EMBEDDED)})")
    return EMBEDDED[name](progress=progress)

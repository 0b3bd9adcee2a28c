"""What seed 001 measures: retrieval mAP of (enhanced) query features, and feature distances."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainables.metrics import ranks_from_scores, revisitop_map


def retrieval_map(queries: torch.Tensor, db: torch.Tensor, gnd: list[dict], leave_out: torch.Tensor | None = None) -> float:
    """Revisitop Medium mAP of ranking ``db`` by cosine similarity to each query feature.

    ``leave_out`` (bool, per database image): ranked last, which for negatives is the same as
    removing them (a negative below every positive does not change AP) without renumbering ``gnd``.
    """
    scores = F.normalize(queries, dim=1) @ db.T
    if leave_out is not None:
        scores[:, leave_out] = -torch.inf
    return revisitop_map(ranks_from_scores(scores), gnd)["mAP_M"]


def distances(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Euclidean distance between each (normalised) feature and its large-image feature."""
    return (F.normalize(features, dim=1) - targets).norm(dim=1)


def similar_dissimilar(queries: torch.Tensor, db: torch.Tensor, gnd: list[dict]) -> tuple[float, float]:
    """Mean distance from each large query to its relevant database images (easy + hard) and to the rest.

    Fig. 4's reference lines: how far apart similar and non-similar images are (junk left out)."""
    near, far = [], []
    for q, g in zip(queries, gnd):
        d = (db - q).norm(dim=1)
        relevant = torch.zeros(len(db), dtype=torch.bool)
        relevant[list(g["easy"]) + list(g["hard"])] = True
        other = ~relevant
        other[list(g["junk"])] = False
        near.append(d[relevant])
        far.append(d[other])
    return float(torch.cat(near).mean()), float(torch.cat(far).mean())

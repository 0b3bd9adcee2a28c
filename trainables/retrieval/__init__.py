"""Retrieval backends and their evaluation on a ``RetrievalSet`` (revisitop protocol).

A backend has ``describe(image) -> features``, ``set_database(features)`` and
``scores(query_image) -> (n_db,) similarities``. Database features are cached on disk, keyed
by the dataset's image list and the backend's settings, so sweeps reuse them.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from typing import Callable, Iterable

import numpy as np

from trainables.cache import cache_root
from trainables.data.retrieval_set import RetrievalSet
from trainables.errors import UserInputError
from trainables.metrics import ranks_from_scores, revisitop_map
from trainables.retrieval.cnn import CnnBackend
from trainables.retrieval.orb import OrbBackend
from trainables.retrieval.sift import SiftBackend, SiftConfig

__all__ = ["BACKENDS", "build_backend", "index_database", "rank", "evaluate", "SiftBackend", "SiftConfig", "OrbBackend",
           "CnnBackend"]

BACKENDS = {"sift": SiftBackend, "orb": OrbBackend, "cnn": CnnBackend}


def build_backend(name: str, **kwargs):
    if name not in BACKENDS:
        raise UserInputError(f"unknown retrieval backend '{name}' (choose from: {', '.join(BACKENDS)})")
    return BACKENDS[name](**kwargs)


def index_database(backend, rset: RetrievalSet, progress: Callable[[str], None] | None = None) -> None:
    """Describe every database image once (cached on disk) and hand the features to ``backend``."""
    key = json.dumps({"dir": str(rset.image_dir.resolve()), "imlist": rset.imlist, **backend.cache_key()}, sort_keys=True)
    path = cache_root() / "descriptors" / f"{rset.name}-{backend.name}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.pkl"
    if path.is_file():
        with open(path, "rb") as f:
            features = pickle.load(f)
    else:
        if progress:
            progress(f"describing {len(rset.imlist)} database images with {backend.name}")
        features = backend.describe_database(rset.load_db(i) for i in range(len(rset.imlist)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{np.random.randint(1 << 30)}")
        with open(tmp, "wb") as f:
            pickle.dump(features, f)
        tmp.replace(path)  # atomic: concurrent trials never read a half-written cache
    backend.set_database(features)


def rank(backend, query_images: Iterable[np.ndarray]) -> np.ndarray:
    """Revisitop ranks, shape (n_db, n_queries): column j = database indices, best first."""
    scores = np.stack([backend.scores(q) for q in query_images])
    return ranks_from_scores(scores)


def evaluate(backend, rset: RetrievalSet, query_images: Iterable[np.ndarray] | None = None) -> dict:
    """mAP (Easy/Medium/Hard) and mP@k of ``query_images`` (default: the set's cropped queries).

    ``index_database`` must have been called for ``rset`` first.
    """
    if query_images is None:
        query_images = (rset.load_query(i) for i in range(len(rset.qimlist)))
    return revisitop_map(rank(backend, query_images), rset.gnd)

"""How hard a retrieval set is: mAP of its clean queries and of the same queries under AWGN."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from trainables.data.degradations import awgn
from trainables.data.image_files import to_tensor, to_uint8
from trainables.data.retrieval_set import RetrievalSet
from trainables.retrieval import evaluate, index_database


def noisy_queries(rset: RetrievalSet, sigma: float, seed: int = 0) -> list[np.ndarray]:
    """The set's cropped queries with AWGN of ``sigma`` (0–255 units), quantised to uint8 like a saved photo."""
    generator = torch.Generator().manual_seed(seed)
    return [to_uint8(awgn(to_tensor(rset.load_query(i))[None], sigma, generator)[0]) for i in range(len(rset.qimlist))]


def noise_sensitivity(backend, rset: RetrievalSet, sigma: float = 50.0, seed: int = 0,
                      progress: Callable[[str], None] | None = None) -> dict[str, dict[str, float]]:
    """``{"clean": revisitop metrics, "noisy": revisitop metrics}`` for one backend."""
    index_database(backend, rset, progress)
    if progress:
        progress(f"ranking {len(rset.qimlist)} clean queries against {len(rset.imlist)} images")
    clean = evaluate(backend, rset)
    if progress:
        progress(f"ranking the same queries with AWGN sigma={sigma:g}")
    noisy = evaluate(backend, rset, noisy_queries(rset, sigma, seed))
    return {"clean": clean, "noisy": noisy}

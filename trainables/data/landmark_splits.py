"""Landmark-disjoint splits of a retrieval set: no landmark in two of train / val / test.

Seed 000 §6.1 ("no overlap in the content between the training and testing sets") and seed 001
train on some landmarks and test on others; images are never split, landmarks are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from trainables.data.retrieval_set import RetrievalSet
from trainables.errors import UserInputError


def landmark_of(query_name: str) -> str:
    """``astronaut_query3``, ``astronaut_db03`` → ``astronaut`` (embedded), ``all_souls_000013`` → ``all_souls`` (ROxford)."""
    return re.sub(r"_(query|db)?\d+$", "", query_name)


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


def train_views(rset: RetrievalSet, split: Split) -> list[int]:
    """Database views of the split's training landmarks: the only views a learned stage (a
    descriptor, FSR-GAN's F, G, D and ISR) may see."""
    return [i for i, name in enumerate(rset.imlist) if landmark_of(name) in split.train]


def query_indices(rset: RetrievalSet, landmarks: tuple[str, ...]) -> list[int]:
    return [i for i, q in enumerate(rset.qimlist) if landmark_of(q) in landmarks]

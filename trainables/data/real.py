"""Name → loader for every real dataset read from a user's local copy (never downloaded).

Every loader is called as ``loader(root, **options)``, checks the layout before returning and
raises a one-line ``UserInputError`` naming the first missing file or folder.
"""

from __future__ import annotations

import inspect
from functools import partial
from pathlib import Path
from typing import Any, Callable

from trainables.data.ava import load_ava
from trainables.data.classification import load_caltech101, load_caltech256, load_image_folder
from trainables.data.div2k import load_div2k
from trainables.data.image_files import load_image_dir
from trainables.data.oxford_original import load_oxford_original
from trainables.data.retrieval_set import load_revisitop
from trainables.data.set5 import load_set5
from trainables.errors import UserInputError

__all__ = ["REAL_DATASETS", "load_real"]

REAL_DATASETS: dict[str, Callable[..., Any]] = {
    "roxford5k": partial(load_revisitop, name="roxford5k"),  # RetrievalSet; root holds roxford5k/
    "rparis6k": partial(load_revisitop, name="rparis6k"),  # RetrievalSet; root holds rparis6k/
    "oxford5k": partial(load_oxford_original, name="oxford5k"),  # RetrievalSet; root holds gt/, jpg/
    "paris6k": partial(load_oxford_original, name="paris6k"),  # RetrievalSet; root holds gt/, jpg/
    "caltech101": load_caltech101,  # ImageClassificationSet
    "caltech256": load_caltech256,  # ImageClassificationSet
    "image_folder": load_image_folder,  # ImageClassificationSet, <root>/<class>/*
    "image_dir": load_image_dir,  # ImageListSet, <root>/*
    "div2k": load_div2k,  # DIV2KPairs
    "ava": load_ava,  # AVASet
    "set5": load_set5,  # [(name, HR RGB uint8)], five images
}


def load_real(name: str, root: str | Path, **options: Any) -> Any:
    """Load the dataset registered as ``name`` from ``root``; see each loader for its options."""
    if name not in REAL_DATASETS:
        raise UserInputError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(REAL_DATASETS))}")
    loader = REAL_DATASETS[name]
    # Options usually come from a sweep file: a misspelt one is a user error, not a TypeError.
    try:
        inspect.signature(loader).bind(root, **options)
    except TypeError as e:
        raise UserInputError(f"dataset {name!r}: {e}") from None
    return loader(root, **options)

"""AVA (Murray et al., CVPR 2012) aesthetic rating distributions, read from a local copy.

Layout::

    <root>/AVA.txt             one image a line, 15 space-separated integers (from the release's
                               readme): index, image id, 10 counts of ratings 1..10, two semantic
                               tag ids (0 = none), challenge id
    <root>/images/<id>.jpg

``ds[i]`` is ``(float32 RGB (3, H, W) in [0, 1], float32 (10,) rating distribution)``; the
distribution is the counts divided by their sum, the NIMA training target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from trainables.data.image_files import read_tensor, require_dir, require_file
from trainables.errors import UserInputError

AVA_LAYOUT = "<root>/AVA.txt (index, id, 10 rating counts, 2 tags, challenge) and <root>/images/<id>.jpg"
SCORES = np.arange(1, 11, dtype=np.float64)


def mean_score(counts: np.ndarray | torch.Tensor) -> np.ndarray:
    """Mean rating 1..10 from counts or a distribution over the last axis of length 10."""
    c = np.asarray(counts, dtype=np.float64)
    return (c * SCORES).sum(-1) / c.sum(-1)


def read_ava_txt(path: Path) -> tuple[list[int], np.ndarray]:
    """Image ids and their (N, 10) int64 rating counts; a malformed line is a user error."""
    ids, counts = [], []
    for n, line in enumerate(require_file(path, AVA_LAYOUT).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 15 or not all(f.isdigit() for f in fields):
            raise UserInputError(f"{path} line {n}: expected 15 integers ({AVA_LAYOUT})")
        row = [int(f) for f in fields[2:12]]
        if sum(row) == 0:
            raise UserInputError(f"{path} line {n}: image {fields[1]} has no ratings")
        ids.append(int(fields[1]))
        counts.append(row)
    if not ids:
        raise UserInputError(f"{path} holds no images")
    return ids, np.asarray(counts, dtype=np.int64)


class AVASet(Dataset):
    def __init__(self, image_dir: Path, ids: list[int], counts: np.ndarray, transform=None,
                 skipped: list[int] | None = None):
        self.image_dir, self.ids, self.counts = image_dir, ids, counts
        self.transform = transform
        self.skipped = skipped or []  # AVA.txt ids left out because their image was absent

    def __len__(self) -> int:
        return len(self.ids)

    def distribution(self, i: int) -> torch.Tensor:
        c = torch.from_numpy(self.counts[i]).float()
        return c / c.sum()

    def mean_scores(self) -> np.ndarray:
        """Mean rating of every image, e.g. for the usual 5.0 good/bad threshold."""
        return mean_score(self.counts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = read_tensor(self.image_dir / f"{self.ids[i]}.jpg")
        return (self.transform(img) if self.transform is not None else img), self.distribution(i)


def load_ava(root: str | Path, skip_missing: bool = False, transform=None) -> AVASet:
    """Every AVA.txt row whose image is on disk; a missing image is an error unless
    ``skip_missing`` (public copies lack a few images), in which case ``.skipped`` lists the ids."""
    root = Path(root)
    ids, counts = read_ava_txt(root / "AVA.txt")
    image_dir = require_dir(root / "images", AVA_LAYOUT)
    present = np.array([(image_dir / f"{i}.jpg").is_file() for i in ids])
    if not present.any():
        raise UserInputError(f"missing {image_dir}/<id>.jpg: no image of AVA.txt is there (expected layout: {AVA_LAYOUT})")
    if not present.all() and not skip_missing:
        first = ids[int(np.argmin(present))]
        raise UserInputError(f"missing {image_dir / f'{first}.jpg'} (pass skip_missing=True to drop absent images)")
    kept = [i for i, ok in zip(ids, present) if ok]
    skipped = [i for i, ok in zip(ids, present) if not ok]
    return AVASet(image_dir, kept, counts[present], transform, skipped)

"""One in-memory form for every retrieval benchmark: the revisited-Oxford ``gnd`` format.

The embedded set is written to disk in the exact ROxford5k layout, so it and a user's real
ROxford5k/RParis6k copy go through the same loader and the same mAP code.

Layout of a revisitop root (``<root>/<name>/``)::

    gnd_<name>.pkl    dict with 'imlist', 'qimlist', 'gnd'
    jpg/<image>.jpg   every database and query image

``gnd[i]`` belongs to query ``qimlist[i]`` and holds ``bbx`` (x1, y1, x2, y2 in the query
image) and the 0-based database indices ``easy``, ``hard``, ``junk``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainables.data.image_files import read_rgb, require_dir, require_file
from trainables.errors import UserInputError

REVISITOP_LAYOUT = "<root>/<name>/gnd_<name>.pkl and <root>/<name>/jpg/*.jpg"


@dataclass
class RetrievalSet:
    name: str
    image_dir: Path
    imlist: list[str]
    qimlist: list[str]
    gnd: list[dict]
    ext: str = ".jpg"

    def db_path(self, i: int) -> Path:
        return self.image_dir / f"{self.imlist[i]}{self.ext}"

    def query_path(self, i: int) -> Path:
        return self.image_dir / f"{self.qimlist[i]}{self.ext}"

    def load_query(self, i: int, crop: bool = True) -> np.ndarray:
        """RGB uint8 (H, W, 3); cropped to ``bbx`` as the revisitop protocol asks."""
        img = read_rgb(self.query_path(i))
        if crop and self.gnd[i].get("bbx") is not None:
            x1, y1, x2, y2 = (int(round(v)) for v in self.gnd[i]["bbx"])
            img = img[max(y1, 0) : y2, max(x1, 0) : x2]
        return img

    def load_db(self, i: int) -> np.ndarray:
        return read_rgb(self.db_path(i))


def load_revisitop(root: str | Path, name: str) -> RetrievalSet:
    """Read ``roxford5k``, ``rparis6k`` (or the embedded set) from a local revisitop root."""
    folder = Path(root) / name
    gnd_file = require_file(folder / f"gnd_{name}.pkl", REVISITOP_LAYOUT)
    image_dir = require_dir(folder / "jpg", REVISITOP_LAYOUT)
    with open(gnd_file, "rb") as f:
        cfg = pickle.load(f)
    for key in ("imlist", "qimlist", "gnd"):
        if key not in cfg:
            raise UserInputError(f"{gnd_file} has no '{key}' entry (revisitop gnd format)")
    rset = RetrievalSet(name, image_dir, list(cfg["imlist"]), list(cfg["qimlist"]), list(cfg["gnd"]))
    require_file(rset.db_path(0), REVISITOP_LAYOUT)
    require_file(rset.query_path(0), REVISITOP_LAYOUT)
    return rset

"""Real photographs that ship inside installed wheels, with their licences.

These are the only images the offline benchmark may use: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Source:
    name: str
    load: Callable[[], np.ndarray]  # returns RGB uint8 (H, W, 3)
    origin: str
    licence: str
    attribution: str


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        img = getattr(skimage.data, name)()
        return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


_SK = "scikit-image wheel, skimage.data"
_SKL = "scikit-learn wheel, sklearn.datasets.load_sample_image"

# Landmarks: each photo is one "place"; database views and queries are different views of it.
LANDMARKS = [
    Source("astronaut", _skimage("astronaut"), _SK, "public domain", "NASA (Eileen Collins)"),
    Source("camera", _skimage("camera"), _SK, "CC0", "Lav Varshney"),
    Source("coffee", _skimage("coffee"), _SK, "CC0", "Rachel Michetti"),
    Source("chelsea", _skimage("chelsea"), _SK, "CC0", "Stefan van der Walt"),
    Source("rocket", _skimage("rocket"), _SK, "public domain", "SpaceX"),
    Source("hubble_deep_field", _skimage("hubble_deep_field"), _SK, "public domain", "NASA / HubbleSite"),
    Source("immunohistochemistry", _skimage("immunohistochemistry"), _SK, "no known copyright restrictions", "Center for Microscopy And Molecular Imaging (CMMI)"),
    Source("coins", _skimage("coins"), _SK, "no known copyright restrictions", "Brooklyn Museum Collection"),
    Source("clock", _skimage("clock"), _SK, "public domain", "Stefan van der Walt"),
    Source("brick", _skimage("brick"), _SK, "CC0", "CC0Textures (Bricks25)"),
    Source("china", _sklearn("china.jpg"), _SKL, "CC-BY-2.0", "danielbuechele (Flickr), retrieved by Robert Layton"),
    Source("flower", _sklearn("flower.jpg"), _SKL, "CC-BY-2.0", "vultilion (Flickr), retrieved by Robert Layton"),
]

# Distractors: database images that belong to no landmark (negatives for every query).
DISTRACTORS = [
    Source("grass", _skimage("grass"), _SK, "CC0", "linolafett (DeviantArt)"),
    Source("gravel", _skimage("gravel"), _SK, "CC0", "CC0Textures (Gravel04)"),
    Source("retina", _skimage("retina"), _SK, "CC0", "Mikael Häggström (Wikimedia Commons)"),
    Source("text", _skimage("text"), _SK, "public domain", "Wikipedia (File:Corner.png)"),
]


def licence_card(sources: list[Source]) -> list[dict]:
    return [
        {"name": s.name, "origin": s.origin, "licence": s.licence, "attribution": s.attribution}
        for s in sources
    ]


def _stereo_left() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data(filename)) as img:
            return np.asarray(img.convert("RGB"))

    return load


_SOURCES = {s.name: s for s in LANDMARKS + DISTRACTORS} | {
    "motorcycle": Source("motorcycle", _stereo_left, _SK + " (stereo_motorcycle, left view)", "Middlebury 2014 stereo: research use, cite the source",
                         "D. Scharstein et al., Middlebury College (GCPR 2014)"),
    "grace_hopper": Source("grace_hopper", _matplotlib("grace_hopper.jpg"), "matplotlib wheel, mpl-data/sample_data",
                           "public domain", "U.S. Navy (Commodore Grace M. Hopper, 1984)"),
    "moon": Source("moon", _skimage("moon"), _SK, "public domain (scikit-image data README)", "scikit-image test image"),
    "cell": Source("cell", _skimage("cell"), _SK, "CC0", "Paul Müller et al., Optics Express 26(8), 2018"),
}

# Seed 002's two embedded sets share no photo. The quality set (the NIMA judge's stand-in for
# AVA) and the SR photos are split by photo; the SR photos again into train / val / test.
QUALITY_PHOTOS = [_SOURCES[n] for n in ("grace_hopper", "hubble_deep_field", "immunohistochemistry", "brick", "cell",
                                        "grass", "gravel", "moon", "camera")]
SR_PHOTOS = {
    "train": [_SOURCES[n] for n in ("chelsea", "rocket", "retina", "coins", "clock")],
    "val": [_SOURCES[n] for n in ("coffee", "flower")],
    "test": [_SOURCES[n] for n in ("astronaut", "china", "motorcycle")],
}
# Seed 004's classification stand-in: one class per photo (embedded-photo-crops).
CLASSIFICATION_PHOTOS = [*LANDMARKS, *DISTRACTORS, *(_SOURCES[n] for n in ("moon", "cell", "grace_hopper", "motorcycle"))]

"""Set5 (Bevilacqua et al. 2012) HR images read from a local copy, and its bicubic baseline.

Accepted layouts (the first one holding any of the five images is used, and must hold all)::

    <root>/baby.png ...                         (also <root>/baby_GT.bmp or <root>/baby_GT.png)
    <root>/HR/baby.png ...
    <root>/image_SRF_{2,3,4}/img_001_SRF_{s}_HR.png ...   (Huang et al.: 001 baby ... 005 woman)
    <root>/GTmod12/baby.png ...                 (BasicSR: cropped to multiples of 12, so its
                                                 numbers can differ slightly from the originals')

``bicubic_psnr`` is the protocol of the SRCNN / EDSR tables: crop each HR image to a multiple
of the scale ("modcrop", top-left kept), LR = MATLAB bicubic ``imresize(HR, 1/s)`` rounded to
uint8, bicubic = ``imresize(LR, s)`` rounded to uint8, PSNR on BT.601 Y (MATLAB ``rgb2ycbcr``)
with ``s`` pixels shaved off each border, averaged over the images. The published Set5 figures
are ``PUBLISHED_BICUBIC`` (dB, rounded to 0.01).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainables.data.degradations import imresize
from trainables.data.image_files import read_rgb, require_dir
from trainables.errors import UserInputError
from trainables.metrics import psnr

SET5_NAMES = ("baby", "bird", "butterfly", "head", "woman")
PUBLISHED_BICUBIC = {2: 33.66, 3: 30.39, 4: 28.42}
SET5_LAYOUT = ("<root>/{baby,bird,butterfly,head,woman}.png (or {name}_GT.bmp/.png, HR/{name}.png, "
               "GTmod12/{name}.png, image_SRF_{s}/img_00{1-5}_SRF_{s}_HR.png)")

# one function per layout: (root, 0-based index, name) -> path
_LAYOUTS = (
    [lambda r, k, n: r / f"{n}.png", lambda r, k, n: r / f"{n}_GT.bmp", lambda r, k, n: r / f"{n}_GT.png",
     lambda r, k, n: r / "HR" / f"{n}.png"]
    + [lambda r, k, n, s=s: r / f"image_SRF_{s}" / f"img_{k + 1:03d}_SRF_{s}_HR.png" for s in (2, 3, 4)]
    + [lambda r, k, n: r / "GTmod12" / f"{n}.png"]
)


def load_set5(root: str | Path) -> list[tuple[str, np.ndarray]]:
    """The five HR images as ``(name, RGB uint8 (H, W, 3))``, in the order of ``SET5_NAMES``."""
    root = require_dir(Path(root), SET5_LAYOUT)
    for layout in _LAYOUTS:
        paths = [layout(root, k, n) for k, n in enumerate(SET5_NAMES)]
        if any(p.is_file() for p in paths):
            for p in paths:
                if not p.is_file():
                    raise UserInputError(f"missing {p} (expected layout: {SET5_LAYOUT})")
            return [(n, read_rgb(p)) for n, p in zip(SET5_NAMES, paths)]
    raise UserInputError(f"missing {root}/baby.png (no Set5 image found; expected layout: {SET5_LAYOUT})")


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Top-left crop of an (H, W, ...) image to height and width multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_psnr(images, scale: int) -> float:
    """Mean Y-channel PSNR (dB, border ``scale``) of bicubic ×``scale`` over RGB uint8 images
    (arrays or ``(name, array)`` pairs as ``load_set5`` returns), by the protocol above."""
    vals = []
    for img in images:
        img = img[1] if isinstance(img, tuple) else img
        hr = torch.from_numpy(np.ascontiguousarray(modcrop(img, scale).transpose(2, 0, 1)))[None].double()
        lr = imresize(hr, 1.0 / scale).clamp(0, 255).round()
        sr = imresize(lr, float(scale)).clamp(0, 255).round()
        vals.append(psnr(sr, hr, crop_border=scale, y_channel=True, data_range=255.0))
    return float(np.mean(vals))

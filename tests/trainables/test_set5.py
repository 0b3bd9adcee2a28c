"""Set5 adapter and the bicubic baseline protocol of the SR tables.

The published-figure check needs a local Set5 (``TASKSWEEP_SET5=<folder>``); the rest runs
offline on skimage photos and fake Set5 folders.
"""

import os

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from trainables.data.degradations import imresize
from trainables.data.set5 import PUBLISHED_BICUBIC, SET5_NAMES, bicubic_psnr, load_set5, modcrop
from trainables.errors import UserInputError
from trainables.metrics import psnr

# ---------------------------------------------------------------- published figures (real Set5)


@pytest.fixture(scope="module")
def set5():
    root = os.environ.get("TASKSWEEP_SET5")
    if not root:
        pytest.skip("TASKSWEEP_SET5 is unset: point it at a local Set5 folder to check the published bicubic PSNR")
    return load_set5(root)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_psnr_matches_published_set5(set5, scale):
    # published figures are rounded to 0.01 dB; 0.015 leaves half a unit for float differences
    assert bicubic_psnr(set5, scale) == pytest.approx(PUBLISHED_BICUBIC[scale], abs=0.015)


# ---------------------------------------------------------------- protocol, offline


def test_bicubic_psnr_modcrops_first():
    img = skimage.data.astronaut()[:509, :510]  # 509 and 510: neither a multiple of 3 nor 4
    for s in (2, 3, 4):
        cropped = modcrop(img, s)
        assert cropped.shape[0] % s == 0 and cropped.shape[1] % s == 0
        assert bicubic_psnr([img], s) == bicubic_psnr([cropped], s)
    assert modcrop(img, 4).shape[:2] == (508, 508)


def test_bicubic_psnr_astronaut_values():
    img = skimage.data.astronaut()
    got = {s: bicubic_psnr([("astronaut", img)], s) for s in (2, 3, 4)}
    assert got[4] < got[3] < got[2]
    # regression values measured with this protocol (no rounding would give +0.003 to +0.004 dB)
    assert got == pytest.approx({2: 31.7127, 3: 28.6834, 4: 26.8439}, abs=5e-4)


def test_y_channel_with_border_differs_from_rgb():
    img = skimage.data.astronaut()
    hr = torch.from_numpy(img.transpose(2, 0, 1).copy())[None].double()
    sr = imresize(imresize(hr, 0.5).clamp(0, 255).round(), 2.0).clamp(0, 255).round()
    rgb = psnr(sr, hr, data_range=255.0)
    # measured: Y, border 2 = 31.71 dB; RGB, no border = 30.22 dB
    assert bicubic_psnr([img], 2) - rgb > 1.0


def test_bicubic_psnr_is_mean_over_images():
    a, b = skimage.data.astronaut(), skimage.data.coffee()
    assert bicubic_psnr([a, b], 3) == pytest.approx((bicubic_psnr([a], 3) + bicubic_psnr([b], 3)) / 2, abs=1e-12)


# ---------------------------------------------------------------- layouts


def _fake_images():
    rng = np.random.default_rng(0)
    # distinct sizes so the order can be checked
    return {n: rng.integers(0, 256, (12 + k, 16 + k, 3), dtype=np.uint8) for k, n in enumerate(SET5_NAMES)}


LAYOUTS = {
    "flat png": lambda k, n: f"{n}.png",
    "GT bmp": lambda k, n: f"{n}_GT.bmp",
    "HR": lambda k, n: f"HR/{n}.png",
    "Huang SRF_3": lambda k, n: f"image_SRF_3/img_{k + 1:03d}_SRF_3_HR.png",
    "GTmod12": lambda k, n: f"GTmod12/{n}.png",
}


def _write(root, layout, images, skip=()):
    for k, (n, img) in enumerate(images.items()):
        if n in skip:
            continue
        path = root / LAYOUTS[layout](k, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_load_set5_layouts(tmp_path, layout):
    images = _fake_images()
    _write(tmp_path, layout, images)
    got = load_set5(tmp_path)
    assert [n for n, _ in got] == list(SET5_NAMES)
    for n, img in got:
        np.testing.assert_array_equal(img, images[n])  # lossless formats, RGB order kept


def test_load_set5_missing_image_names_it(tmp_path):
    _write(tmp_path, "Huang SRF_3", _fake_images(), skip=("woman",))
    with pytest.raises(UserInputError, match="img_005_SRF_3_HR.png") as e:
        load_set5(tmp_path)
    assert "\n" not in str(e.value) and "expected layout" in str(e.value)


def test_load_set5_empty_or_absent_root(tmp_path):
    with pytest.raises(UserInputError, match="baby.png"):
        load_set5(tmp_path)
    with pytest.raises(UserInputError, match="nope"):
        load_set5(tmp_path / "nope")

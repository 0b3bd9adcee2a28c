"""Load a registered model by URI and run it on a photo it never saw, as its declaration says.

Run as ``python -m sweeps.champion_check models:/NAME@champion [--sigma 50]`` so that it is a
fresh process, exactly as a user would load the model. What the model takes and returns comes
from its own metadata (``model_io``, written by ``promote``), and the probe follows it:

- ``Images``, scale 1: AWGN (``--sigma``) on the photo → PSNR of the noisy and denoised photo;
- ``Images``, scale s (the largest one served): the photo downscaled by s (MATLAB bicubic) →
  PSNR of the model's output and of a bicubic upscale against the clean photo;
- ``ClassScores``: a few crops → probabilities, the top class of each;
- ``ScoreDistribution``: a few crops → distributions, the mean score of each;
- ``Features``: random features → features;
- ``Descriptors``: the photo and its σ-noisy version → two descriptors, their cosine; with a
  scale s, the photo downscaled by s → one descriptor.

The output's shape and dtype are checked against the declaration (and descriptors' unit norm). Prints one JSON line
(``model_uri``, ``io``, ``shape``, ``dtype``, ``problems``, plus ``psnr_*`` etc. by kind) and
exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def new_photo() -> np.ndarray:
    """The left view of scikit-image's Middlebury motorcycle, float32 (256, 256, 3) in [0, 1]:
    not one of the benchmark's photos."""
    import skimage.data

    return skimage.data.stereo_motorcycle()[0][100:356, 200:456].astype(np.float32) / 255.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1] (uint8 images are scaled first)."""
    a, b = (x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64) for x in (a, b))
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def imresize(images: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB-style bicubic resize of float (N, H, W, 3) images, the benchmark's own degradation."""
    import torch

    from trainables.data.degradations import imresize as torch_imresize

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    return torch_imresize(x, scale).permute(0, 2, 3, 1).numpy()


def crops(photo: np.ndarray, n: int = 4, size: int = 96) -> np.ndarray:
    step = (photo.shape[0] - size) // max(1, n - 1)
    return to_uint8(np.stack([photo[i * step:i * step + size, i * step:i * step + size] for i in range(n)]))


def probe(model, io, sigma: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the model on the probe its declaration calls for: (input, output, what to report)."""
    from trainables.model_io import ClassScores, Descriptors, Features, Images, ScoreDistribution

    photo = new_photo()
    noisy = to_uint8(photo + np.random.default_rng(0).normal(0.0, sigma / 255.0, photo.shape))[None]
    if isinstance(io, Images) and io.pick_scale(None) == 1:
        out = model.predict(noisy)
        return noisy, out, {"sigma": sigma, "psnr_noisy": psnr(noisy[0], photo), "psnr_denoised": psnr(out[0], photo)}
    if isinstance(io, Images):
        s = io.pick_scale(None)
        size = photo.shape[0] - photo.shape[0] % s  # the clean photo, cropped to a multiple of s
        clean = photo[:size, :size]
        low = to_uint8(imresize(clean[None], 1.0 / s))
        out = model.predict(low, params={"scale": s} if io.multi_scale else None)
        bicubic = to_uint8(imresize(low.astype(np.float32) / 255.0, s))
        return low, out, {"scale": s, "psnr_bicubic": psnr(bicubic[0], clean), "psnr_model": psnr(out[0], clean)}
    if isinstance(io, ClassScores):
        x = crops(photo)
        out = model.predict(x)
        return x, out, {"top_classes": [io.classes[i] for i in np.argmax(out, axis=1)]}
    if isinstance(io, ScoreDistribution):
        x = crops(photo)
        out = model.predict(x)
        return x, out, {"mean_scores": [round(float(m), 3) for m in out @ np.asarray(io.scores)]}
    if isinstance(io, Descriptors) and io.scale > 1:
        x = to_uint8(imresize(photo[None], 1.0 / io.scale))
        return x, model.predict(x), {"scale": io.scale}
    if isinstance(io, Descriptors):
        x = np.concatenate([to_uint8(photo)[None], noisy])
        out = model.predict(x)
        return x, out, {"sigma": sigma, "cosine_clean_noisy": round(float(out[0] @ out[1]), 4)}
    if isinstance(io, Features):
        x = np.random.default_rng(0).random((4, io.dim), dtype=np.float32)
        return x, model.predict(x), {}
    raise ValueError(f"no probe for model io {io!r}")


def declared_output(io, x: np.ndarray) -> tuple[tuple[int, ...], np.dtype]:
    """The output shape and dtype the declaration promises for the numpy input ``x``."""
    if io.takes == "images":
        n, h, w, _ = x.shape
        shape = io.output_shape((n, 3, h, w))
    else:
        shape = io.output_shape(x.shape)
    if io.returns == "images":  # torch (N, 3, H, W) → numpy (N, H, W, 3), uint8 in → uint8 out
        return (shape[0], shape[2], shape[3], shape[1]), np.dtype(np.uint8)
    return tuple(shape), np.dtype(np.float32)


def problems(io, x: np.ndarray, out: np.ndarray) -> list[str]:
    """What differs from the declaration: shape, dtype, probabilities that do not sum to 1."""
    found = []
    expected, dtype = declared_output(io, x)
    if tuple(out.shape) != expected:
        found.append(f"shape {tuple(out.shape)}, declared {expected}")
    if out.dtype != dtype:
        found.append(f"dtype {out.dtype}, declared {dtype}")
    if io.returns == "scores" and not np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        found.append(f"probabilities sum to {out.sum(axis=1).tolist()}, not 1")
    if io.kind == "descriptors" and not np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4):
        found.append(f"descriptor norms {np.linalg.norm(out, axis=1).tolist()}, not 1")
    return found


def check(model_uri: str, sigma: float = 50.0) -> dict:
    import os

    import mlflow

    from sweeps.pyfunc_spec import io_of

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stdout holds one JSON line
    model = mlflow.pyfunc.load_model(model_uri)
    io = io_of(model.metadata.metadata)
    x, out, seen = probe(model, io, sigma)
    return {"model_uri": model_uri, "io": io.to_dict(), "shape": list(out.shape), "dtype": str(out.dtype),
            **seen, "problems": problems(io, x, out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_uri")
    parser.add_argument("--sigma", type=float, default=50.0, help="noise σ (0-255) of a denoiser's probe")
    args = parser.parse_args(argv)
    result = check(args.model_uri, args.sigma)
    print(json.dumps(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

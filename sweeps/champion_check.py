"""Load a registered enhancer by URI and denoise a photo it never saw; print PSNR before/after.

Run as ``python -m sweeps.champion_check models:/NAME@champion [--sigma 50]`` so that it is a
fresh process, exactly as a user would load the model.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def new_noisy_photo(sigma: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The left view of scikit-image's Middlebury motorcycle: not one of the benchmark's photos."""
    import skimage.data

    clean = skimage.data.stereo_motorcycle()[0][100:356, 200:456].astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean + rng.normal(0.0, sigma / 255.0, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_uri")
    parser.add_argument("--sigma", type=float, default=50.0)
    args = parser.parse_args(argv)
    import mlflow

    model = mlflow.pyfunc.load_model(args.model_uri)
    clean, noisy = new_noisy_photo(args.sigma)
    denoised = model.predict(noisy[None])[0]
    result = {"model_uri": args.model_uri, "shape": list(denoised.shape), "psnr_noisy": psnr(noisy, clean),
              "psnr_denoised": psnr(denoised, clean)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tables 10 and 11 (denoising) and 12 (×4 SR) of seed 000 from a trial's final metrics."""

from __future__ import annotations

DENOISE = [("Clean", "_clean"), ("Noisy", "_noisy"), ("NLM", "_nlm"), ("BM3D", "_bm3d"), ("NN", "_nn"),
           ("NN + tweaked features", "")]
SR = [("Original", "_clean"), ("Down x4", "_down"), ("Bicubic x4", "_bicubic"), ("SR NN", "_nn"),
      ("SR NN + tweaked features", "")]


def table(metrics: dict[str, float]) -> list[dict]:
    """Test mAP of each method (the last row is this trial: the enhanced queries, tuned features)."""
    methods = SR if "test_map_bicubic" in metrics else DENOISE
    return [{"method": method, "mAP (test)": round(metrics[f"test_map{suffix}"], 4)}
            for method, suffix in methods if f"test_map{suffix}" in metrics]  # the classical denoiser that was run

"""Table 8 of seed 000 from a trial's final metrics."""

from __future__ import annotations

METHODS = [("Original", "_clean"), ("Down x4", "_down"), ("Bicubic x4", "_bicubic"), ("SR NN", "_nn"),
           ("SR NN-QA", "")]


def table(metrics: dict[str, float]) -> list[dict]:
    """mAP on the test landmarks, PSNR and SSIM for each method (SR NN-QA is this trial)."""
    def value(name: str) -> float | None:
        return round(metrics[name], 4) if name in metrics else None  # Original and Down have no PSNR

    return [{"method": method, "mAP (test)": value(f"test_map{suffix}"), "PSNR": value(f"test_psnr{suffix}"),
             "SSIM": value(f"test_ssim{suffix}")} for method, suffix in METHODS]

"""Table 3 of seed 000 from a trial's final metrics."""

from __future__ import annotations

METHODS = [("Clean", "_clean"), ("Noisy", "_noisy"), ("NLM", "_nlm"), ("BM3D", "_bm3d"), ("NN", "_nn"), ("NN-QA", "")]


def table(metrics: dict[str, float]) -> list[dict]:
    """mAP on the test landmarks, PSNR and SSIM for each method (NN-QA is this trial)."""
    def value(name: str) -> float | None:
        return round(metrics[name], 4) if name in metrics else None  # Clean has no PSNR/SSIM

    rows = []
    for method, suffix in METHODS:
        if f"test_map{suffix}" not in metrics:
            continue  # the classical denoiser that was not run
        rows.append({"method": method, "mAP (test)": value(f"test_map{suffix}"),
                     "PSNR": value(f"test_psnr{suffix}"), "SSIM": value(f"test_ssim{suffix}")})
    return rows

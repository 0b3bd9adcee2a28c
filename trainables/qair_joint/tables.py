"""Table 9 of seed 000 from a trial's final metrics, with the two kinds of test input apart."""

from __future__ import annotations

# (method, suffix of the mean over both test inputs, of the noisy input, of the small input)
METHODS = [("Clean", "_clean", "_clean", "_clean"), ("Noisy/LR", "_degraded", "_noisy", "_bicubic"),
           ("NN", "_nn", "_nn_noise", "_nn_sr"), ("NN-QA", "", "_noise", "_sr")]


def table(metrics: dict[str, float]) -> list[dict]:
    """mAP on the test landmarks over both test versions of each query (Table 9), then per version,
    with PSNR where the image has the query's size."""
    def value(name: str) -> float | None:
        return round(metrics[name], 4) if name in metrics else None

    return [{"method": method, "mAP (test)": value(f"test_map{both}"), "mAP noisy": value(f"test_map{noise}"),
             "mAP LR x4": value(f"test_map{small}"), "PSNR noisy": value(f"test_psnr{noise}"),
             "PSNR LR x4": value(f"test_psnr{small}")} for method, both, noise, small in METHODS]

"""Seed 002's comparison of one trial: PSNR, SSIM and NIMA score of each method on the test photos."""

from __future__ import annotations

ROWS = [("HR (reference)", "_hr"), ("bicubic", "_bicubic"), ("baseline model (L2 only, pretrained)", "_pretrained"),
        ("L2 fine-tuned as long (γ = 0)", "_l2"), ("this trial: L2 + γ·(10 − NIMA)", "")]


def table(metrics: dict[str, float]) -> list[dict]:
    """One row per method; MDSR trials add a row per extra scale (``_x3``, ``_x4``)."""
    rows = []
    for label, suffix in ROWS:
        cells = {m: round(metrics[f"test_{m}{suffix}"], 4) for m in ("psnr", "ssim", "nima") if f"test_{m}{suffix}" in metrics}
        if cells:
            rows.append({"method": label, **cells})
    for scale in (3, 4):
        for label, suffix in ROWS[2:]:
            cells = {m: round(metrics[f"test_{m}_x{scale}{suffix}"], 4) for m in ("psnr", "ssim", "nima")
                     if f"test_{m}_x{scale}{suffix}" in metrics}
            if cells:
                rows.append({"method": f"{label}, ×{scale}", **cells})
    if "judge_srcc" in metrics:
        rows.append({"method": "NIMA judge on its test split (SRCC, PLCC, EMD)", "psnr": None,
                     "srcc": round(metrics["judge_srcc"], 4), "plcc": round(metrics["judge_plcc"], 4),
                     "emd": round(metrics["judge_emd"], 4)})
    return rows

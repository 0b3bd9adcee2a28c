"""Seed 001's figures as tables, from one trial's metrics (the test landmarks).

``table``: retrieval mAP per query size for every method (Fig. 6 as rows). ``curves``: one table
per figure, its first column the x-axis and one column per method, which the sweep report plots.
"""

from __future__ import annotations

import re

METHODS = (("_raw", "Raw"), ("_isr", "ISR"), ("_cnn", "CNN-Baseline"), ("_gan_mse", "GAN-MSE (r = 1)"),
           ("", "FSR-GAN (this trial)"))


def _factors(metrics: dict[str, float]) -> list[int]:
    return sorted({int(m.group(1)) for key in metrics if (m := re.fullmatch(r"test_map_x(\d+)_raw", key))})


def _ratio(k: int) -> str:
    return f"1/{k * k}"


def table(metrics: dict[str, float]) -> list[dict]:
    ks = _factors(metrics)
    rows = [{"method": "large query (no downsampling)", **{_ratio(k): metrics.get("test_map_clean") for k in ks},
             "mean": metrics.get("test_map_clean")}]
    for suffix, name in METHODS:
        rows.append({"method": name, **{_ratio(k): metrics.get(f"test_map_x{k}{suffix}") for k in ks},
                     "mean": metrics.get(f"test_map{suffix}")})
    return rows


def curves(metrics: dict[str, float]) -> dict[str, list[dict]]:
    ks = _factors(metrics)

    def per_ratio(quantity: str, methods=METHODS, extra=()) -> list[dict]:
        return [{"area ratio": _ratio(k), **{name: metrics.get(f"test_{quantity}_x{k}{suffix}") for suffix, name in methods},
                 **{name: metrics.get(key) for name, key in extra}} for k in ks]

    few = [m for m in METHODS if m[0] in ("_raw", "_isr", "")]
    return {
        "table1_distance_variance": [{"area ratio": _ratio(k), "variance of ‖F_LR − F_HR‖": metrics.get(f"test_dist_var_x{k}_raw")}
                                     for k in ks],
        "fig4_distance_to_large": per_ratio("dist", extra=(("similar images", "test_dist_similar"),
                                                           ("non-similar images", "test_dist_dissimilar"))),
        "fig6_map": per_ratio("map", extra=(("large query", "test_map_clean"),)),
        "fig7_map_distractors": per_ratio("map_distractors", extra=(("large query", "test_map_distractors_clean"),)),
        "fig8_map_vs_bits": [{"query bits (PNG)": metrics.get(f"test_bits_x{k}"),
                              **{name: metrics.get(f"test_map_x{k}{suffix}") for suffix, name in few}} for k in ks],
    }

"""Seed 003's tables from a trial's final metrics: ``table`` (qrnet), ``mtable`` (mqrnet)."""

from __future__ import annotations

import re

from trainables.qrnet.data import KINDS

_COLUMN = re.compile(r"^(?:(noise|blur)_(avg|[0-9.]+)|avg)$")


def _row(metrics: dict[str, float], label: str, metric: str, stem: str) -> dict | None:
    """One table row: per level (Figs. 4–6), per-type and overall means (Tables 2, 4, 5)."""
    cells = []
    for name, v in metrics.items():
        m = _COLUMN.match(name[len(stem) + 1:]) if name.startswith(stem + "_") else None
        if m:
            kind, level = m.groups()
            order = (KINDS.index(kind) if kind else len(KINDS), level == "avg", float(level) if level and level != "avg" else 0.0)
            cells.append((order, name[len(stem) + 1:], round(v, 4)))
    if not cells:
        return None
    return {"method": label, "metric": metric, **{col: v for _, col, v in sorted(cells)}}


def table(metrics: dict[str, float]) -> list[dict]:
    """Tables 2 and 4 (accuracy per type and level), Table 5 (PSNR/SSIM), for qrnet."""
    e2e = metrics.get("end_to_end", 0.0) > 0
    rows = [("C (clean-trained), distorted input", "acc", "test_acc_distorted"),
            ("RecNet (single) + C", "acc", "test_acc_recnet_single"),
            ("RecNet (multiple) + C", "acc", "test_acc_recnet_multi"),
            ("Fine-tuned C (single)", "acc", "test_acc_finetuned_single"),
            ("Fine-tuned C (multiple)", "acc", "test_acc_finetuned_multi"),
            ("QRNet + C (end-to-end)" if e2e else "QRNet + C", "acc", "test_acc"),
            ("distorted", "psnr", "test_psnr_distorted"), ("RecNet (multiple)", "psnr", "test_psnr_recnet_multi"),
            ("QRNet", "psnr", "test_psnr"),
            ("distorted", "ssim", "test_ssim_distorted"), ("RecNet (multiple)", "ssim", "test_ssim_recnet_multi"),
            ("QRNet", "ssim", "test_ssim")]
    out = [r for r in (_row(metrics, *spec) for spec in rows) if r]
    if "test_acc_clean" in metrics:
        out.append({"method": "C (clean-trained), clean input", "metric": "acc", "avg": round(metrics["test_acc_clean"], 4)})
    return out


def mtable(metrics: dict[str, float]) -> list[dict]:
    """Fig. 6 (the unseen classifier per level), the training classifiers, Table 5 for MQRNet."""
    rows = [("unseen, distorted input", "acc", "test_acc_unseen_distorted"),
            ("RecNet (multiple) + unseen", "acc", "test_acc_unseen_recnet_multi"),
            ("QRNet (c1 only) + unseen", "acc", "test_acc_unseen_qrnet_one"),
            ("MQRNet + unseen", "acc", "test_acc_unseen")]
    tags = sorted({m.group(1) for m in map(re.compile(r"^test_acc_(c\d+)_clean$").match, metrics) if m}, key=lambda t: int(t[1:]))
    for tag in tags:
        rows += [(f"{tag}, distorted input", "acc", f"test_acc_{tag}_distorted"), (f"MQRNet + {tag}", "acc", f"test_acc_{tag}")]
    rows += [("distorted", "psnr", "test_psnr_distorted"), ("MQRNet", "psnr", "test_psnr"),
             ("distorted", "ssim", "test_ssim_distorted"), ("MQRNet", "ssim", "test_ssim")]
    out = [r for r in (_row(metrics, *spec) for spec in rows) if r]
    for tag in ("unseen", *tags):
        if f"test_acc_{tag}_clean" in metrics:
            out.append({"method": f"{tag}, clean input", "metric": "acc", "avg": round(metrics[f"test_acc_{tag}_clean"], 4)})
    return out

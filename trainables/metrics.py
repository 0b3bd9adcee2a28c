"""Evaluation metrics: PSNR, SSIM, retrieval AP/mAP (revisitop protocol), accuracy, NIMA.

Images are float32 tensors (N, C, H, W), RGB, in [0, 1]. Every metric returns Python floats
(or a dict of floats) except the per-image / per-sample helpers and ``emd_loss``, which return
tensors so they can be logged per image or back-propagated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "psnr",
    "psnr_per_image",
    "ssim",
    "ssim_per_image",
    "rgb_to_y",
    "average_precision",
    "compute_map",
    "revisitop_map",
    "ranks_from_scores",
    "top1_accuracy",
    "topk_accuracy",
    "nima_mean_score",
    "nima_std",
    "emd_loss",
]


# --------------------------------------------------------------------------- fidelity


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of RGB images in [0, 1], on the 0-255 scale, shape (N, 1, H, W).

    Same coefficients as MATLAB ``rgb2ycbcr`` and BasicSR's ``rgb2ycbcr(y_only=True)``, so
    Y-channel numbers are comparable with published SR tables.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"rgb_to_y expects (N, 3, H, W), got {tuple(x.shape)}")
    w = x.new_tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1)
    return 16.0 + (x * w).sum(dim=1, keepdim=True)


def _prepare(
    x: torch.Tensor, y: torch.Tensor, crop_border: int, y_channel: bool, data_range: float
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Check shapes, crop, optionally convert to Y; return float64 images and their range."""
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.dim() != 4:
        raise ValueError(f"expected (N, C, H, W), got {tuple(x.shape)}")
    # float64: SSIM's variances are differences of near-equal means, float32 loses digits.
    x, y = x.detach().double(), y.detach().double()
    if crop_border > 0:
        c = crop_border
        x, y = x[..., c:-c, c:-c], y[..., c:-c, c:-c]
    if y_channel:
        # Y conversion assumes [0, 1]; the result lives on the 0-255 scale.
        x, y = rgb_to_y(x / data_range), rgb_to_y(y / data_range)
        data_range = 255.0
    return x, y, float(data_range)


def psnr_per_image(
    x: torch.Tensor,
    y: torch.Tensor,
    crop_border: int = 0,
    y_channel: bool = False,
    data_range: float = 1.0,
) -> torch.Tensor:
    """PSNR in dB of each image pair, shape (N,); identical images give ``inf``.

    With ``y_channel`` the inputs (divided by ``data_range``) are converted to BT.601 Y on
    the 0-255 scale and PSNR uses a range of 255, as BasicSR does. No uint8 rounding is applied.
    """
    x, y, rng = _prepare(x, y, crop_border, y_channel, data_range)
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(rng**2 / mse)


def psnr(
    x: torch.Tensor,
    y: torch.Tensor,
    crop_border: int = 0,
    y_channel: bool = False,
    data_range: float = 1.0,
) -> float:
    """Mean over the batch of per-image PSNR (dB), not the PSNR of the batch MSE."""
    return float(psnr_per_image(x, y, crop_border, y_channel, data_range).mean())


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1-D Gaussian, equal to one axis of MATLAB ``fspecial('gaussian', 11, 1.5)``."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_per_image(
    x: torch.Tensor, y: torch.Tensor, crop_border: int = 0, y_channel: bool = False
) -> torch.Tensor:
    """SSIM (Wang et al. 2004) of each image pair, shape (N,), averaged over channels.

    11x11 Gaussian window (sigma 1.5), K1=0.01, K2=0.03, data range 1 (255 with
    ``y_channel``), "valid" filtering: only windows fully inside the image count, as in the
    reference MATLAB code and skimage (``gaussian_weights=True, use_sample_covariance=False``).
    """
    x, y, rng = _prepare(x, y, crop_border, y_channel, 1.0)
    n, c, h, w = x.shape
    if min(h, w) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 after cropping, got {h}x{w}")
    g = _gaussian_window()
    # Separable depthwise filter: treat every channel of every image as its own 1-channel map.
    kh, kw = g.view(1, 1, 11, 1), g.view(1, 1, 1, 11)

    def filt(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(z.reshape(n * c, 1, h, w), kh), kw)

    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    mx, my = filt(x), filt(y)
    vx = filt(x * x) - mx * mx
    vy = filt(y * y) - my * my
    cxy = filt(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return smap.reshape(n, c, -1).mean(dim=2).mean(dim=1)


def ssim(x: torch.Tensor, y: torch.Tensor, crop_border: int = 0, y_channel: bool = False) -> float:
    """Mean over the batch of per-image SSIM; see ``ssim_per_image`` for the definition."""
    return float(ssim_per_image(x, y, crop_border, y_channel).mean())


# --------------------------------------------------------------------------- retrieval
#
# Semantics follow revisitop's python/evaluate.py (Radenovic et al., CVPR 2018) exactly:
# junk images are taken out of the ranking (each positive moves up by the number of junk
# images ranked above it), AP is the trapezoidal area under the PR curve with recall step
# 1/len(ok) (positives missing from a truncated ranking still count in the denominator), and
# mP@k uses min(k, rank of the last positive) as its cut-off.


def _query_ap_pr(
    ranked: np.ndarray, ok: np.ndarray, junk: np.ndarray, kappas: Sequence[int]
) -> tuple[float, np.ndarray]:
    """AP and precision@kappas for one query with at least one positive."""
    pos = np.flatnonzero(np.isin(ranked, ok))
    junk_pos = np.flatnonzero(np.isin(ranked, junk))
    # Junk strictly above a positive shifts it up; an index that is both ok and junk stays a
    # positive (revisitop compares positions with '>', so it does not shift itself).
    pos = pos - np.searchsorted(junk_pos, pos, side="left")
    j = np.arange(len(pos))
    prec_before = np.where(pos == 0, 1.0, j / np.maximum(pos, 1))
    prec_after = (j + 1) / (pos + 1)
    ap = float(((prec_before + prec_after) / 2).sum() / len(ok))
    if len(pos) == 0:
        # revisitop raises here (max of an empty array); no positive retrieved = precision 0.
        return ap, np.zeros(len(kappas))
    pos1 = pos + 1
    prs = np.array([(pos1 <= min(pos1.max(), k)).sum() / min(pos1.max(), k) for k in kappas])
    return ap, prs.astype(float)


def _as_index_array(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64).reshape(-1)


def average_precision(ranked_db_indices, positives, junk=()) -> float:
    """Revisitop AP of one query, as a fraction in [0, 1].

    ``ranked_db_indices``: database indices, best first. ``positives``/``junk``: database
    indices. Junk images are ignored (removed from the ranking). Returns ``nan`` when there
    are no positives, as revisitop does (such queries are left out of the mean).
    """
    ok = _as_index_array(positives)
    if ok.size == 0:
        return float("nan")
    ap, _ = _query_ap_pr(_as_index_array(ranked_db_indices), ok, _as_index_array(junk), ())
    return ap


def compute_map(
    ranks, gnd: Sequence[dict], kappas: Sequence[int] = (1, 5, 10)
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Revisitop ``compute_map``: (mAP, per-query APs, mP@kappas, per-query P@kappas).

    ``ranks`` has shape (n_db, n_queries): column j lists database indices best-first for
    query j. ``gnd[j]`` has ``'ok'`` and optionally ``'junk'`` index lists. Queries without
    positives get ``nan`` in ``aps``/``prs`` and are excluded from the means; if no query has
    positives the means are ``nan``. Values are fractions in [0, 1], not percent.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 2 or ranks.shape[1] != len(gnd):
        raise ValueError(f"ranks must be (n_db, {len(gnd)}), got {ranks.shape}")
    nq = len(gnd)
    aps = np.full(nq, np.nan)
    prs = np.full((nq, len(kappas)), np.nan)
    for i, g in enumerate(gnd):
        ok = _as_index_array(g["ok"])
        if ok.size == 0:
            continue
        aps[i], prs[i] = _query_ap_pr(ranks[:, i], ok, _as_index_array(g.get("junk", ())), kappas)
    valid = ~np.isnan(aps)
    if not valid.any():
        return float("nan"), aps, np.full(len(kappas), np.nan), prs
    return float(aps[valid].mean()), aps, prs[valid].mean(axis=0), prs


def revisitop_map(ranks, gnd: Sequence[dict], kappas: Sequence[int] = (1, 5, 10)) -> dict:
    """Easy / Medium / Hard mAP and mP@k of the revisited Oxford/Paris protocol.

    ``gnd[j]`` has ``'easy'``, ``'hard'`` and ``'junk'``. Easy: ok=easy, junk=junk+hard;
    Medium: ok=easy+hard, junk=junk; Hard: ok=hard, junk=junk+easy. Returns
    ``{"mAP_E", "mAP_M", "mAP_H", "mP@1_E", ..., "mP@10_H"}`` as fractions in [0, 1]
    (multiply by 100 for the percentages papers print).
    """

    def cat(*lists) -> np.ndarray:
        return np.concatenate([_as_index_array(v) for v in lists])

    setups = {
        "E": lambda g: {"ok": cat(g["easy"]), "junk": cat(g["junk"], g["hard"])},
        "M": lambda g: {"ok": cat(g["easy"], g["hard"]), "junk": cat(g["junk"])},
        "H": lambda g: {"ok": cat(g["hard"]), "junk": cat(g["junk"], g["easy"])},
    }
    out: dict[str, float] = {}
    for name, make in setups.items():
        m, _, mpr, _ = compute_map(ranks, [make(g) for g in gnd], kappas)
        out[f"mAP_{name}"] = m
        for k, p in zip(kappas, mpr):
            out[f"mP@{k}_{name}"] = float(p)
    return out


def ranks_from_scores(scores) -> np.ndarray:
    """Revisitop ranks (n_db, n_queries) from similarities (n_queries, n_db), higher = better.

    Ties keep ascending database index (stable sort).
    """
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (n_queries, n_db), got {scores.shape}")
    return np.argsort(-scores, axis=1, kind="stable").T


# --------------------------------------------------------------------------- classification


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    """Fraction of samples whose target class is among the ``k`` highest logits."""
    top = logits.detach().topk(k, dim=1).indices
    return float((top == targets.view(-1, 1)).any(dim=1).float().mean())


def top1_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose highest logit is the target class."""
    return topk_accuracy(logits, targets, 1)


# --------------------------------------------------------------------------- NIMA


def _scores(probs: torch.Tensor) -> torch.Tensor:
    return torch.arange(1, probs.shape[-1] + 1, dtype=probs.dtype, device=probs.device)


def nima_mean_score(probs: torch.Tensor) -> torch.Tensor:
    """Mean score sum_s s * p_s of NIMA distributions (N, K) over scores 1..K, shape (N,)."""
    return (probs * _scores(probs)).sum(dim=-1)


def nima_std(probs: torch.Tensor) -> torch.Tensor:
    """Standard deviation sqrt(sum_s (s - mean)^2 * p_s) of NIMA distributions, shape (N,)."""
    mean = nima_mean_score(probs).unsqueeze(-1)
    return ((_scores(probs) - mean).pow(2) * probs).sum(dim=-1).sqrt()


def emd_loss(p: torch.Tensor, q: torch.Tensor, r: float = 2.0) -> torch.Tensor:
    """NIMA's normalised Earth Mover's Distance, mean over the batch (scalar tensor).

    Per sample: (1/K * sum_k |CDF_p(k) - CDF_q(k)|^r)^(1/r) for distributions (N, K).
    Differentiable; the gradient is 0 (not nan) where p equals q.
    """
    if p.shape != q.shape:
        raise ValueError(f"shape mismatch: {tuple(p.shape)} vs {tuple(q.shape)}")
    d = (p.cumsum(dim=-1) - q.cumsum(dim=-1)).abs().pow(r).mean(dim=-1)
    # x^(1/r) has an infinite slope at 0; route exact zeros around it to keep gradients finite.
    tiny = torch.finfo(d.dtype).tiny
    per_sample = torch.where(d > 0, d.clamp_min(tiny).pow(1.0 / r), torch.zeros_like(d))
    return per_sample.mean()

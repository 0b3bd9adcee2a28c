"""Tests for trainables.metrics: hand-computed values and cross-checks against skimage."""

import math

import numpy as np
import pytest
import torch
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from trainables import metrics as M


def _pair(seed: int = 0, n: int = 2, h: int = 32, w: int = 40):
    """A random batch and a noisy copy of it, both in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, h, w, generator=g)
    y = (x + 0.1 * torch.randn(n, 3, h, w, generator=g)).clamp(0, 1)
    return x, y


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).double().numpy()


# --------------------------------------------------------------------------- PSNR


def test_psnr_is_mean_of_per_image_psnr_not_psnr_of_batch_mse():
    x = torch.zeros(2, 3, 4, 4)
    y = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.01)])
    # MSEs 1e-2 and 1e-4 -> 20 dB and 40 dB; the batch-MSE PSNR would be ~22.97 dB.
    assert M.psnr_per_image(x, y).tolist() == pytest.approx([20.0, 40.0])
    assert M.psnr(x, y) == pytest.approx(30.0)


def test_psnr_data_range():
    x, y = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 25.5)
    assert M.psnr(x, y, data_range=255.0) == pytest.approx(20.0)


def test_rgb_to_y_studio_range():
    rgb = torch.stack([torch.zeros(3, 1, 1), torch.ones(3, 1, 1)])
    assert M.rgb_to_y(rgb).flatten().tolist() == pytest.approx([16.0, 235.0])


def test_psnr_y_channel_matches_bt601_on_255_scale():
    x, y = _pair(1)
    expected = np.mean(
        [
            peak_signal_noise_ratio(
                rgb2ycbcr(_hwc(a))[..., 0], rgb2ycbcr(_hwc(b))[..., 0], data_range=255
            )
            for a, b in zip(x, y)
        ]
    )
    assert M.psnr(x, y, y_channel=True) == pytest.approx(expected, abs=1e-4)
    # Hand check: a grey offset of 0.1 moves Y by 0.1 * (65.481 + 128.553 + 24.966) = 21.9.
    z = torch.zeros(1, 3, 4, 4)
    assert M.psnr(z, z + 0.1, y_channel=True) == pytest.approx(20 * math.log10(255 / 21.9))


def test_psnr_crop_border_ignores_the_border():
    x = torch.rand(1, 3, 8, 8)
    y = x.clone()
    y[..., 0, :] = 0.0  # differences only in the top row
    assert math.isfinite(M.psnr(x, y))
    assert M.psnr(x, y, crop_border=1) == math.inf


# --------------------------------------------------------------------------- SSIM


def test_ssim_matches_skimage_gaussian_valid():
    x, y = _pair(2)
    expected = np.mean(
        [
            structural_similarity(
                _hwc(a), _hwc(b), channel_axis=-1, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False, data_range=1.0,
            )
            for a, b in zip(x, y)
        ]
    )
    assert M.ssim(x, y) == pytest.approx(expected, abs=1e-4)


def test_ssim_y_channel_and_crop_match_skimage():
    x, y = _pair(3)
    c = 4
    expected = np.mean(
        [
            structural_similarity(
                rgb2ycbcr(_hwc(a))[c:-c, c:-c, 0], rgb2ycbcr(_hwc(b))[c:-c, c:-c, 0],
                gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
            )
            for a, b in zip(x, y)
        ]
    )
    assert M.ssim(x, y, crop_border=c, y_channel=True) == pytest.approx(expected, abs=1e-4)


def test_ssim_identical_is_one_and_noise_lowers_it():
    x, y = _pair(4)
    assert M.ssim(x, x) == pytest.approx(1.0, abs=1e-9)
    assert M.ssim(x, y) < 0.95


def test_ssim_rejects_too_small_images():
    with pytest.raises(ValueError):
        M.ssim(torch.rand(1, 3, 10, 10), torch.rand(1, 3, 10, 10))


# --------------------------------------------------------------------------- retrieval AP


def test_ap_hand_computed_trapezoid():
    # Positives {7, 9} at 1-based ranks 1 and 3 of 4, no junk; recall step 1/2.
    #   1st positive, 0-based rank 0: precision before = 1 (rank 0), after = 1/1 -> (1 + 1)/2 * 1/2
    #   2nd positive, 0-based rank 2: before = 1/2, after = 2/3          -> (1/2 + 2/3)/2 * 1/2
    # AP = 1/2 + 7/24 = 19/24 ~ 0.7917 (non-interpolated AP would be (1 + 2/3)/2 = 0.8333).
    assert M.average_precision([7, 8, 9, 6], positives=[7, 9], junk=[]) == pytest.approx(19 / 24)


def test_junk_above_a_positive_does_not_hurt():
    clean = M.average_precision([7, 8, 9, 6], positives=[7, 9], junk=[])
    with_junk = M.average_precision([5, 7, 4, 8, 9, 6], positives=[7, 9], junk=[5, 4])
    assert with_junk == pytest.approx(clean)
    # ... whereas the same images as plain negatives do hurt.
    assert M.average_precision([5, 7, 4, 8, 9, 6], positives=[7, 9]) < clean - 0.1


def test_ap_perfect_ranking_and_missing_positives():
    assert M.average_precision([3, 1, 0, 2], positives=[1, 3]) == pytest.approx(1.0)
    # A positive absent from a truncated ranking still counts in the recall denominator.
    assert M.average_precision([0], positives=[0, 5]) == pytest.approx(0.5)
    assert math.isnan(M.average_precision([0, 1], positives=[]))


def test_index_both_ok_and_junk_counts_as_positive_like_revisitop():
    assert M.average_precision([0, 1], positives=[0], junk=[0]) == pytest.approx(1.0)


def test_ap_matches_explicit_junk_removal_on_random_rankings():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ranked = rng.permutation(30)
        ok, junk = rng.choice(30, 5, replace=False), rng.choice(30, 4, replace=False)
        junk = np.setdiff1d(junk, ok)
        kept = [d for d in ranked if d not in set(junk)]  # junk-free ranking
        hits = [r for r, d in enumerate(kept) if d in set(ok)]
        expected = sum(
            ((j / r if r else 1.0) + (j + 1) / (r + 1)) / 2 / len(ok) for j, r in enumerate(hits)
        )
        assert M.average_precision(ranked, ok, junk) == pytest.approx(expected)


def test_compute_map_excludes_queries_without_positives():
    ranks = np.array([[7, 7], [8, 8], [9, 9], [6, 6]])
    gnd = [{"ok": [7, 9], "junk": []}, {"ok": [], "junk": [8]}]
    m, aps, mpr, prs = M.compute_map(ranks, gnd)
    assert m == pytest.approx(19 / 24)
    assert math.isnan(aps[1]) and np.isnan(prs[1]).all()
    assert mpr == pytest.approx(prs[0])


def test_compute_map_precision_at_k_uses_revisitop_cutoff():
    ranks = np.array([[7], [8], [9], [6]])
    _, _, mpr, _ = M.compute_map(ranks, [{"ok": [7, 9]}], kappas=(1, 2, 5))
    # Positives at 1-based 1 and 3. P@1 = 1, P@2 = 1/2; P@5 is cut at the last positive
    # (min(5, 3) = 3) so it is 2/3, not 2/5.
    assert mpr == pytest.approx([1.0, 0.5, 2 / 3])


def test_compute_map_all_queries_empty_gives_nan():
    m, _, mpr, _ = M.compute_map(np.array([[0], [1]]), [{"ok": []}])
    assert math.isnan(m) and np.isnan(mpr).all()


def test_revisitop_map_easy_medium_hard():
    # Query 0: easy {0, 3}, hard {1}, junk {2}; ranking 0, 1, 2, 4, 3, 5.
    #   E: ok {0,3}, junk {2,1}: positives at junk-free 0-based ranks 0, 2 -> 19/24.
    #   M: ok {0,3,1}, junk {2}: ranks 0, 1, 3 -> 1/3 + 1/3 + (2/3 + 3/4)/2/3 = 65/72.
    #   H: ok {1}, junk {2,0,3}: the easy image above it is junk, so rank 0 -> 1
    #      (were easy a negative it would be (0 + 1/2)/2 = 1/4).
    # Query 1: easy {5}, no hard: perfect for E and M, excluded from H.
    ranks = np.array([[0, 5], [1, 0], [2, 1], [4, 2], [3, 3], [5, 4]])
    gnd = [
        {"easy": [0, 3], "hard": [1], "junk": [2]},
        {"easy": [5], "hard": [], "junk": []},
    ]
    out = M.revisitop_map(ranks, gnd, kappas=(1, 5))
    assert out["mAP_E"] == pytest.approx((19 / 24 + 1) / 2)
    assert out["mAP_M"] == pytest.approx((65 / 72 + 1) / 2)
    assert out["mAP_H"] == pytest.approx(1.0)
    assert out["mP@1_E"] == pytest.approx(1.0)
    assert out["mP@5_E"] == pytest.approx((2 / 3 + 1) / 2)  # query 0 cut at rank 3
    assert out["mP@5_M"] == pytest.approx((3 / 4 + 1) / 2)  # query 0 cut at rank 4
    assert set(out) == {f"{m}_{s}" for m in ("mAP", "mP@1", "mP@5") for s in "EMH"}
    assert all(type(v) is float for v in out.values())


def test_ranks_from_scores_layout_and_stable_ties():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1], [0.0, 0.0, 1.0, 0.0]])
    ranks = M.ranks_from_scores(scores)
    assert ranks.shape == (4, 2)
    assert ranks[:, 0].tolist() == [1, 0, 2, 3]
    assert ranks[:, 1].tolist() == [2, 0, 1, 3]


# --------------------------------------------------------------------------- accuracy


def test_accuracy():
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    targets = torch.tensor([1, 1, 0, 2])
    assert M.top1_accuracy(logits, targets) == pytest.approx(0.25)
    # top-2 sets: {1,2} {0,1} {2,1} {0,2} -> hits on samples 0, 1, 3.
    assert M.topk_accuracy(logits, targets, 2) == pytest.approx(0.75)
    assert M.topk_accuracy(logits, targets, 3) == pytest.approx(1.0)


# --------------------------------------------------------------------------- NIMA


def _one_hot(score: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor([score - 1]), 10).float()


def test_nima_mean_and_std():
    probs = torch.cat([_one_hot(10), torch.full((1, 10), 0.1), 0.5 * (_one_hot(2) + _one_hot(4))])
    assert M.nima_mean_score(probs).tolist() == pytest.approx([10.0, 5.5, 3.0])
    # Uniform over 1..10: variance (10^2 - 1)/12 = 8.25; half-half on 2 and 4: std 1.
    assert M.nima_std(probs).tolist() == pytest.approx([0.0, math.sqrt(8.25), 1.0])


def test_emd_loss_values():
    lo, hi = _one_hot(1), _one_hot(10)
    # CDFs differ by 1 at k = 1..9 and agree at 10: mean |diff|^r = 9/10.
    assert float(M.emd_loss(lo, hi)) == pytest.approx(math.sqrt(0.9))
    assert float(M.emd_loss(lo, hi, r=1)) == pytest.approx(0.9)
    # Batch mean: one identical pair (0) and the pair above.
    batch = M.emd_loss(torch.cat([lo, lo]), torch.cat([lo, hi]))
    assert float(batch) == pytest.approx(math.sqrt(0.9) / 2)


def test_emd_loss_zero_for_equal_and_gradients_finite():
    p = torch.softmax(torch.randn(3, 10), dim=1).requires_grad_()
    loss = M.emd_loss(p, p.detach().clone())
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert torch.isfinite(p.grad).all()
    # Away from the optimum the gradient is non-zero, so it can train.
    q = torch.softmax(torch.randn(3, 10), dim=1).requires_grad_()
    M.emd_loss(q, _one_hot(7).expand(3, 10)).backward()
    assert q.grad.abs().sum() > 0

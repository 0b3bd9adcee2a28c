"""What is nima_sr's own: the open weighted sum, the stage keys, the data splits, the quality set's
rating rule, the configs it refuses. The shared contract tests cover the rest."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainables.data import embedded_quality
from trainables.data.ava import load_ava
from trainables.data.degradations import imresize
from trainables.data.sources import QUALITY_PHOTOS, SR_PHOTOS
from trainables.errors import UserInputError
from trainables.model_io import Images
from trainables.nima_sr import SCHEME, SMOKE, Config, coupled_loss
from trainables.nima_sr.data import TrainPairs, degrade
from trainables.nima_sr.stages import JUDGE, L2_TWIN, PRETRAIN, l2


def test_coupled_loss_is_l2_on_255_scale_plus_gamma_nima_gap():
    out, hr = torch.rand(2, 3, 8, 8, requires_grad=True), torch.rand(2, 3, 8, 8)
    scores = torch.tensor([6.0, 8.0])
    loss, pixel = coupled_loss(out, hr, scores, gamma=0.4)
    assert pixel.item() == pytest.approx(255 ** 2 * F.mse_loss(out, hr).item(), rel=1e-5)
    assert loss.item() == pytest.approx(pixel.item() + 0.4 * (10 - 7.0), rel=1e-6)
    assert coupled_loss(out, hr, scores, gamma=0.0)[0].item() == pytest.approx(pixel.item())


def test_nima_term_reaches_the_enhancer_output():
    torch.manual_seed(0)
    from trainables.models import NIMAHead
    from trainables.metrics import nima_mean_score

    judge = NIMAHead("small", dropout=0.0).eval().requires_grad_(False)
    out, hr = torch.rand(2, 3, 32, 32, requires_grad=True), torch.rand(2, 3, 32, 32)
    loss, pixel = coupled_loss(out, hr, nima_mean_score(judge(out.clamp(0, 1))), gamma=1.0)
    (grad_total,) = torch.autograd.grad(loss, out)
    (grad_l2,) = torch.autograd.grad(l2(out, hr), out)
    assert not torch.allclose(grad_total, grad_l2)  # the judge's gradient is in the sum


def test_stage_keys_ignore_gamma_and_the_twin_follows_lr():
    a, b = Config(gamma=0.01), Config(gamma=0.9)
    for stage in (JUDGE, PRETRAIN, L2_TWIN):
        assert stage.full_key(a) == stage.full_key(b)
    c = Config(lr=3e-4)
    assert PRETRAIN.full_key(a) == PRETRAIN.full_key(c) and JUDGE.full_key(a) == JUDGE.full_key(c)
    assert L2_TWIN.full_key(a) != L2_TWIN.full_key(c)
    assert PRETRAIN.full_key(a) != PRETRAIN.full_key(Config(arch="mdsr"))
    assert PRETRAIN.full_key(a) != PRETRAIN.full_key(Config(task="deblur"))


@pytest.mark.parametrize("values, words", [
    ({"task": "denoise"}, "task"), ({"arch": "rcan"}, "arch"), ({"arch": "mdsr", "scale": 4, "mdsr_scales": [2, 3]}, "mdsr_scales"),
    ({"dataset": "div2k"}, "data_root"), ({"judge_dataset": "ava"}, "judge_root"), ({"eval_size": 100}, "eval_size"),
    ({"judge_crop": 300}, "judge_crop"), ({"gamma": -1}, "gamma"), ({"lamda": 1}, "no field"),
])
def test_bad_configs_are_one_line_user_errors(values, words):
    with pytest.raises(UserInputError, match=words):
        Config.from_dict(values)


def test_model_io_edsr_one_scale_mdsr_scale_is_an_input():
    assert SCHEME.model_io(Config(scale=3)) == Images(scales=(3,))
    assert SCHEME.model_io(Config(arch="mdsr")) == Images(scales=(2, 3, 4))


def test_photo_splits_are_disjoint_and_none_is_in_the_quality_set():
    names = {split: {s.name for s in photos} for split, photos in SR_PHOTOS.items()}
    assert not names["train"] & names["val"] and not names["train"] & names["test"] and not names["val"] & names["test"]
    assert not set().union(*names.values()) & {s.name for s in QUALITY_PHOTOS}


def test_patches_are_aligned_and_deblur_inputs_are_blurred():
    config = Config.from_dict(SMOKE)
    lr, hr = TrainPairs(config).batch(2, 6, torch.Generator().manual_seed(0))
    assert lr.shape == (6, 3, 12, 12) and hr.shape == (6, 3, 24, 24)
    # the LR patch is the HR patch downscaled (inner pixels: imresize's support crosses patch edges)
    assert (imresize(hr, 0.5) - lr)[..., 2:-2, 2:-2].abs().mean() < 0.01
    x = torch.rand(1, 3, 48, 48)
    sr, deblur = degrade(x, 2, Config(task="sr")), degrade(x, 2, Config(task="deblur", deblur_sigma=1.5))
    assert sr.shape == deblur.shape == (1, 3, 24, 24)
    high = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    assert high(deblur) < 0.7 * high(sr)


def test_rating_counts_simulate_raters_around_the_mean():
    counts = embedded_quality.rating_counts(6.3, 10_000, 1.4, np.random.default_rng(0))
    assert counts.sum() == 10_000 and counts.shape == (10,)
    assert (counts * np.arange(1, 11)).sum() / counts.sum() == pytest.approx(6.3, abs=0.05)
    assert embedded_quality.mean_opinion(1.0, 3.0) == 10.0 and embedded_quality.mean_opinion(0.5, 3.0) == pytest.approx(2.125)


@pytest.fixture(scope="module")
def quality_set(tmp_path_factory):
    spec = embedded_quality.QualitySpec(crops_per_photo=1, size=96)
    out = tmp_path_factory.mktemp("quality") / "set"
    embedded_quality.build(spec, out)
    return out


def test_quality_set_is_ava_layout_and_scores_fall_with_the_level(quality_set):
    ava = load_ava(quality_set)
    assert len(ava) == len(QUALITY_PHOTOS) * (1 + sum(len(v) for v in embedded_quality.DISTORTIONS.values()))
    img, dist = ava[0]
    assert img.shape == (3, 96, 96) and dist.sum().item() == pytest.approx(1.0)
    rows = __import__("json").loads((quality_set / "quality.json").read_text())
    means = dict(zip(ava.ids, ava.mean_scores()))
    per_level = {}
    for r in rows:
        per_level.setdefault((r["distortion"], r["level"]), []).append(means[r["id"]])
    pristine = np.mean(per_level["pristine", 0.0])
    for kind, levels in embedded_quality.DISTORTIONS.items():
        scores = [np.mean(per_level[kind, lv]) for lv in levels]  # levels go from mild to strong
        assert all(s < pristine for s in scores)
        assert scores[0] > scores[-1] + 1.0, (kind, scores)

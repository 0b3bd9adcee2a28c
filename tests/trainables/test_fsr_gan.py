"""fsr_gan (seed 001): the losses of Eqs. 7-9, the critic's Lipschitz constraint, small queries,
the landmark split of the training views, and the retrieval measures the figures rest on."""

import numpy as np
import pytest
import torch

from trainables.data import embedded_landmarks
from trainables.data.landmark_splits import landmark_of
from trainables.data.sources import DISTRACTORS
from trainables.errors import UserInputError
from trainables.fsr_gan import SMOKE, Config, critic_loss, curves, generator_loss, table
from trainables.fsr_gan.data import distractor_mask, downscaled, png_bits, small_query_input, split_of, train_views
from trainables.fsr_gan.metrics import retrieval_map, similar_dissimilar
from trainables.fsr_gan.training import FsrTraining, focal_term, gradient_penalty
from trainables.metrics import ranks_from_scores, revisitop_map


def test_losses_are_eqs_7_and_9():
    d_sr, d_hr = torch.tensor([1.0, 3.0]), torch.tensor([5.0, 7.0])
    assert critic_loss(d_sr, d_hr).item() == pytest.approx(2.0 - 6.0)  # E[D(F_SR)] − E[D(F_HR)]
    sr, hr = torch.tensor([[3.0, 4.0], [0.0, 1.0]]), torch.zeros(2, 2)  # distances 5 and 1
    for r in (1.0, 2.0, 3.0):
        assert focal_term(sr, hr, r).item() == pytest.approx((5 ** r + 1) / 2)
    loss, focal = generator_loss(d_sr, sr, hr, r=2.0, w_adv=0.1)
    assert loss.item() == pytest.approx(-0.1 * 2.0 + 13.0) and focal.item() == pytest.approx(13.0)


def test_a_larger_r_puts_more_of_the_gradient_on_the_worse_pair():
    hr = torch.zeros(2, 2)
    shares = {}
    for r in (1.0, 2.0, 3.0):
        sr = torch.tensor([[3.0, 4.0], [0.0, 1.0]], requires_grad=True)
        focal_term(sr, hr, r).backward()
        far, near = sr.grad.norm(dim=1)
        shares[r] = (far / near).item()
    assert shares[1.0] == pytest.approx(1.0) and shares[2.0] == pytest.approx(5.0) and shares[3.0] == pytest.approx(25.0)


def test_gradient_penalty_is_zero_for_a_one_lipschitz_critic():
    critic = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0, 0.0]]))  # ‖∇D‖ = 1 everywhere
    assert gradient_penalty(lambda x: critic(x).squeeze(1), torch.rand(5, 4), torch.rand(5, 4)).item() == pytest.approx(0.0, abs=1e-10)
    critic.weight.data *= 3
    assert gradient_penalty(lambda x: critic(x).squeeze(1), torch.rand(5, 4), torch.rand(5, 4)).item() == pytest.approx(4.0)


def _bank(n=6, k=2, d=64):
    g = torch.Generator().manual_seed(0)
    hr = torch.nn.functional.normalize(torch.rand(n, d, generator=g), dim=1)
    return {"train_hr": hr, "train_lr": hr[:, None].repeat(1, k, 1) + 0.1 * torch.rand(n, k, d, generator=g)}


@pytest.mark.parametrize("lipschitz", ["clip", "gp"])
def test_critic_steps_keep_the_constraint(lipschitz):
    config = Config.from_dict({**SMOKE, "lipschitz": lipschitz, "clip_value": 0.005, "n_critic": 2})
    run = FsrTraining(config, _bank(), torch.device("cpu"), r=2.0, w_adv=0.1)
    metrics = run.train_one_epoch()
    assert set(metrics) == {"train_loss_g", "train_loss_d", "train_focal"}
    biggest = max(p.abs().max().item() for p in run.critic.parameters())
    assert (biggest <= 0.005 + 1e-9) == (lipschitz == "clip")


def test_without_the_critic_g_trains_alone():
    run = FsrTraining(Config.from_dict(dict(SMOKE)), _bank(), torch.device("cpu"), r=2.0, w_adv=0.0)
    before = [p.clone() for p in run.critic.parameters()]
    assert run.train_one_epoch()["train_loss_d"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, run.critic.parameters()))


def test_small_queries_follow_section_5_2():
    image = (np.random.default_rng(0).random((97, 130, 3)) * 255).astype(np.uint8)
    assert downscaled(image, 4).shape == (24, 32, 3) and downscaled(image, 4).dtype == np.uint8
    assert small_query_input(image, 8, 48).shape == (3, 48, 48)
    bits = [png_bits(downscaled(image, k)) for k in (2, 4, 8)]
    assert bits[0] > bits[1] > bits[2]  # Fig. 8's x-axis shrinks with the query


def test_training_views_come_from_training_landmarks_only():
    rset = embedded_landmarks.load()
    for seed in (0, 1, 2):
        split = split_of(Config(seed=seed), rset)
        views = {landmark_of(rset.imlist[i]) for i in train_views(rset, split)}
        assert views == set(split.train) and not views & (set(split.val) | set(split.test))
    assert {landmark_of(rset.imlist[i]) for i in np.flatnonzero(distractor_mask(rset))} == {s.name for s in DISTRACTORS}
    assert split_of(Config(seed=0), rset).test != split_of(Config(seed=1), rset).test  # the seed picks the fold


def test_leaving_distractors_out_equals_removing_them():
    g = torch.Generator().manual_seed(1)
    db, queries = torch.rand(12, 8, generator=g), torch.rand(3, 8, generator=g)
    distractor = torch.zeros(12, dtype=torch.bool)
    distractor[[2, 5, 9]] = True
    gnd = [{"easy": [0, 1], "hard": [3], "junk": [4]}, {"easy": [6], "hard": [], "junk": []}, {"easy": [7, 8], "hard": [10], "junk": [11]}]
    keep = [i for i in range(12) if not distractor[i]]
    new = {old: j for j, old in enumerate(keep)}
    gnd_kept = [{key: [new[i] for i in g_[key]] for key in g_} for g_ in gnd]
    scores = torch.nn.functional.normalize(queries, dim=1) @ db[keep].T
    expected = revisitop_map(ranks_from_scores(scores), gnd_kept)["mAP_M"]
    assert retrieval_map(queries, db, gnd, distractor) == pytest.approx(expected)
    assert retrieval_map(queries, db, gnd) != pytest.approx(expected)  # the distractors do count otherwise


def test_similar_images_are_nearer_than_the_rest():
    db = torch.tensor([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [0.0, 4.0]])
    near, far = similar_dissimilar(torch.zeros(1, 2), db, [{"easy": [0], "hard": [1], "junk": [3]}])
    assert near == pytest.approx(0.05) and far == pytest.approx(3.0)  # junk (4.0) left out


def test_tables_and_curves_read_every_size():
    metrics = {f"test_{q}_x{k}{m}": 0.5 for q in ("map", "map_distractors", "dist") for k in (2, 8)
               for m in ("_raw", "_isr", "_cnn", "_gan_mse", "")}
    metrics |= {"test_map_clean": 0.9, "test_dist_var_x2_raw": 0.1, "test_bits_x2": 800.0, "test_bits_x8": 90.0}
    rows = table(metrics)
    assert [r["method"] for r in rows][-1] == "FSR-GAN (this trial)" and set(rows[0]) == {"method", "1/4", "1/64", "mean"}
    figures = curves(metrics)
    assert list(figures["fig6_map"][0])[0] == "area ratio" and [r["area ratio"] for r in figures["fig6_map"]] == ["1/4", "1/64"]
    assert [r["query bits (PNG)"] for r in figures["fig8_map_vs_bits"]] == [800.0, 90.0]
    assert figures["fig6_map"][0]["large query"] == 0.9


@pytest.mark.parametrize("bad, message", [
    ({"r": 0}, "r must be > 0"), ({"lipschitz": "spectral"}, "lipschitz"), ({"factors": [1, 2]}, "factors"),
    ({"extractor": "vgg16"}, "feature_side must be 64"), ({"dataset": "roxford5k"}, "needs data_root"),
])
def test_bad_config_is_one_user_error(bad, message):
    with pytest.raises(UserInputError, match=message):
        Config.from_dict(bad)


def test_a_missing_dataset_or_weights_file_fails_before_any_stage(tmp_path, monkeypatch):
    from trainables.fsr_gan import prepare

    monkeypatch.setenv("TASKSWEEP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserInputError, match="gnd_roxford5k.pkl"):
        prepare(Config(dataset="roxford5k", data_root=str(tmp_path)), torch.device("cpu"))
    with pytest.raises(UserInputError, match="weights file for 'vgg16' not found"):
        prepare(Config(extractor="vgg16", feature_side=64, extractor_weights=str(tmp_path / "none.pth")), torch.device("cpu"))
    assert not (tmp_path / "cache" / "stages").exists()  # nothing half-built

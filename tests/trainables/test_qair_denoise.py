import json
import math

import numpy as np
import pytest
import torch

from trainables import qair_denoise as qd
from trainables.data import landmark_splits
from trainables.data.sources import LANDMARKS
from trainables.errors import UserInputError
from trainables.qair_denoise import data as dt
from trainables.qair_denoise import stages as st
from trainables.qair_denoise import training as tr

CPU = torch.device("cpu")


def smoke(**overrides) -> qd.Config:
    return qd.Config.from_dict({**qd.SMOKE, **overrides})


@pytest.fixture(scope="module")
def labels():
    return json.loads((st.LABELS.ensure(smoke(), device=CPU) / "labels.json").read_text())


def test_stage_keys_ignore_the_searched_and_per_trial_settings():
    a = smoke()
    b = smoke(lam=7.0, lr=0.05, momentum=0.0, epochs=9, steps_per_epoch=3)
    split = landmark_splits.make_split([s.name for s in LANDMARKS], 0, a.n_folds)
    for stage in (st.PRETRAIN, st.LABELS):
        assert stage.full_key(a) == stage.full_key(b)
    assert st.QAIR_HEAD.full_key(a, split) == st.QAIR_HEAD.full_key(b, split)
    assert "lam" not in json.dumps(st.QAIR_HEAD.full_key(a, split))
    assert st.PRETRAIN.full_key(smoke(sigma=30.0)) != st.PRETRAIN.full_key(a)  # but what they use counts


def test_ap_labels_are_fractions_and_fall_with_noise(labels):
    aps = np.array([r["ap"] for r in labels], float)
    assert np.all((aps[~np.isnan(aps)] >= 0) & (aps[~np.isnan(aps)] <= 1))
    assert {r["version"] for r in labels} == {"noise3", "noise8", "noise14", "noise26", "noise44",
                                              "blur0.5", "blur1", "blur2", "nn", "nlm"}
    mean = lambda v: np.nanmean([r["ap"] for r in labels if r["version"] == v])
    assert mean("noise44") < mean("noise3")


def test_labels_built_in_threads_equal_each_query_labelled_alone(labels, tmp_path):
    """The stage labels queries on every core at once; each query's rows must not depend on that."""
    config = smoke()
    rset = dt.load_dataset(config)
    backend = dt.local_feature_backend(config, rset)
    dncnn = st.PRETRAIN.get(config, device=CPU)
    (tmp_path / "images").mkdir()
    (tmp_path / "inputs").mkdir()
    for i in (0, len(rset.qimlist) - 1):
        name, rows, _ = st._label_query(tmp_path, config, rset, backend, dncnn, i)
        assert rows == [r for r in labels if r["query"] == name]


def test_thread_map_keeps_order_and_gives_torch_back_its_threads():
    from trainables.threads import thread_map

    before = torch.get_num_threads()
    seen = list(thread_map(lambda i: (i, torch.get_num_threads()), range(20), workers=2))
    assert [i for i, _ in seen] == list(range(20)) and {n for _, n in seen} == {1}
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("n_folds", [5, 3])
def test_splits_share_no_landmark(n_folds):
    names = [s.name for s in LANDMARKS]
    splits = [landmark_splits.make_split(names, k, n_folds) for k in range(n_folds)]
    for s in splits:
        assert not set(s.train) & set(s.val) and not set(s.train) & set(s.test) and not set(s.val) & set(s.test)
        assert set(s.train) | set(s.val) | set(s.test) == set(names)
        assert s.val == splits[0].val  # λ is chosen on one validation group
    tests = [set(s.test) for s in splits]
    assert set().union(*tests) == set(names) - set(splits[0].val)
    assert sum(map(len, tests)) == len(set().union(*tests))  # every test fold is distinct
    with pytest.raises(UserInputError):
        landmark_splits.make_split(names, n_folds, n_folds)


def test_landmark_names_of_embedded_and_real_queries():
    assert landmark_splits.landmark_of("hubble_deep_field_query3") == "hubble_deep_field"
    assert landmark_splits.landmark_of("all_souls_000013") == "all_souls"
    assert landmark_splits.landmark_of("hubble_deep_field_db07") == "hubble_deep_field"  # database views too


def test_the_loss_is_the_open_weighted_sum():
    ap = torch.tensor([0.2, 0.7, 0.9])
    out, clean = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    loss, mse = qd.coupled_loss(ap, out, clean, lam=0.25)
    expected_mse = ((out - clean) ** 2).mean()
    assert mse.item() == pytest.approx(expected_mse.item(), rel=1e-6)
    assert loss.item() == pytest.approx((1 - 0.6) + 0.25 * expected_mse.item(), rel=1e-6)


def _fine_tune(config: qd.Config, judge_on: bool) -> torch.nn.Module:
    rset = dt.load_dataset(config)
    split = dt.splits_of(config, rset)[0]
    run = tr.SplitRun(config, rset, split, qd.prepare(config, CPU), dt.local_feature_backend(config, rset), CPU)
    if not judge_on:  # a constant judge: the loss is λ·MSE only, with the same patches and noise
        run.head = lambda x: torch.ones(len(x))
    for _ in range(config.epochs):
        run.train_one_epoch(config)
    return run.model


def test_a_large_lambda_stays_with_the_mse_only_fine_tune():
    def gap(lam):
        # one lr for every λ: the step descends Eq. 3 / (1 + λ), so the MSE step is fixed and
        # only the weight of the AP term changes (the search space relies on it)
        config = smoke(lam=lam, lr=2e-2, momentum=0.0, epochs=1, steps_per_epoch=4)
        with_judge, mse_only = _fine_tune(config, True), _fine_tune(config, False)
        start = st.PRETRAIN.get(config, device=CPU).state_dict()
        moved = lambda m: sum((p - start[k]).float().norm() ** 2 for k, p in m.state_dict().items()) ** 0.5
        diff = sum((p - mse_only.state_dict()[k]).float().norm() ** 2 for k, p in with_judge.state_dict().items()) ** 0.5
        return float(diff / moved(mse_only))

    large, small = gap(1e4), gap(1e-2)
    assert large < 0.01 and large < small / 100


def train_once(config: qd.Config) -> list[dict]:
    reports = []
    qd.train(config, qd.prepare(config, CPU), CPU, None, lambda m, s: reports.append(m))
    return reports


def test_with_lr_zero_the_trial_is_the_nn_baseline():
    reports = train_once(smoke(lr=0.0, epochs=1))
    m = reports[0]
    assert m["test_map"] == m["test_map_nn"] and m["test_psnr"] == pytest.approx(m["test_psnr_nn"])


def test_each_split_is_reported_and_the_means_are_over_splits():
    reports = train_once(smoke(epochs=1, splits=(0, 2)))
    m = reports[0]
    for name in ("test_map", "test_psnr", "test_map_nn", "test_psnr_nlm", "qair_mae"):
        assert m[name] == pytest.approx((m[f"{name}_s0"] + m[f"{name}_s2"]) / 2)
    assert "test_map_s1" not in m and m["test_map_nn_s0"] != m["test_map_nn_s2"]  # different test folds


def test_table_rows_follow_table_3():
    reports = train_once(smoke(epochs=1))
    rows = qd.table(reports[-1])
    assert [r["method"] for r in rows] == ["Clean", "Noisy", "NLM", "NN", "NN-QA"]
    assert rows[-1]["mAP (test)"] == round(reports[-1]["test_map"], 4)
    assert all(math.isfinite(r["mAP (test)"]) for r in rows)


def test_bm3d_without_the_extra_names_it():
    try:
        import bm3d  # noqa: F401
    except ImportError:
        with pytest.raises(UserInputError, match=r"tasksweep\[bm3d\]"):
            smoke(classical="bm3d")
    else:
        pytest.skip("bm3d is installed")


def test_bad_splits_and_datasets_are_user_errors():
    with pytest.raises(UserInputError, match="splits"):
        smoke(splits=(7,))
    with pytest.raises(UserInputError, match="data_root"):
        smoke(dataset="roxford5k")


def test_orb_is_the_second_local_feature_and_noise_costs_it_ap():
    from trainables.retrieval.orb import OrbBackend

    config = smoke(local_feature="orb", view_hw=(192, 256))  # ORB's 31-pixel patches find little in smoke's 96×128
    assert st.LABELS.full_key(config) != st.LABELS.full_key(smoke(view_hw=(192, 256)))  # its own AP labels and judge
    rset = dt.load_dataset(config)
    backend = dt.local_feature_backend(config, rset)
    assert isinstance(backend, OrbBackend)
    gen = torch.Generator().manual_seed(0)
    clean, noisy = [], []
    for i in range(len(rset.qimlist)):
        image = rset.load_query(i)
        clean.append(dt.query_ap(backend, rset, i, image))
        x = dt.noisy(torch.from_numpy(image).permute(2, 0, 1).float().div(255), 50, gen)  # σ in 0-255 units
        noisy.append(dt.query_ap(backend, rset, i, x.mul(255).round().byte().permute(1, 2, 0).numpy()))
    assert np.nanmean(clean) > np.nanmean(noisy) + 0.1
    with pytest.raises(UserInputError, match="local_feature must be"):
        smoke(local_feature="surf")


def test_cnn_backend_trains_a_descriptor_labels_and_judge_per_split():
    """Table 7: the descriptor behind the CNN backend sees only its split's training landmarks, so
    AP labels, judge and evaluation are per split; SIFT keeps one label set for every split."""
    config = smoke(local_feature="cnn", splits=(0, 1))
    rset = dt.load_dataset(config)
    s0, s1 = dt.splits_of(config, rset)
    assert st.LABELS.full_key(config, s0) != st.LABELS.full_key(config, s1)
    sift = smoke(splits=(0, 1))
    assert st.labels_split(sift, s0) is None and st.LABELS.full_key(sift) == st.LABELS.full_key(sift, None)
    assert "descriptor" not in json.dumps(st.LABELS.full_key(sift))  # built SIFT labels are found again
    stages = qd.prepare(config, CPU)
    assert {"labels_s0", "labels_s1", "qair_head_s0", "qair_head_s1"} <= set(stages) and "labels" not in stages
    assert stages["labels_s0"].name.startswith("qair-labels-s0-")
    views = [n for n in rset.imlist if landmark_splits.landmark_of(n) in s0.train]
    saved = torch.load(st.DESCRIPTOR.ensure(config, s0, device=CPU) / "descriptor.pt", weights_only=True)
    assert saved["classes"] == len(views)  # one class per training view, nothing of val or test
    aps = {k: {r["query"] + r["version"]: r["ap"] for r in json.loads((stages[k] / "labels.json").read_text())}
           for k in ("labels_s0", "labels_s1")}
    assert aps["labels_s0"].keys() == aps["labels_s1"].keys() and aps["labels_s0"] != aps["labels_s1"]
    m = train_once(smoke(local_feature="cnn", splits=(0, 1), epochs=1))[0]
    assert m["test_map_nn_s0"] != m["test_map_nn_s1"] and 0 <= m["test_map"] <= 1


def test_cnn_retrieval_on_real_data_is_vgg19_for_every_split(tmp_path, monkeypatch):
    """§6.6 on ROxford/RParis: VGG-19 with local ImageNet weights, one AP label set for every split;
    a missing weights file is one line before any work."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserInputError, match="pretrained weights for 'vgg19' not found at .*vgg19-dcbb9e9d.pth"):
        smoke(local_feature="cnn", dataset="roxford5k", data_root="/nowhere")
    weights = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    weights.parent.mkdir(parents=True)
    weights.touch()  # only its presence and name are read here; retrieval_cnn would load it
    config = smoke(local_feature="cnn", dataset="roxford5k", data_root="/nowhere")
    split = landmark_splits.Split(0, ("a",), ("b",), ("c",))
    assert st.labels_split(config, split) is None and st.labels_stage_name(config, split) == "labels"
    key = st.LABELS.full_key(config)
    assert key["cnn"] == "vgg19" and key["weights"] == "vgg19-dcbb9e9d.pth:0" and "descriptor" not in key
    weights.write_bytes(b"other")  # another file of that name: not the same labels
    assert st.LABELS.full_key(config) != key


def test_the_joint_network_is_given_noisy_or_upsampled_small_images_at_even_odds():
    from trainables.qair_joint import Config as JointConfig

    config = JointConfig.from_dict(qd.SMOKE)
    clean, gen = torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0)
    small = {f: dt.upsampled_small(clean, f) for f in config.sr_factors}
    kinds = []
    for _ in range(40):
        x = dt.degrade(config, clean, gen)
        assert x.shape == clean.shape
        kinds.append(next((f for f, s in small.items() if torch.equal(x, s)), "noise"))
    assert 10 <= kinds.count("noise") <= 30 and set(kinds) - {"noise"} == set(config.sr_factors)


def test_joint_trial_reports_table_9_over_both_test_inputs():
    from trainables import qair_joint as qj

    config = qj.Config.from_dict({**qj.SMOKE, "epochs": 1, "lr": 0.0})
    reports = []
    qj.train(config, qj.prepare(config, CPU), CPU, None, lambda m, s: reports.append(m))
    m = reports[0]
    for k in ("map", "psnr"):
        assert m[f"test_{k}"] == pytest.approx((m[f"test_{k}_noise"] + m[f"test_{k}_sr"]) / 2)
        assert m[f"test_{k}_nn"] == pytest.approx((m[f"test_{k}_nn_noise"] + m[f"test_{k}_nn_sr"]) / 2)
    # lr = 0: the trial is the joint NN on each kind of input
    assert m["test_map_noise"] == m["test_map_nn_noise"] and m["test_map_sr"] == m["test_map_nn_sr"]
    rows = qj.table(m)
    assert [r["method"] for r in rows] == ["Clean", "Noisy/LR", "NN", "NN-QA"]
    assert rows[1]["mAP noisy"] == round(m["test_map_noisy"], 4) and rows[1]["mAP LR x4"] == round(m["test_map_bicubic"], 4)


def test_sr_and_joint_settings_that_mean_nothing_are_one_line_errors():
    from trainables.qair_joint import Config as JointConfig
    from trainables.qair_sr import Config as SrConfig

    with pytest.raises(UserInputError, match="super-resolution takes no sigma"):
        SrConfig.from_dict({"sigma": 30})
    with pytest.raises(UserInputError, match="multiple of scale"):
        SrConfig.from_dict({"patch": 50})
    with pytest.raises(UserInputError, match="sr_factors"):
        JointConfig.from_dict({"sr_factors": [0.5]})


def test_reference_maes_of_the_judges_that_see_no_pixels():
    row = lambda landmark, version, ap: {"landmark": landmark, "version": version, "ap": ap}  # noqa: E731
    train = [row("a", "noise10", 0.8), row("a", "nn", 0.6), row("b", "noise10", 0.4), row("b", "nn", 0.2)]
    test = [row("c", "noise10", 0.9), row("c", "noise10", 0.7), row("c", "nn", 0.1)]
    maes = st.reference_maes(train, test)
    assert maes["mae_constant"] == pytest.approx((0.4 + 0.2 + 0.4) / 3)  # the training mean is 0.5
    assert maes["mae_per_version"] == pytest.approx((0.3 + 0.1 + 0.3) / 3)  # noise10 → 0.6, nn → 0.4
    assert maes["mae_landmark_oracle"] == pytest.approx((0.1 + 0.1 + 0.0) / 3)  # c/noise10 → 0.8, c/nn → 0.1

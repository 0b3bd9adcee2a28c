"""qrnet / mqrnet (seed 003): the loss, Algorithm 1's batches, stage keys, config checks,
early stopping, end-to-end heads and the Caltech101 path on a fake root."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainables import qrnet as qr
from trainables.errors import UserInputError
from trainables.qrnet import algorithm as al
from trainables.qrnet import data as dt
from trainables.qrnet import stages as st
from trainables.qrnet import training as tr
from trainables.qrnet.baselines import BASELINES, MBASELINES
from trainables.stages import Stage

CPU = torch.device("cpu")
# Smaller than SMOKE (the presets' smoke sizes, which the contract tests run): these tests need
# the code paths, not trained networks, and build stages for many configs.
FAST = {"train_images": 64, "eval_images": 40, "qrnet_base": 4, "pretrain_epochs": 1, "stage_epochs": 1,
        "cls_width": 4, "cls_epochs": 2}


def smoke(**overrides) -> qr.Config:
    return qr.Config.from_dict({**qr.SMOKE, **FAST, **overrides})


def msmoke(**overrides) -> qr.MConfig:
    return qr.MConfig.from_dict({**qr.SMOKE, **FAST, **overrides})


def run(scheme, config, resume=None, stages=None) -> list[tuple[dict, dict]]:
    reports = []
    stages = stages or scheme.prepare(config, CPU, None)
    scheme.train(config, stages, CPU, resume, lambda metrics, state: reports.append((metrics, state)))
    return reports


# ---------------------------------------------------------------- the loss


def test_the_loss_is_the_open_weighted_sum():
    torch.manual_seed(0)
    out, clean, labels = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 1])
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    l1 = (out - clean).abs().mean()
    loss, got_l1, ces = qr.qrnet_loss(out, clean, [z1], labels, [0.3])  # Eq. 4
    assert got_l1.item() == pytest.approx(l1.item(), rel=1e-6)
    assert loss.item() == pytest.approx(l1.item() + 0.3 * F.cross_entropy(z1, labels).item(), rel=1e-6)
    loss, _, ces = qr.qrnet_loss(out, clean, [z1, z2], labels, [0.3, 0.05])  # Eq. 5
    expected = l1 + 0.3 * F.cross_entropy(z1, labels) + 0.05 * F.cross_entropy(z2, labels)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6) and len(ces) == 2
    loss, _, _ = qr.qrnet_loss(out, clean, [], labels, [])  # RecNet: L1 alone
    assert loss.item() == pytest.approx(l1.item(), rel=1e-6)
    assert qr.coupled_loss(0.5, [2.0, 4.0], [0.1, 0.01]) == pytest.approx(0.5 + 0.2 + 0.04)
    with pytest.raises(ValueError):
        qr.coupled_loss(0.5, [2.0], [0.1, 0.01])


# ---------------------------------------------------------------- Algorithm 1


def test_distortion_sampling_draws_only_the_configured_types_and_levels():
    config = smoke(distortions=("blur",), blur_levels=(1.5, 2.5), noise_levels=(33.0,))
    gen = torch.Generator().manual_seed(0)
    draws = {dt.sample_distortion(config, tuple(config.distortions), gen) for _ in range(200)}
    assert draws == {("blur", 1.5), ("blur", 2.5)}
    config = smoke(noise_levels=(20.0, 40.0), blur_levels=(1.0, 3.0))
    draws = {dt.sample_distortion(config, tuple(config.distortions), gen) for _ in range(400)}
    assert draws == {("noise", 20.0), ("noise", 40.0), ("blur", 1.0), ("blur", 3.0)}


def test_half_of_each_training_batch_stays_clean():
    config = smoke(distortions=("noise",), noise_levels=(60.0,))
    x, y = dt.load_split(config, "train", None)
    seen = []

    class Recorder(torch.nn.Module):  # identity enhancer that records what it is given
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, inputs):
            seen.append(inputs.detach().clone())
            return inputs * self.w

    model = Recorder()
    opt = torch.optim.Adam(model.parameters(), lr=0.0)
    al.train_one_epoch(model, opt, [], [], (x, y), config, ("noise",), torch.Generator().manual_seed(0), CPU)
    clean_rows = {tuple(r.flatten().tolist()) for r in dt.as_float(x)}
    assert sum(len(b) for b in seen) == 2 * len(y)  # every image once clean, once distorted
    for batch in seen:
        half = len(batch) // 2
        assert all(tuple(r.flatten().tolist()) in clean_rows for r in batch[:half])
        assert not any(tuple(r.flatten().tolist()) in clean_rows for r in batch[half:])
        assert (batch[half:] - batch[:half]).std() > 0.1  # σ = 60 noise on the same images


# ---------------------------------------------------------------- stages and configs


def test_stage_keys_exclude_the_searched_and_per_trial_settings():
    a = smoke()
    b = smoke(lam=0.7, lr=0.05, dropout=0.45, epochs=9, patience=1, classifier_mode="end_to_end")
    for key in (lambda c: st.CLASSIFIER.full_key(c, c.classifier), st.PRETRAIN.full_key, BASELINES.full_key,
                lambda c: st.RECNET.full_key(c, ("noise", "blur")), lambda c: st.FINETUNED.full_key(c, c.classifier, ("blur",))):
        assert key(a) == key(b)
    assert '"lam"' not in json.dumps(BASELINES.full_key(a))
    assert st.PRETRAIN.full_key(smoke(qrnet_base=6)) != st.PRETRAIN.full_key(a)  # what a stage uses counts
    assert BASELINES.full_key(smoke(noise_levels=(10.0,))) != BASELINES.full_key(a)
    assert qr.prepare(a, CPU) == qr.prepare(b, CPU)  # the very folders every trial of a sweep reads
    m = msmoke()
    assert MBASELINES.full_key(m) == MBASELINES.full_key(msmoke(lams=[0.9, 1e-4], lr=0.1, dropout=0.0))
    assert MBASELINES.full_key(m) != MBASELINES.full_key(msmoke(baseline_lam=0.1))


def test_train_reads_the_prepared_folders_and_builds_nothing(monkeypatch):
    config = smoke(epochs=1)
    stages = qr.prepare(config, CPU)

    def no_build(*args, **kwargs):
        raise AssertionError("train must load from the folders prepare handed over")

    monkeypatch.setattr(Stage, "ensure", no_build)
    monkeypatch.setattr(Stage, "folder", no_build)
    monkeypatch.setattr(Stage, "full_key", no_build)
    (metrics, _), = run(qr.SCHEME, config, stages=stages)
    assert metrics["test_acc_recnet_multi_avg"] == BASELINES.load(stages["baselines"], config, device=CPU)["test_acc_recnet_multi_avg"]


def test_mqrnet_rejects_a_classifier_weight_mismatch():
    with pytest.raises(UserInputError, match="one weight per classifier"):
        msmoke(classifiers=["small_vgg", "small_inception", "vgg16"])
    with pytest.raises(UserInputError, match="two or more"):
        msmoke(classifiers=["small_vgg"], lams=[0.01])


def test_searched_items_of_the_weight_list():
    assert msmoke(**{"lams.1": 0.5}).lams == (0.01, 0.5)  # the other item: the default
    three = {"classifiers": ["small_vgg", "small_inception", "vgg16"], "lams": [0.1, 0.2, 0.3]}
    assert msmoke(**three, **{"lams.2": 0.9, "lams.0": 0.4}).lams == (0.4, 0.2, 0.9)
    with pytest.raises(UserInputError, match="'lams' has 2 items"):
        msmoke(**{"lams.2": 0.5})
    with pytest.raises(UserInputError, match="'lr' is not a list"):
        msmoke(**{"lr.0": 0.5})
    with pytest.raises(UserInputError, match="^mqrnet config has no field 'lamz'"):
        msmoke(**{"lamz.0": 0.5})
    with pytest.raises(UserInputError, match="^qrnet config has no field 'lamz'"):  # the scheme, not the module
        smoke(lamz=0.5)


def test_mqrnet_unseen_classifier_is_not_a_training_classifier():
    config = qr.MConfig()
    assert config.unseen not in config.classifiers and len(config.classifiers) == 2
    with pytest.raises(UserInputError, match="unseen"):
        msmoke(classifiers=["small_vgg", "small_resnet"], unseen="small_resnet")
    with pytest.raises(UserInputError, match="distinct"):
        msmoke(classifiers=["small_vgg", "small_vgg"])


@pytest.mark.parametrize("bad", [{"classifier_mode": "both"}, {"classifier": "alexnet"}, {"distortions": ["jpeg"]},
                                 {"noise_levels": []}, {"batch_size": 7}, {"dataset": "caltech101"},
                                 {"blur_levels": [10.0], "image_size": 16}])
def test_bad_configs_are_user_errors(bad):
    with pytest.raises(UserInputError):
        smoke(**bad)


@pytest.mark.parametrize("extra", [{}, {"classifiers": ["small_vgg", "small_inception", "resnet50"], "lams": [0.01, 0.02, 0.03],
                                        "pretrained_backbones": False}], ids=["two", "three"])
def test_mqrnet_trains_against_its_classifiers_and_only_evaluates_the_unseen(monkeypatch, extra):
    loaded, trained_against = [], []  # every classifier the trial loads, kept alive
    real_load, real_epoch = tr.CLASSIFIER.load, tr.train_one_epoch

    def load(folder, config, name, *args, device):
        loaded.append((name, real_load(folder, config, name, *args, device=device)))
        return loaded[-1][1]

    def epoch(model, opt, judges, *args, **kwargs):
        trained_against.extend(judges)
        return real_epoch(model, opt, judges, *args, **kwargs)

    monkeypatch.setattr(tr, "CLASSIFIER", dataclasses.replace(tr.CLASSIFIER, load=load))
    monkeypatch.setattr(tr, "train_one_epoch", epoch)
    config = msmoke(epochs=1, **extra)
    metrics = run(qr.MQRNET, config)[-1][0]
    names = {id(m): n for n, m in loaded}
    assert trained_against and {names[id(j)] for j in trained_against} == set(config.classifiers)  # the unseen: never
    assert config.unseen in names.values() and "val_acc_unseen_avg" in metrics and "test_acc_unseen_qrnet_one_avg" in metrics
    last = len(config.classifiers)
    assert {f"train_ce{last}", f"val_acc_c{last}_avg", f"test_acc_c{last}_clean"} <= set(metrics)
    assert f"train_ce{last + 1}" not in metrics
    assert {"MQRNet + unseen", f"MQRNet + c{last}", f"c{last}, clean input"} <= {r["method"] for r in qr.mtable(metrics)}


# ---------------------------------------------------------------- early stopping, end-to-end


def test_patience_stops_training_and_says_so():
    # lr = 0: the validation loss never improves after the first epoch
    reports = run(qr.SCHEME, smoke(lr=0.0, epochs=3, patience=1))
    assert [m["epoch"] for m, _ in reports] == [1.0, 2.0]
    assert [m["stopped_early"] for m, _ in reports] == [0.0, 1.0]
    assert run(qr.SCHEME, smoke(lr=0.0, epochs=3, patience=1), resume=reports[-1][1]) == []
    full = run(qr.SCHEME, smoke(lr=0.0, epochs=2, patience=1))  # the budget ran out: not early
    assert full[-1][0]["stopped_early"] == 0.0


def test_end_to_end_trains_the_classifier_head_with_qrnet():
    config = smoke(classifier_mode="end_to_end", epochs=1, lr=0.01)
    stages = qr.prepare(config, CPU)
    (metrics, state), = run(qr.SCHEME, config, stages=stages)
    clean = st.CLASSIFIER.load(stages["classifier"], config, config.classifier, device=CPU)
    assert metrics["end_to_end"] == 1.0 and set(state["nets"]) == {"qrnet", "classifier_head"}
    assert not torch.equal(state["nets"]["classifier_head"]["weight"], clean.fc.weight)
    (metrics, state), = run(qr.SCHEME, smoke(epochs=1))
    assert metrics["end_to_end"] == 0.0 and set(state["nets"]) == {"qrnet"}
    assert [r["method"] for r in qr.table(metrics)][5] == "QRNet + C"


# ---------------------------------------------------------------- Caltech101 on a fake root


def _fake_caltech(root, classes=("ant", "bee", "cat"), per_class=6):
    import cv2

    rng = np.random.default_rng(0)
    for c in (*classes, "BACKGROUND_Google"):
        folder = root / "caltech101" / "101_ObjectCategories" / c
        folder.mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(folder / f"image_{i + 1:04d}.jpg"), rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8))
    return root


def test_caltech101_path_on_a_fake_root(tmp_path):
    root = _fake_caltech(tmp_path)
    config = smoke(dataset="caltech101", data_root=str(root), train_images=None, eval_images=None, epochs=1,
                   classifier="resnet50", pretrained_backbones=False)
    stages = qr.prepare(config, CPU)
    assert stages["classifier"].name.startswith("qrnet-cls-resnet50") and stages["data"].name.startswith("qrnet-data")
    x, y = dt.load_split(config, "train", stages["data"])
    assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.uint8 and set(y.tolist()) == {0, 1, 2}
    assert dt.num_classes(config, stages["data"]) == 3
    (metrics, _), = run(qr.SCHEME, config, stages=stages)
    assert 0.0 <= metrics["test_acc_avg"] <= 1.0


def test_caltech101_missing_root_or_weights_is_one_line(tmp_path):
    config = smoke(dataset="caltech101", data_root=str(tmp_path / "nowhere"), classifier="resnet50",
                   weights_dir=str(tmp_path / "no_weights"))  # the root is named first
    with pytest.raises(UserInputError, match="missing .*101_ObjectCategories") as err:
        qr.prepare(config, CPU)
    assert "\n" not in str(err.value)
    config = smoke(dataset="caltech101", data_root=str(_fake_caltech(tmp_path)), classifier="resnet50",
                   weights_dir=str(tmp_path / "no_weights"))
    with pytest.raises(UserInputError, match="ImageNet weights for resnet50 not found"):
        qr.prepare(config, CPU)

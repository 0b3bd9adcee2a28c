"""The fidelity scheme (seed 004): maps, modules, switches, the recipe and what a trial trains."""

import math

import pytest
import torch

from trainables.errors import UserInputError
from trainables.fidelity import SMOKE, Config, build_model, prepare, train
from trainables.fidelity.data import conditions, degrade, eval_sets, mixed_noise
from trainables.fidelity.model import CalibratedClassifier, build_classifier, fidelity_feature, fidelity_map, modulation_points, normalise
from trainables.fidelity.recipe import lr_at
from trainables.fidelity.stages import CLASSIFIER, ESTIMATOR, RESTORER
from trainables.fidelity.tables import sweep_rows, table
from trainables.models import SmallInception, SmallResNet, SmallVGG

CPU = torch.device("cpu")


def config(**overrides) -> Config:
    return Config.from_dict({**SMOKE, **overrides})


def test_fidelity_maps_are_the_per_pixel_distances():
    clean = torch.zeros(1, 3, 2, 2)
    restored = clean.clone()
    restored[0, :, 0, 0] = torch.tensor([0.3, 0.0, 0.0])
    restored[0, :, 1, 1] = torch.tensor([0.2, 0.2, 0.2])
    assert fidelity_map(restored, clean, "l1").flatten().tolist() == pytest.approx([0.1, 0.0, 0.0, 0.2])
    assert fidelity_map(restored, clean, "l2").flatten().tolist() == pytest.approx([0.03, 0.0, 0.0, 0.04])
    clean[0, 0] = 1.0  # cosine: red vs grey is 1 - 1/sqrt(3); red vs red is 0
    assert fidelity_map(restored, clean, "cosine")[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-6)
    assert fidelity_map(restored, clean, "cosine")[0, 0, 1, 1].item() == pytest.approx(1 - 1 / math.sqrt(3), abs=1e-6)


def test_l1_normalisation_centres_a_half_normal_of_appendix_b():
    levels = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    sigma = math.sqrt(sum(s * s for s in levels) / (len(levels) ** 2 * 2))
    errors = torch.randn(200_000, generator=torch.Generator().manual_seed(0)).mul(sigma).abs()
    z = normalise(errors, "l1", levels)
    assert z.mean().item() == pytest.approx(0.0, abs=0.01) and z.std().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("family, points", [(SmallVGG, [0, 2, 5, 8, 9]), (SmallResNet, [0, 2, 3, 4]),
                                            (SmallInception, [0, 1, 4, 7])])
def test_modules_sit_at_the_input_and_before_every_pooling_or_strided_layer(family, points):
    assert modulation_points(family(20, width=8).features) == points


@pytest.mark.parametrize("family, points", [("alexnet", [0, 2, 5, 12, 13]), ("vgg16", [0, 4, 9, 16, 23, 30, 31]),
                                            ("resnet50", [0, 3, 5, 6, 7, 8]), ("googlenet", [0, 1, 4, 7, 13, 16])])
def test_torchvision_families_are_calibrated_at_their_pooling_layers(family, points):
    # random weights (the ImageNet ones are a local file): the split must be the torchvision model
    cfg = Config.from_dict({"dataset": "caltech256", "data_root": "/nowhere", "classifier": family, "image_size": 64,
                            "ensemble": True})
    model = build_model(cfg).eval()
    assert model.points == points
    torch.nn.init.normal_(model.calibration.mix)
    restored = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits = model.classifier(restored)
        assert torch.allclose(model.classify(restored, torch.randn(2, 1, 64, 64)), logits, rtol=1e-4, atol=1e-4)
        assert logits.shape == (2, 257)


def test_setup_1_starts_from_the_local_imagenet_weights(tmp_path, monkeypatch):
    import torchvision

    # torchvision's GoogLeNet checkpoint carries the auxiliary heads; the split drops them
    source = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    torch.save(source.state_dict(), tmp_path / "googlenet.pth")
    model = build_classifier("googlenet", 257, 16, weights=str(tmp_path / "googlenet.pth"), pretrained=True)
    assert torch.equal(model.features[0].conv.weight, source.conv1.conv.weight) and model.fc.out_features == 257
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no weights there: one line, before the data stage
    cfg = Config.from_dict({"dataset": "caltech256", "data_root": str(tmp_path / "none"), "classifier": "alexnet",
                            "image_size": 64})
    with pytest.raises(UserInputError, match="pretrained weights for 'alexnet' not found"):
        prepare(cfg, CPU)
    with pytest.raises(UserInputError, match="needs image_size >= 64"):
        config(classifier="vgg16")


def test_untrained_modules_leave_the_frozen_classifier_as_it_is():
    model = build_model(config(ensemble=True)).eval()
    torch.nn.init.normal_(model.calibration.mix)  # whatever the mix, two equal features stay equal
    restored, fmap = torch.rand(3, 3, 32, 32), torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.classify(restored, fmap), model.classifier(restored), atol=1e-5)


def test_the_seed_alone_sets_the_modules_initial_weights():
    weights = lambda seed: torch.cat([p.flatten() for p in build_model(config(seed=seed)).calibration.parameters()])
    first = weights(0)
    torch.rand(100)  # what a reused worker drew before must not matter
    assert torch.equal(first, weights(0)) and not torch.equal(first, weights(1))


def test_the_fidelity_feature_is_the_map_and_its_transpose_flattened():
    fmap = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    assert fidelity_feature(fmap, 8, "bilinear").tolist() == [[1, 2, 3, 4, 1, 3, 2, 4]]


def test_l2_normalisation_standardises_a_scaled_chi_square():
    levels = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    sigma = math.sqrt(sum(s * s for s in levels) / (len(levels) ** 2 * 2))
    z = normalise(torch.randn(200_000, generator=torch.Generator().manual_seed(0)).mul(sigma).pow(2), "l2", levels)
    assert z.mean().item() == pytest.approx(0.0, abs=0.01) and z.std().item() == pytest.approx(1.0, abs=0.02)


def test_a_trained_module_reads_the_fidelity_map():
    model = build_model(config()).eval()
    for block in model.calibration.mult.blocks:
        torch.nn.init.normal_(block[-1].weight, std=0.5)
    restored = torch.rand(2, 3, 32, 32)
    fmap = torch.randn(2, 1, 32, 32, requires_grad=True)
    model.classify(restored, fmap).sum().backward()
    assert fmap.grad.abs().sum() > 0


@pytest.mark.parametrize("ablation, field, value", [("without=spatial_add", "spatial_add", False),
                                                    ("measure=cosine", "measure", "cosine"),
                                                    ("downsampling=nearest", "downsampling", "nearest")])
def test_an_ablation_row_changes_one_thing(ablation, field, value):
    base, row = config(), config(ablation=ablation).method()
    assert getattr(row, field) == value and row.ablation == "none"
    assert {k for k, v in row.to_dict().items() if v != base.to_dict()[k]} == {field}


def test_a_removed_module_has_no_weights():
    full, without = (sum(p.numel() for p in build_model(c).calibration.parameters())
                     for c in (config(), config(ablation="without=channel_concat")))
    assert without < full
    assert build_model(config(ablation="without=channel_concat")).calibration.concat is None


def test_the_fidelity_feature_has_the_feature_length():
    assert fidelity_feature(torch.rand(2, 1, 32, 32), 64, "bicubic").shape == (2, 64)
    assert fidelity_feature(torch.rand(2, 1, 40, 48), 33, "nearest").shape == (2, 33)


@pytest.mark.parametrize("bad, match", [({"measure": "l3"}, "measure must be one of"),
                                        ({"dataset": "caltech256"}, "needs data_root"),
                                        ({"sigmas": [0.3, 0.1]}, "sigmas must be increasing"),
                                        ({"ablation": "without=ensemble"}, "ablation must be one of"),
                                        ({"grad_clip": -1}, "grad_clip >= 0")])
def test_bad_settings_are_one_line_errors(bad, match):
    with pytest.raises(UserInputError, match=match):
        config(**bad)


def test_ramps_rise_from_clean_to_the_largest_sigma():
    clean = torch.full((8, 3, 32, 32), 0.5)
    err = (degrade(clean, "ramp1d", config(), torch.Generator().manual_seed(0)) - clean).abs().mean(1)
    for e in err:  # each image along its own random axis: σ 0 at one edge, 0.5 at the other
        edges = max([(e[:, 0].mean(), e[:, -1].mean()), (e[0].mean(), e[-1].mean())], key=lambda p: abs(p[1] - p[0]))
        assert min(edges) < 0.01 and max(edges) > 0.25


def test_evaluation_images_are_the_same_every_time():
    x = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    a, b = (torch.cat([d for _, _, d, _ in eval_sets(x, config(), "val", CPU)]) for _ in range(2))
    assert torch.equal(a, b) and len(a) == 10 * len(conditions(config()))


def test_the_training_mixture_keeps_some_images_clean():
    clean = torch.rand(600, 3, 8, 8)
    noisy = mixed_noise(clean, config(), torch.Generator().manual_seed(0))
    unchanged = ((noisy - clean).abs().amax(dim=(1, 2, 3)) < 1 / 255).float().mean().item()
    assert 0.1 < unchanged < 0.25  # one level in six is σ = 0


def test_warm_up_then_cosine_decay():
    lrs = [lr_at(s, 10, 5, 1.0, 0.1) for s in range(50)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] < 0.002


@pytest.mark.parametrize("estimator", ["pretrained", "end_to_end"])
def test_a_trial_trains_the_modules_and_nothing_frozen(estimator):
    cfg = config(epochs=1, estimator=estimator)
    stages = prepare(cfg, CPU)
    states = []
    train(cfg, stages, CPU, None, lambda metrics, state: states.append(state))
    model = build_model(cfg)
    model.load_state_dict(states[-1]["model"])
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert same(model.classifier, CLASSIFIER.load(stages["classifier"], cfg, device=CPU))
    assert same(model.restorer, RESTORER.load(stages["restorer"], cfg, device=CPU))
    assert same(model.estimator, ESTIMATOR.load(stages["estimator"], cfg, "l1", device=CPU)) == (estimator == "pretrained")
    assert not same(model.calibration, build_model(cfg).calibration)


def test_table_5_1_and_table_6_1_rows():
    metrics = {f"test_acc{stem}_{c}": 0.5 for stem in ("", "_setup1", "_setup1_restored") for c in ("clean", "s0.1", "avg")}
    metrics |= {"method_estimator": 0.0, "method_ensemble": 1.0}
    rows = table(metrics)
    assert [r["method"] for r in rows][-1] == "proposed (oracle, w/ ensemble)" and len(rows) == 3
    tables = sweep_rows([({"ablation": "none", "trial": "a"}, metrics), ({"ablation": "measure=l2", "trial": "b"}, metrics)])
    assert [r["method"] for r in tables["table6_1"]] == ["none", "measure=l2"]
    assert len(tables["table5_1_trials"]) == 4 and "fig7_1" not in tables
    metrics2 = metrics | {"test_acc_avg": 0.7}
    tables = sweep_rows([({"classifier": "small_vgg"}, metrics), ({"classifier": "small_resnet"}, metrics2)])
    fig = tables["fig7_1"]
    assert [r["method"] for r in tables["table5_1_trials"]][:3] == ["setup 1: train on clean, test w/o restoration [small_vgg]",
                                                                    "setup 1: train on clean, test w/ restoration [small_vgg]",
                                                                    "setup 1: train on clean, test w/o restoration [small_resnet]"]
    assert [(r["classifier"], r["proposed"], r["setup 1 + restoration"]) for r in fig] == [("small_vgg", 0.5, 0.5),
                                                                                          ("small_resnet", 0.7, 0.5)]


def test_a_trial_with_every_module_off_is_setup_1_with_restoration():
    cfg = config(epochs=1, estimator="end_to_end", spatial_mult=False, spatial_add=False, channel_mult=False,
                 channel_concat=False)
    reports = []
    train(cfg, prepare(cfg, CPU), CPU, None, lambda metrics, state: reports.append(metrics))
    metrics = reports[-1]
    assert metrics["test_acc_clean"] == metrics["test_acc_setup1_restored_clean"]
    assert metrics["test_acc_s0.3"] == metrics["test_acc_setup1_restored_s0.3"]


def test_gradient_clipping_bounds_every_step():
    # a norm cap of 1e-9 leaves the modules where they started; the epoch's largest norm is reported
    cfg = config(epochs=1, grad_clip=1e-9)
    reports = []
    train(cfg, prepare(cfg, CPU), CPU, None, lambda metrics, state: reports.append((metrics, state)))
    metrics, state = reports[-1]
    assert metrics["train_grad_norm_max"] > 1e-3
    model = build_model(cfg)
    start = {k: v.clone() for k, v in model.calibration.state_dict().items()}
    model.load_state_dict(state["model"])
    assert max((v - start[k]).abs().max().item() for k, v in model.calibration.state_dict().items()) < 1e-6

"""Tests for trainables.models: one contract test over every registered model, then specifics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables.errors import UserInputError
from trainables.models import (MODELS, BACKBONES, DnCNN, EDSR, FSRCritic, FSRGenerator, MDSR,
                               NIMAHead, QAIRHead, QRNet, build_backbone, build_model,
                               feature_extractor)
from trainables.models.backbones import default_weights_path, weights_file_name

# Every registered model at a CPU-test size: constructor kwargs, input shape, expected output
# shape, whether the output must lie in [0, 1], and (MDSR) the scales to route through.
SMALL = {
    "dncnn": dict(kwargs=dict(depth=5, width=16), x=(2, 3, 20, 20), out=(2, 3, 20, 20)),
    "bicubic_dncnn": dict(kwargs=dict(scale=4, depth=3, width=8), x=(2, 3, 5, 6), out=(2, 3, 20, 24)),
    "qair_head": dict(kwargs=dict(backbone="small"), x=(2, 3, 32, 32), out=(2,), unit=True),
    "edsr": dict(kwargs=dict(n_resblocks=2, n_feats=8, scale=2), x=(2, 3, 12, 12),
                 out=(2, 3, 24, 24)),
    "mdsr": dict(kwargs=dict(n_resblocks=2, n_feats=8, scales=(2, 3, 4)), x=(2, 3, 8, 8),
                 scales=(2, 3, 4)),
    "qrnet": dict(kwargs=dict(base=4, depth=3), x=(2, 3, 19, 23), out=(2, 3, 19, 23), unit=True),
    "fsr_generator": dict(kwargs=dict(channels=2, size=16), x=(2, 2, 16, 16), out=(2, 2, 16, 16)),
    "fsr_critic": dict(kwargs=dict(channels=2, size=16), x=(2, 2, 16, 16), out=(2,)),
    "landmark_descriptor": dict(kwargs=dict(dim=16, num_classes=5, widths=(4, 8)), x=(2, 3, 24, 40), out=(2, 5)),
    "nima_head": dict(kwargs=dict(backbone="small"), x=(2, 3, 32, 32), out=(2, 10), unit=True),
    "small_vgg": dict(kwargs=dict(num_classes=10, width=8), x=(2, 3, 32, 32), out=(2, 10)),
    "small_resnet": dict(kwargs=dict(num_classes=10, width=8), x=(2, 3, 32, 32), out=(2, 10)),
    "small_inception": dict(kwargs=dict(num_classes=10, width=8), x=(2, 3, 32, 32), out=(2, 10)),
}


def test_every_registered_model_has_a_small_config():
    assert set(MODELS) == set(SMALL)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name):
    cfg = SMALL[name]  # a registered model without an entry fails here
    torch.manual_seed(0)
    model = build_model(name, **cfg["kwargs"]).train()
    x = torch.rand(cfg["x"])
    outs = []
    for scale in cfg.get("scales", [None]):
        out = model(x) if scale is None else model(x, scale)
        n, c, h, w = x.shape
        expected = cfg["out"] if scale is None else (n, c, h * scale, w * scale)
        assert out.shape == expected
        assert torch.isfinite(out).all()
        if cfg.get("unit"):
            assert out.min() >= 0 and out.max() <= 1
        outs.append(out)
    # Random weights so a softmax output's gradient is not identically zero.
    loss = sum((o * torch.randn_like(o)).sum() for o in outs)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{name}.{pname}"


def test_build_model_rejects_unknown_name_and_argument():
    with pytest.raises(UserInputError, match="dncnn"):
        build_model("unet9000")
    with pytest.raises(UserInputError, match="dncnn"):
        build_model("dncnn", widht=8)


def test_dncnn_zero_tail_is_identity():
    model = DnCNN(depth=5, width=16).eval()
    nn.init.zeros_(model.tail.weight)
    nn.init.zeros_(model.tail.bias)
    x = torch.rand(1, 3, 17, 13)
    assert torch.equal(model(x), x)
    model.residual = False
    assert torch.equal(model(x), torch.zeros_like(x))


def test_dncnn_layer_count():
    convs = [m for m in DnCNN(depth=20, width=8).modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 20  # seed 000 §4.1: "20 layers"


@pytest.mark.parametrize("small", [False, True])
def test_qrnet_any_size_in_unit_range(small):
    model = QRNet(base=4, depth=4, small=small).eval()
    for h, w in [(37, 45), (16, 16), (5, 7)]:
        y = model(torch.rand(2, 3, h, w) * 3 - 1)
        assert y.shape == (2, 3, h, w)
        assert y.min() >= 0 and y.max() <= 1


def test_qrnet_small_has_one_conv_per_level():
    count = lambda m: sum(isinstance(c, nn.Conv2d) for c in m.modules())
    # 4 encoder + bottleneck + 4 decoder levels, 2 convs each (1 when small), + 1x1 output.
    assert count(QRNet(base=4, depth=4)) == 9 * 2 + 1
    assert count(QRNet(base=4, depth=4, small=True)) == 9 + 1


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_edsr_output_is_scale_times_input(scale):
    model = EDSR(n_resblocks=1, n_feats=8, scale=scale)
    assert model(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9 * scale, 11 * scale)


def test_edsr_mean_shift_is_a_buffer():
    model = EDSR(n_resblocks=1, n_feats=8)
    assert "mean" in dict(model.named_buffers())
    assert "mean" not in dict(model.named_parameters())


def test_mdsr_routes_scales():
    model = MDSR(n_resblocks=1, n_feats=8, scales=(2, 3, 4))
    x = torch.rand(1, 3, 6, 7)
    model(x, 3).mean().backward()
    for s in (2, 3, 4):
        grads = [p.grad for p in model.pre_process[str(s)].parameters()]
        grads += [p.grad for p in model.upsample[str(s)].parameters()]
        assert all((g is not None) == (s == 3) for g in grads)
    for s in (2, 4):
        assert model(x, s).shape == (1, 3, 6 * s, 7 * s)
    with pytest.raises(ValueError):
        model(x, 5)


def test_nima_sums_to_one_and_mean_score_in_range():
    model = NIMAHead(backbone="small").eval()
    p = model(torch.rand(3, 3, 40, 48))
    assert torch.allclose(p.sum(1), torch.ones(3))
    score = NIMAHead.mean_score(p)
    assert score.shape == (3,) and (score >= 1).all() and (score <= 10).all()


def test_fsr_paper_sizes_follow_tables_2_and_3():
    g, d = FSRGenerator(), FSRCritic()  # a 4096-d VGG16 feature viewed as 64x64x1
    assert g.convs(torch.zeros(1, 1, 64, 64)).shape == (1, 128, 8, 8)  # Table 2
    assert d.convs(torch.zeros(1, 1, 64, 64)).shape == (1, 64, 8, 8)  # Table 3
    g.eval()
    feat = torch.rand(3, 4096)
    assert g(feat).shape == (3, 4096)
    assert d(g(feat)).shape == (3,)


def test_fsr_generator_matches_target_feature_shape():
    g = FSRGenerator(channels=8, size=7, out_channels=16, out_size=14).eval()
    assert g(torch.rand(2, 8, 7, 7)).shape == (2, 16, 14, 14)
    assert FSRCritic(channels=16, size=14)(g(torch.rand(2, 8, 7, 7))).shape == (2,)


def test_qair_feature_variant_and_fc_stack():
    head = QAIRHead(backbone=None, in_channels=32)
    linears = [m for m in head.fc if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [128, 64, 32, 16, 1]  # seed 000 §3.2, §5.2
    y = head(torch.randn(4, 32, 9, 9))
    assert y.shape == (4,) and (y >= 0).all() and (y <= 1).all()
    raw = QAIRHead(backbone=None, in_channels=32, sigmoid=False)
    assert raw(torch.randn(4, 32, 9, 9)).shape == (4,)


def test_qair_unfreeze_last_convs():
    head = QAIRHead(backbone="small")
    head.unfreeze_last_convs(2)
    convs = [m for m in head.trunk.modules() if isinstance(m, nn.Conv2d)]
    assert [c.weight.requires_grad for c in convs] == [False, False, True, True]
    assert all(p.requires_grad for p in head.fc.parameters())


# --- torchvision backbones -------------------------------------------------------------------

def test_weights_file_names_come_from_torchvision():
    assert weights_file_name("vgg16") == "vgg16-397923af.pth"
    assert weights_file_name("resnet50") == "resnet50-0676ba61.pth"
    with pytest.raises(UserInputError, match="vgg16"):
        weights_file_name("lenet")


@pytest.mark.parametrize("name", BACKBONES)
def test_build_backbone_replaces_classifier(name):
    model = build_backbone(name, num_classes=7).eval()
    if name in ("vgg16", "resnet50"):
        with torch.no_grad():
            assert model(torch.rand(1, 3, 64, 64)).shape == (1, 7)
    else:
        last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert last.out_features == 7


def test_inception_has_no_aux_head():
    model = build_backbone("inception_v3", num_classes=3).train()
    assert model.AuxLogits is None
    assert model(torch.rand(2, 3, 80, 80)).shape == (2, 3)


def test_feature_extractor_channels():
    for name in ("mnasnet1_0", "vgg19", "small"):
        trunk = feature_extractor(name).eval()
        with torch.no_grad():
            assert trunk(torch.rand(1, 3, 64, 64)).shape[1] == trunk.out_channels


def test_load_weights_from_path(tmp_path):
    src = build_backbone("mnasnet1_0")
    path = tmp_path / "w.pth"
    torch.save(src.state_dict(), path)
    loaded = build_backbone("mnasnet1_0", weights_path=path)
    assert torch.equal(loaded.layers[0].weight, src.layers[0].weight)
    # num_classes swaps the head after loading, so the trunk keeps the loaded weights.
    head7 = build_backbone("mnasnet1_0", weights_path=path, num_classes=7)
    assert torch.equal(head7.layers[0].weight, src.layers[0].weight)


def test_load_weights_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    src = build_backbone("mnasnet1_0")
    expected = tmp_path / "hub" / "checkpoints" / weights_file_name("mnasnet1_0")
    assert default_weights_path("mnasnet1_0") == expected
    expected.parent.mkdir(parents=True)
    torch.save(src.state_dict(), expected)
    loaded = build_backbone("mnasnet1_0", pretrained=True)
    assert torch.equal(loaded.classifier[1].weight, src.classifier[1].weight)


def test_missing_weights_is_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserInputError, match=weights_file_name("resnet50")):
        build_backbone("resnet50", pretrained=True)
    with pytest.raises(UserInputError, match="nope.pth"):
        build_backbone("resnet50", weights_path=tmp_path / "nope.pth")
    with pytest.raises(UserInputError):
        NIMAHead(backbone="mnasnet1_0", pretrained=True)


def test_wrong_weights_file_is_user_error(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(feature_extractor("small").state_dict(), path)
    with pytest.raises(UserInputError, match="small.pth"):
        build_backbone("mnasnet1_0", weights_path=path)


@pytest.mark.parametrize("name", ["mnasnet1_0", "inception_v3"])
def test_fine_tuned_checkpoint_round_trip(tmp_path, name):
    tuned = build_backbone(name, num_classes=5)
    path = tmp_path / "tuned.pth"
    torch.save(tuned.state_dict(), path)
    loaded = build_backbone(name, weights_path=path, num_classes=5)
    for (k, a), b in zip(tuned.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_plain_dict_checkpoint_loads(tmp_path):
    src = build_backbone("mnasnet1_0")
    torch.save(dict(src.state_dict()), tmp_path / "plain.pth")  # no _metadata version tag
    loaded = build_backbone("mnasnet1_0", weights_path=tmp_path / "plain.pth")
    assert torch.equal(loaded.layers[0].weight, src.layers[0].weight)


def test_normalize_wraps_backbone_for_unit_range_input():
    model = build_backbone("mnasnet1_0", num_classes=4, normalize=True).eval()
    assert isinstance(model, nn.Sequential)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 4)


def test_the_sr_dncnn_is_matlab_bicubic_plus_a_learned_residual():
    from trainables.data.degradations import imresize
    from trainables.models import BicubicDnCNN

    model = BicubicDnCNN(scale=4, depth=3, width=8).eval()
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        assert not torch.allclose(model(x), imresize(x, 4))
        nn.init.zeros_(model.dncnn.tail.weight)
        nn.init.zeros_(model.dncnn.tail.bias)  # no residual left: exactly the bicubic upsampling
        assert torch.equal(model(x), imresize(x, 4))

"""Torchvision backbones with offline weight loading, and a small CPU trunk.

Torchvision's model definitions work offline, its weights do not (DESIGN.md, "Facts"): weights
come from ``weights_path`` or from ``$TORCH_HOME/hub/checkpoints/<torchvision's file name>``,
the place ``torchvision``'s own download would have put them, so a machine that ever fetched
them (or had them copied in) needs no extra configuration.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from trainables.errors import UserInputError

# name -> names of (constructor, weights enum) in torchvision.models; the enum is only read for
# its file name. Looked up when needed: importing torchvision.models costs a trial worker ~1 s.
_TORCHVISION = {
    "vgg16": ("vgg16", "VGG16_Weights"),
    "vgg19": ("vgg19", "VGG19_Weights"),  # seed 000 §6.6: CNN retrieval pools its last conv map
    "resnet50": ("resnet50", "ResNet50_Weights"),
    "inception_v3": ("inception_v3", "Inception_V3_Weights"),
    "mnasnet1_0": ("mnasnet1_0", "MNASNet1_0_Weights"),
    "alexnet": ("alexnet", "AlexNet_Weights"),
    "googlenet": ("googlenet", "GoogLeNet_Weights"),
}
BACKBONES = tuple(_TORCHVISION)
# The final FC layer that num_classes re-creates.
_HEAD = {"vgg16": "classifier.6", "vgg19": "classifier.6", "resnet50": "fc", "inception_v3": "fc",
         "mnasnet1_0": "classifier.1", "alexnet": "classifier.6", "googlenet": "fc"}
# Google's Inception weights expect (x - 0.5) / 0.5, which torchvision's transform_input makes
# out of ImageNet-normalised input.
_GOOGLE_INPUT = {"inception_v3", "googlenet"}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalize(nn.Module):
    """Maps [0, 1] RGB to the normalised input torchvision's ImageNet weights expect."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        # Buffers, not parameters: fixed statistics must not be trained or counted as weights.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SmallTrunk(nn.Sequential):
    """A four-stage conv trunk (conv3x3-BN-ReLU, 2x2 max-pool) standing in for VGG on CPU.

    Not from any of the papers: it exists so QA/NIMA heads train in seconds in tests and smoke
    sweeps. ``out_channels`` tells a head how wide the feature map is.
    """

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (16, 32, 64, 64)):
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            c = w
        super().__init__(*layers)
        self.out_channels = c


def weights_file_name(name: str) -> str:
    """Torchvision's file name for ``name``'s IMAGENET1K_V1 weights (read from the enum's url)."""
    _check_name(name)
    import torchvision.models as tvm

    return os.path.basename(urlparse(getattr(tvm, _TORCHVISION[name][1]).IMAGENET1K_V1.url).path)


def default_weights_path(name: str) -> Path:
    """``$TORCH_HOME/hub/checkpoints/<file>``; torch.hub resolves TORCH_HOME at call time."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_file_name(name)


def build_backbone(name: str, weights_path: str | os.PathLike | None = None,
                   num_classes: int | None = None, pretrained: bool = False,
                   normalize: bool = False) -> nn.Module:
    """A torchvision classifier, optionally with ImageNet weights from a local file.

    Args:
        name: one of ``BACKBONES``.
        weights_path: a torchvision state_dict file; giving one implies ``pretrained``.
        num_classes: if given, the final FC layer is re-created with this many outputs after
            loading, so ImageNet weights still load into the rest; a checkpoint whose head
            already has ``num_classes`` outputs (one fine-tuned here) loads whole.
        pretrained: load weights; without ``weights_path`` they come from
            ``default_weights_path(name)``, and a missing file is a ``UserInputError``.
        normalize: prepend ``ImageNetNormalize`` so the model takes [0, 1] images; off by
            default so the module (and its state_dict keys) is exactly torchvision's.

    Inception v3 and GoogLeNet come without their auxiliary classifiers (their forward then
    returns a tensor in training mode too); none of the papers train with the auxiliary loss.
    """
    _check_name(name)
    load = pretrained or weights_path is not None
    path = _resolve(name, weights_path) if load else None  # fail before building a big model
    model = _construct(name, load)
    head_done = False
    if path is not None:
        state = _read(path)
        head = state.get(_HEAD[name] + ".weight")
        if num_classes is not None and head is not None and head.shape[0] == num_classes:
            # A checkpoint fine-tuned to num_classes (e.g. our own): swap the head first.
            _replace_classifier(model, name, num_classes)
            head_done = True
        if name == "inception_v3" and not any(k.startswith("AuxLogits.") for k in state):
            model.AuxLogits = None  # saved by this function, which drops the aux head
        if name == "googlenet" and not any(k.startswith("aux1.") for k in state):
            model.aux1 = model.aux2 = None
        _load(model, state, path)
    if name == "inception_v3":
        model.aux_logits, model.AuxLogits = False, None
    if name == "googlenet":
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    if num_classes is not None and not head_done:
        _replace_classifier(model, name, num_classes)
    return nn.Sequential(ImageNetNormalize(), model) if normalize else model


def feature_extractor(name: str, weights_path: str | os.PathLike | None = None,
                      pretrained: bool = False, in_channels: int = 3) -> nn.Module:
    """The convolutional trunk of a backbone: [0, 1] images in, an (N, C, h, w) map out.

    ``name`` is one of ``BACKBONES`` or ``"small"`` (``SmallTrunk``, random init). The result
    carries ``out_channels``. The trunk includes input normalisation. For vgg16 the last
    max-pool is dropped (vgg19 too), the usual choice for retrieval descriptors (Radenović et al.'s
    cnnimageretrieval), which keeps twice the spatial resolution for MAC/GeM pooling.
    """
    if name == "small":
        return SmallTrunk(in_channels)
    if name not in _TORCHVISION:
        raise UserInputError(f"unknown backbone {name!r}; valid: small, {', '.join(BACKBONES)}")
    if in_channels != 3:
        raise UserInputError(f"backbone {name!r} takes RGB input; got in_channels={in_channels}")
    model = build_backbone(name, weights_path=weights_path, pretrained=pretrained)
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if name in ("vgg16", "vgg19", "alexnet"):
        body, c = list(model.features)[:-1], {"vgg16": 512, "vgg19": 512, "alexnet": 256}[name]
    elif name == "resnet50":
        body, c = list(model.children())[:-2], 2048
    elif name == "mnasnet1_0":
        body, c = [model.layers], 1280
    else:
        body = [m for n, m in model.named_children() if n not in _NOT_TRUNK]
        c = {"inception_v3": 2048, "googlenet": 1024}[name]
        if model.transform_input:
            mean, std = (0.5,) * 3, (0.5,) * 3
    trunk = nn.Sequential(ImageNetNormalize(mean, std), *body)
    trunk.out_channels = c
    return trunk


_NOT_TRUNK = {"AuxLogits", "aux1", "aux2", "avgpool", "dropout", "fc"}  # Inception / GoogLeNet children


class SplitClassifier(nn.Module):
    """A torchvision ImageNet classifier cut where a caller can act between its layers: ``centre``
    (ImageNet normalisation of a [0, 1] image) → ``features`` (a Sequential of the convolutional
    layers) → ``embed`` (to the penultimate vector: pooling, and VGG's / AlexNet's hidden FC
    layers) → ``fc`` (the last layer, re-fit to ``num_classes``). The small families in
    ``classifiers.py`` have the same four parts; ``forward`` is the torchvision model's."""

    def __init__(self, name: str, num_classes: int, weights_path: str | os.PathLike | None = None,
                 pretrained: bool = False):
        super().__init__()
        model = build_backbone(name, weights_path=weights_path, num_classes=num_classes, pretrained=pretrained)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        if name in ("vgg16", "alexnet"):
            self.features = model.features
            self.embed = nn.Sequential(model.avgpool, nn.Flatten(), *list(model.classifier)[:-1])
            self.fc = model.classifier[-1]
        elif name == "resnet50":
            self.features = nn.Sequential(*list(model.children())[:-2])
            self.embed = nn.Sequential(model.avgpool, nn.Flatten())
            self.fc = model.fc
        elif name in _GOOGLE_INPUT:
            self.features = nn.Sequential(*[m for n, m in model.named_children() if n not in _NOT_TRUNK])
            self.embed = nn.Sequential(model.avgpool, nn.Flatten(), model.dropout)
            self.fc = model.fc
            if model.transform_input:
                mean, std = (0.5,) * 3, (0.5,) * 3
        else:
            raise UserInputError(f"{name!r} cannot be split; use one of vgg16, alexnet, resnet50, googlenet, inception_v3")
        self.centre = ImageNetNormalize(mean, std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(self.features(self.centre(x))))


def check_weights(name: str, weights_path: str | os.PathLike | None = None) -> Path:
    """The local ImageNet weights file ``build_backbone(..., pretrained=True)`` would read; a
    missing one is a ``UserInputError`` naming where it was looked for."""
    _check_name(name)
    return _resolve(name, weights_path)


def _check_name(name: str) -> None:
    if name not in _TORCHVISION:
        raise UserInputError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")


def _construct(name: str, pretrained: bool) -> nn.Module:
    import torchvision.models as tvm

    if name == "googlenet":
        # As inception_v3: the checkpoint carries aux1/aux2 and wants transform_input.
        return tvm.googlenet(weights=None, aux_logits=True, transform_input=pretrained, init_weights=not pretrained)
    if name == "inception_v3":
        # Mirror torchvision's builder: checkpoints carry the aux head; Google's weights need
        # transform_input; skip the slow truncated-normal init when weights overwrite it.
        return tvm.inception_v3(weights=None, aux_logits=True, transform_input=pretrained,
                                init_weights=not pretrained)
    return getattr(tvm, _TORCHVISION[name][0])(weights=None)


def _resolve(name: str, weights_path) -> Path:
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise UserInputError(f"weights file for {name!r} not found: {path}")
        return path
    path = default_weights_path(name)
    if not path.is_file():
        raise UserInputError(
            f"pretrained weights for {name!r} not found at {path}; copy torchvision's "
            f"{path.name} there (or set TORCH_HOME), or pass weights_path=")
    return path


def _read(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and not any(torch.is_tensor(v) for v in state.values()):
        state = state.get("state_dict", state.get("model", state))  # training checkpoints
    if not isinstance(state, dict):
        raise UserInputError(f"{path} holds a {type(state).__name__}, not a state_dict")
    return state


def _load(model: nn.Module, state: dict, path: Path) -> None:
    import torchvision.models as tvm

    if isinstance(model, tvm.MNASNet) and not hasattr(state, "_metadata"):
        # A plain dict has lost the version tag MNASNet insists on; for depth multiplier 1.0
        # both versions are the same network.
        state = OrderedDict(state)
        state._metadata = {"": {"version": 2}}
    where = f"{path} does not fit torchvision's {type(model).__name__}"
    try:
        result = model.load_state_dict(state, strict=False)
    except (RuntimeError, ValueError) as err:  # shape mismatches
        detail = " ".join(str(err).split())
        raise UserInputError(f"{where}: {detail[:300]}") from None
    if result.missing_keys or result.unexpected_keys:
        missing, unexpected = result.missing_keys, result.unexpected_keys
        raise UserInputError(
            f"{where}: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]})")


def _replace_classifier(model: nn.Module, name: str, num_classes: int) -> None:
    parent, _, child = _HEAD[name].rpartition(".")
    owner = model.get_submodule(parent)
    setattr(owner, child, nn.Linear(getattr(owner, child).in_features, num_classes))

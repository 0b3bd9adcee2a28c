"""Seed 004's networks: the fidelity map (§4.1, Appendix B) and the calibrated classifier (§4.3).

``CalibratedClassifier`` holds four parts. Three are frozen: the restorer (DnCNN), the
fidelity-map estimator (DnCNN with a one-channel output; trained in ``end_to_end`` mode) and
the classifier trained on clean images (setup 1). The fourth is the method's modules, the
only weights trained from scratch:

- spatial multiplication (§4.3.1): a chain of Conv+ReLU+Conv+ReLU+Conv blocks over the fidelity
  map, one block per modulation point (the extractor's input and the input of every layer that
  downsamples, i.e. every pooling or strided layer, and the final map before global pooling);
  each point's feature map is multiplied by ``2·sigmoid`` of its block's output, broadcast
  over channels; every branch's last layer starts at zero, so the untrained modules leave the
  frozen classifier as it is;
- residual mechanism (§4.3.2): the chain passes ``d + block(d)`` on to the next block instead
  of ``block(d)`` (``d``: the chain's state, first the fidelity map, resized to the point's
  size), and channel concatenation's output is added to the feature instead of replacing it;
- spatial addition (§4.3.3): a second chain of the same shape, its output added (no sigmoid);
- channel multiplication (§4.3.4): the flattened fidelity map and its transpose, each resized
  to C/2 values and concatenated (the "fidelity feature", C = the pooled feature's length),
  FC+ReLU+FC, then ``2·sigmoid`` times the pooled feature;
- channel concatenation (§4.3.5): FC+ReLU+FC on [pooled feature, fidelity feature] → C;
- ensemble (§4.3.6): an element-wise learned mix ``α·v + (1 − α)·v₀`` with the feature ``v₀`` of
  the unmodified extractor on the same input, ``α = sigmoid(a)``, a learned per channel.

The classifier sees the restored image; the estimator sees the degraded one (it must find where
the restorer failed). ``forward(x)`` runs it all from a degraded image: the registered model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainables.models import DnCNN, SmallInception, SmallResNet, SmallVGG, SplitClassifier

FAMILIES = {"small_resnet": SmallResNet, "small_vgg": SmallVGG, "small_inception": SmallInception}


# ---------------------------------------------------------------- the fidelity map (§4.1)


def fidelity_map(restored: torch.Tensor, clean: torch.Tensor, measure: str) -> torch.Tensor:
    """Per-pixel distance of the restored to the clean image, ``(N, 1, H, W)``: ``l1`` the mean
    |r − c| over RGB, ``l2`` the mean (r − c)², ``cosine`` 1 − cos of the two RGB vectors."""
    if measure == "l1":
        return (restored - clean).abs().mean(1, keepdim=True)
    if measure == "l2":
        return (restored - clean).pow(2).mean(1, keepdim=True)
    if measure == "cosine":
        return 1 - F.cosine_similarity(restored, clean, dim=1, eps=1e-6).unsqueeze(1)
    raise ValueError(f"unknown fidelity measure {measure!r}")


def normalise(fmap: torch.Tensor, measure: str, levels: tuple[float, ...]) -> torch.Tensor:
    """Appendix B: σ² = Σσ_i² / (n²·2) over the n training levels (noise halved by the
    restorer); ℓ1 maps are standardised by the half-normal's mean σ√(2/π) and sd σ√(1 − 2/π),
    ℓ2 maps by the scaled χ²₁'s mean σ² and sd √2·σ². Cosine maps are left as they are."""
    var = sum(s * s for s in levels) / (len(levels) ** 2 * 2)
    if measure == "l1":
        return (fmap - math.sqrt(var * 2 / math.pi)) / math.sqrt(var * (1 - 2 / math.pi))
    if measure == "l2":
        return (fmap - var) / (math.sqrt(2) * var)
    return fmap


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Downsampling of §6.1.2 (antialiased for the two smooth kernels)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    smooth = mode != "nearest" and size[0] <= x.shape[-2] and size[1] <= x.shape[-1]
    return F.interpolate(x, size=size, mode=mode, antialias=smooth, **({} if mode == "nearest" else {"align_corners": False}))


def fidelity_feature(fmap: torch.Tensor, length: int, mode: str) -> torch.Tensor:
    """§4.3.4: the flattened map and its transpose, each resized to ``length / 2``, concatenated."""
    half = length // 2
    rows, cols = fmap.flatten(1), fmap.transpose(-2, -1).flatten(1)
    return torch.cat([resize(v[:, None, None, :], (1, n), mode).flatten(1) for v, n in ((rows, half), (cols, length - half))], 1)


# ---------------------------------------------------------------- the classifier, split at its pooling layers


def build_classifier(family: str, n_classes: int, width: int, weights: str | None = None,
                     pretrained: bool = False) -> nn.Module:
    """A small family (``width``) or a torchvision one (ImageNet ``weights`` when ``pretrained``,
    its last layer re-fit to ``n_classes``); both are ``centre → features → embed → fc``."""
    if family in FAMILIES:
        return FAMILIES[family](n_classes, width=width)
    return SplitClassifier(family, n_classes, weights_path=weights, pretrained=pretrained)


def modulation_points(layers: nn.Sequential, image_size: int = 32) -> list[int]:
    """Indices of the layers whose input is modulated: 0 (the image) and every layer that
    shrinks its input (pooling, strided); ``len(layers)`` stands for the map before global pooling."""
    points, x = [0], torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        for i, layer in enumerate(layers):
            y = layer(x)
            if y.shape[-1] < x.shape[-1] and i not in points:
                points.append(i)
            x = y
    return [*points, len(layers)]


def _conv_block(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(width, 1, 3, padding=1))


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


class SpatialChain(nn.Module):
    """One block per modulation point. A block reads the chain's state resized to its point and
    gives that point's map; with the residual mechanism the state passed on is ``d + block(d)``,
    without it ``block(d)`` alone. The state starts as the fidelity map."""

    def __init__(self, points: int, width: int, residual: bool):
        super().__init__()
        self.blocks = nn.ModuleList(_conv_block(width) for _ in range(points))
        for block in self.blocks:
            _init_neutral(block[-1])
        self.residual = residual

    def forward(self, state: torch.Tensor, k: int, size: tuple[int, int], mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(this point's map, the state for the next point)."""
        d = resize(state, size, mode)
        out = self.blocks[k](d)
        return out, d + out if self.residual else out


def _init_neutral(layer: nn.Module) -> None:
    """Zero a branch's last layer: every module then starts as the identity (2·sigmoid(0) = 1,
    +0), so training starts from the frozen classifier on restored images."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


class Modules(nn.Module):
    """The trainable modules of §4.3 around a frozen classifier; switches as in ``Config``."""

    def __init__(self, n_points: int, channels: int, width: int, *, spatial_mult: bool, residual: bool, spatial_add: bool,
                 channel_mult: bool, channel_concat: bool, ensemble: bool):
        super().__init__()
        self.mult = SpatialChain(n_points, width, residual) if spatial_mult else None
        self.add = SpatialChain(n_points, width, residual) if spatial_add else None
        self.cmult = _mlp(channels, channels, channels) if channel_mult else None
        self.concat = _mlp(2 * channels, channels, channels) if channel_concat else None
        self.residual = residual
        if self.cmult is not None:
            _init_neutral(self.cmult[-1])
        if self.concat is not None and residual:  # without the residual its output is the feature
            _init_neutral(self.concat[-1])
        self.mix = nn.Parameter(torch.zeros(channels)) if ensemble else None


class CalibratedClassifier(nn.Module):
    """images → logits through restorer, estimator, the frozen classifier and the modules."""

    def __init__(self, config, n_classes: int):
        super().__init__()
        method = config.method()
        self.restorer = DnCNN(config.dncnn_depth, config.dncnn_width)
        self.estimator = DnCNN(config.dncnn_depth, config.dncnn_width, residual=False, out_channels=1)
        self.classifier = build_classifier(config.classifier, n_classes, config.cls_width)
        self.points = modulation_points(self.classifier.features, config.image_size)
        channels = self.classifier.fc.in_features
        self.calibration = Modules(len(self.points), channels, config.branch_width, spatial_mult=method.spatial_mult,
                                residual=method.residual, spatial_add=method.spatial_add, channel_mult=method.channel_mult,
                                channel_concat=method.channel_concat, ensemble=method.ensemble)
        self.measure, self.mode, self.levels = method.measure, method.downsampling, config.levels()
        self.freeze()

    def freeze(self, train_estimator: bool = False) -> "CalibratedClassifier":
        """No gradient for restorer and classifier, nor for the estimator unless ``train_estimator``."""
        for part in (self.restorer, self.classifier):
            part.requires_grad_(False)
        self.estimator.requires_grad_(train_estimator)
        return self

    def train(self, mode: bool = True) -> "CalibratedClassifier":
        """Only the modules ever train: the frozen parts keep their BN statistics."""
        super().train(False)
        self.calibration.train(mode)
        return self

    def fidelity(self, degraded: torch.Tensor, restored: torch.Tensor, clean: torch.Tensor | None = None) -> torch.Tensor:
        """The normalised map: the oracle's when ``clean`` is given, else the estimator's."""
        fmap = fidelity_map(restored, clean, self.measure) if clean is not None else self.estimator(degraded)
        return normalise(fmap, self.measure, self.levels)

    def classify(self, restored: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
        m, layers = self.calibration, self.classifier.features
        x = original = self.classifier.centre(restored)
        s_mult = s_add = fmap
        for k, (start, stop) in enumerate(zip(self.points, [*self.points[1:], None])):
            size = tuple(x.shape[-2:])
            if m.mult is not None:
                g, s_mult = m.mult(s_mult, k, size, self.mode)
                x = x * 2 * torch.sigmoid(g)
            if m.add is not None:
                a, s_add = m.add(s_add, k, size, self.mode)
                x = x + a
            if stop is not None:
                x = layers[start:stop](x)
        v = self.classifier.embed(x)
        phi = fidelity_feature(fmap, v.shape[1], self.mode) if m.cmult is not None or m.concat is not None else None
        if m.cmult is not None:
            v = v * 2 * torch.sigmoid(m.cmult(phi))
        if m.concat is not None:
            c = m.concat(torch.cat([v, phi], 1))
            v = v + c if m.residual else c
        if m.mix is not None:
            v0 = self.classifier.embed(layers(original))
            alpha = torch.sigmoid(m.mix)
            v = alpha * v + (1 - alpha) * v0
        return self.classifier.fc(v)

    def forward(self, degraded: torch.Tensor) -> torch.Tensor:
        restored = self.restorer(degraded).clamp(0, 1)
        return self.classify(restored, self.fidelity(degraded, restored))

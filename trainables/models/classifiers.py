"""Three small classifier families for 32x32-64x64 images, standing in for seed 003's judges.

Seed 003 (§III-C, §IV-C) trains MQRNet against VGG16 and Inception v3 and evaluates it on a
ResNet it never saw. These are CPU-sized members of the same three families, so that split can
be reproduced in minutes: plain stacked convs (VGG), residual blocks (ResNet), multi-branch
modules (Inception). None is from a paper's table; widths are chosen to train in about a
minute on CPU. All end in global average pooling, so any input of 32x32 or more works.

They take [0, 1] images and return logits (N, num_classes); the softmax lives in the loss.
"""

from __future__ import annotations

import torch
from torch import nn


def _cbr(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class _Classifier(nn.Module):
    """``centre`` → ``features`` → ``embed`` (global average pooling) → ``fc``: the parts a caller
    (seed 004's modules) acts between, as ``backbones.SplitClassifier`` for torchvision's."""

    def __init__(self, features: nn.Module, c: int, num_classes: int):
        super().__init__()
        self.features = features
        self.fc = nn.Linear(c, num_classes)

    def centre(self, x: torch.Tensor) -> torch.Tensor:
        return x - 0.5  # BN after the first conv handles the scale

    def embed(self, fmap: torch.Tensor) -> torch.Tensor:
        return fmap.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(self.features(self.centre(x))))


class SmallVGG(_Classifier):
    """VGG-style: three stages of two conv3x3-BN-ReLU and a 2x2 max-pool (widths w, 2w, 4w)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32):
        layers: list[nn.Module] = []
        c = in_channels
        for w in (width, 2 * width, 4 * width):
            layers += [_cbr(c, w), _cbr(w, w), nn.MaxPool2d(2)]
            c = w
        super().__init__(nn.Sequential(*layers), c, num_classes)


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(_cbr(c_in, c_out, stride=stride),
                                  nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class SmallResNet(_Classifier):
    """CIFAR-style ResNet (He et al. 2016, §4.2): a conv stem and three stages of basic blocks
    (widths w, 2w, 4w; stride 2 between stages). ``blocks=1`` is ResNet-8, 3 is ResNet-20."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32, blocks: int = 1):
        layers: list[nn.Module] = [_cbr(in_channels, width)]
        c = width
        for i, w in enumerate((width, 2 * width, 4 * width)):
            for j in range(blocks):
                layers.append(_BasicBlock(c, w, 2 if i > 0 and j == 0 else 1))
                c = w
        super().__init__(nn.Sequential(*layers), c, num_classes)


class _InceptionModule(nn.Module):
    """GoogLeNet's four branches: 1x1; 1x1-3x3; 1x1-3x3-3x3 (Inception v3's factorised 5x5);
    3x3 max-pool-1x1. Each branch gets ``c_out // 4`` channels."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        b = c_out // 4
        self.branches = nn.ModuleList([
            _cbr(c_in, b, 1),
            nn.Sequential(_cbr(c_in, b, 1), _cbr(b, b)),
            nn.Sequential(_cbr(c_in, b, 1), _cbr(b, b), _cbr(b, b)),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _cbr(c_in, b, 1)),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class SmallInception(_Classifier):
    """Inception-style: a conv stem, then two inception modules per stage (widths 2w, 4w) with a
    2x2 max-pool before each stage."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32):
        layers: list[nn.Module] = [_cbr(in_channels, width)]
        c = width
        for w in (2 * width, 4 * width):
            layers += [nn.MaxPool2d(2), _InceptionModule(c, w), _InceptionModule(w, w)]
            c = w
        super().__init__(nn.Sequential(*layers), c, num_classes)

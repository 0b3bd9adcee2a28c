"""DnCNN (Zhang et al., TIP 2017), the enhancer of seed 000 (QAIR, §4.1 and Fig. 6).

Seed 000 uses it for denoising and, fed a bicubic-upsampled image, for x4 super-resolution
(§4.2): "20 layers and each layer has 64 channels, all kernels 3x3", predicting the residual.
"""

from __future__ import annotations

import torch
from torch import nn

from trainables.data.degradations import imresize


class DnCNN(nn.Module):
    """conv+ReLU, (depth-2) x (conv+BN+ReLU), conv; returns ``x - residual`` when ``residual``.

    ``out_channels`` (non-residual only): a map of another depth, e.g. seed 004's one-channel
    fidelity-map estimator. ``depth=20`` follows seed 000 §4.1 (Zhang et al.'s blind/multi-task DnCNN-B/-3; their
    noise-specific DnCNN-S has 17). For SR the same net works unchanged: the predicted
    "noise" is then minus the missing detail of the bicubic upsampling.

    Choices where the papers are silent here: convs followed by BN have no bias (BN's shift
    makes it redundant, as in Zhang et al.'s PyTorch release); PyTorch default init; the output
    is not clamped, because clamping zeroes the gradient of out-of-range pixels that the
    fidelity term needs to pull back (clamp at evaluation).
    """

    def __init__(self, depth: int = 20, width: int = 64, in_channels: int = 3,
                 residual: bool = True, out_channels: int | None = None):
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN depth must be >= 2, got {depth}")
        out_channels = in_channels if out_channels is None else out_channels
        if residual and out_channels != in_channels:  # x - residual needs the same channels
            raise ValueError(f"a residual DnCNN returns {in_channels} channels, not {out_channels}")
        self.residual = residual
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1),
                                   nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.tail(self.body(x))
        return x - out if self.residual else out


class BicubicDnCNN(nn.Module):
    """Seed 000 §4.2's ×``scale`` super-resolver: MATLAB-bicubic upsampling, then a residual DnCNN
    restores the missing detail. Takes the small image, so the registered model is images →
    ``scale``× larger images like any other super-resolver."""

    def __init__(self, scale: int = 4, depth: int = 20, width: int = 64):
        super().__init__()
        self.scale = scale
        self.dncnn = DnCNN(depth, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dncnn(imresize(x, self.scale))

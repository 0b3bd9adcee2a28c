"""EDSR and MDSR (Lim et al., CVPRW 2017), the enhancers of seed 002 (§2.3, Fig. 3).

Layer for layer as the reference code seed 002 used (EDSR-PyTorch, seed 002 ref. [10a]):
mean shift, head conv, residual blocks (conv-ReLU-conv, no BN, ``res_scale``), body conv with a
global skip, pixel-shuffle upsampler (no activation), tail conv, mean shift back.

Mean shift: the reference subtracts the DIV2K mean on a 0-255 scale; images here are in [0, 1],
so the same means are used on the [0, 1] scale (the reference's ``rgb_range=1``). They are
buffers rather than the reference's frozen 1x1 conv: same arithmetic, nothing to train.
Outputs are not clamped (clamping kills the gradient of out-of-range pixels; clamp at evaluation).

Deblurring (seed 002 §2.1, §4.2): the paper blurs the *low-resolution* inputs and trains the
same SR networks, so its deblurring nets keep their SR scale. ``EDSR(scale=1)`` (no upsampler)
is the same-size variant for when the blurred input already has the target size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def _conv(c_in: int, c_out: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, padding=k // 2)


class ResBlock(nn.Module):
    """conv-ReLU-conv, scaled by ``res_scale`` (0.1 in the large EDSR keeps training stable)."""

    def __init__(self, n_feats: int, kernel_size: int = 3, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(_conv(n_feats, n_feats, kernel_size), nn.ReLU(inplace=True),
                                  _conv(n_feats, n_feats, kernel_size))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


def upsampler(scale: int, n_feats: int) -> nn.Module:
    """log2(scale) x (conv to 4C, shuffle 2) for powers of two, conv to 9C + shuffle 3 for 3."""
    if scale == 1:
        return nn.Identity()
    if scale & (scale - 1) == 0:
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            layers += [_conv(n_feats, 4 * n_feats), nn.PixelShuffle(2)]
        return nn.Sequential(*layers)
    if scale == 3:
        return nn.Sequential(_conv(n_feats, 9 * n_feats), nn.PixelShuffle(3))
    raise ValueError(f"scale must be 1, 3 or a power of 2, got {scale}")


class _MeanShift(nn.Module):
    def __init__(self, mean=DIV2K_MEAN):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))


class EDSR(_MeanShift):
    """Single-scale EDSR. Defaults are the paper's baseline (16 blocks, 64 features, res_scale 1);
    the large model is ``EDSR(32, 256, res_scale=0.1)``."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, scale: int = 4,
                 res_scale: float = 1.0, in_channels: int = 3):
        super().__init__()
        self.scale = scale
        self.head = _conv(in_channels, n_feats)
        self.body = nn.Sequential(*[ResBlock(n_feats, 3, res_scale) for _ in range(n_resblocks)],
                                  _conv(n_feats, n_feats))
        self.tail = nn.Sequential(upsampler(scale, n_feats), _conv(n_feats, in_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x - self.mean)
        x = x + self.body(x)
        return self.tail(x) + self.mean


class MDSR(_MeanShift):
    """Multi-scale SR: per-scale pre-processing (two 5x5 ResBlocks), a shared body, per-scale
    upsamplers, a shared tail. ``forward(x, scale)`` routes through ``scale``'s branches.

    The paper's MDSR has 80 blocks; ``n_resblocks=16`` is the reference's MDSR baseline size.
    """

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64,
                 scales: tuple[int, ...] = (2, 3, 4), in_channels: int = 3):
        super().__init__()
        self.scales = tuple(scales)
        self.head = _conv(in_channels, n_feats)
        # ModuleDict keys must be strings.
        self.pre_process = nn.ModuleDict(
            {str(s): nn.Sequential(ResBlock(n_feats, 5), ResBlock(n_feats, 5)) for s in scales})
        self.body = nn.Sequential(*[ResBlock(n_feats) for _ in range(n_resblocks)],
                                  _conv(n_feats, n_feats))
        self.upsample = nn.ModuleDict({str(s): upsampler(s, n_feats) for s in scales})
        self.tail = _conv(n_feats, in_channels)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale not in self.scales:
            raise ValueError(f"MDSR was built for scales {self.scales}, got {scale}")
        x = self.pre_process[str(scale)](self.head(x - self.mean))
        x = x + self.body(x)
        return self.tail(self.upsample[str(scale)](x)) + self.mean

"""FSR-GAN's feature generator G and WGAN critic D (seed 001, §3.3, Tables 2-3).

The paper super-resolves a VGG16 feature: the 4096-d activation of the "36th layer" (relu7 in
MatConvNet's numbering) of a small image upsampled to 224x224, mapped towards the feature of the
large image. Tables 2-3 start at 64x64, i.e. the 4096-d vector viewed as a 64x64x1 map, so the
default ``channels=1, size=64`` is exactly the paper's nets. Other feature maps (e.g. a conv
map of 512x7x7) work by passing their channels and size; the strided convs and the final
linear layer adapt to the shape.

Both nets accept the feature either flat, (N, C*H*W), or as a map, (N, C, H, W); the generator
answers in the same form.

Choices where the paper is silent: "same" padding (TF's, which gives Table 2's output sizes);
LeakyReLU slope 0.2 (the DCGAN/WGAN value); the generator's final linear layer has no
activation (the text says "all layers employ Leaky ReLU", but a LeakyReLU there would only
distort negative targets and the critic's linear output is called out as activation-free, so we
read "all layers" as the hidden ones); "dropout(70%)" is read as drop probability 0.7.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _size2(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _conv_stack(c_in: int, spec, slope: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for c_out, k, stride in spec:
        if stride == 1:
            # TF "same" for an even kernel (Table 2's 8x8) pads one more after than before.
            layers.append(nn.ZeroPad2d(((k - 1) // 2, k // 2, (k - 1) // 2, k // 2)))
            conv = nn.Conv2d(c_in, c_out, k)
        else:
            conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)
        layers += [conv, nn.LeakyReLU(slope, inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers), c_in


def _as_map(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    return x.reshape(x.shape[0], *shape) if x.dim() == 2 else x


def _strided_size(n: int, strides) -> int:
    for s in strides:
        n = math.ceil(n / s)
    return n


class FSRGenerator(nn.Module):
    """Table 2: conv 8x8/1 (4), 5x5/2 (8), 5x5/1 (16), 5x5/2 (32), 5x5/1 (64), 5x5/2 (128),
    dropout, linear to the target feature's size.

    Args:
        channels, size: the input (small-image) feature map's channels and (H, W).
        out_channels, out_size: the target (large-image) feature's shape; default: the input's,
            as in the paper where both images are resized to 224x224 before VGG16.
        widths: the six conv widths of Table 2.
    """

    def __init__(self, channels: int = 1, size: int | tuple[int, int] = 64,
                 out_channels: int | None = None, out_size: int | tuple[int, int] | None = None,
                 widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128), dropout: float = 0.7,
                 negative_slope: float = 0.2):
        super().__init__()
        h, w = _size2(size)
        self.in_shape = (channels, h, w)
        self.out_shape = (out_channels or channels, *_size2(out_size or (h, w)))
        kernels, strides = (8, 5, 5, 5, 5, 5), (1, 2, 1, 2, 1, 2)
        self.convs, c = _conv_stack(channels, zip(widths, kernels, strides), negative_slope)
        n_in = c * _strided_size(h, strides) * _strided_size(w, strides)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(n_in, math.prod(self.out_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.dim() == 2
        y = self.linear(self.dropout(self.convs(_as_map(x, self.in_shape)).flatten(1)))
        return y if flat else y.reshape(x.shape[0], *self.out_shape)


class FSRCritic(nn.Module):
    """Table 3: conv 5x5/2 (8), 5x5/2 (16), 3x3/2 (32), 3x3/1 (64), linear to 1, no activation
    on the output (a WGAN critic scores, it does not classify). Returns shape (N,)."""

    def __init__(self, channels: int = 1, size: int | tuple[int, int] = 64,
                 widths: tuple[int, ...] = (8, 16, 32, 64), negative_slope: float = 0.2):
        super().__init__()
        h, w = _size2(size)
        self.in_shape = (channels, h, w)
        kernels, strides = (5, 5, 3, 3), (2, 2, 2, 1)
        self.convs, c = _conv_stack(channels, zip(widths, kernels, strides), negative_slope)
        self.linear = nn.Linear(c * _strided_size(h, strides) * _strided_size(w, strides), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(_as_map(x, self.in_shape)).flatten(1)).squeeze(1)

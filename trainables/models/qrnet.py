"""QRNet, the quality-recovery U-Net of seed 003 (§III-A, Table 1; small variant: §IV-B1, Table 3).

§III-A: encoder levels of two 3x3 convs + ReLU and a 2x2 max-pool; decoder levels of a
stride-2 transposed conv, concatenation with the encoder output of the same size, two 3x3
convs + ReLU; He-initialised convs; dropout; sigmoid output. "Small QRNet" (§IV-B1) has one
3x3 conv per level instead of two. MQRNet (§III-C) is the same network trained against several
classifiers, so it needs no class of its own.

Table 1 itself is missing from the text we have, so these are the standard U-Net choices
(Ronneberger et al., the paper's ref. [31]), each checked against what the text does say:
- ``base=64`` channels doubling per level, ``depth=4`` pooling steps (U-Net's).
- Dropout after the deepest encoder level and after the bottleneck, where U-Net puts it
  ("drop-out layers at the end of the contracting path"): with the input layer that gives
  exactly the "34 layers, including concatenation and dropout layers" of §III-A.
- Dropout rate 0.2: §IV-A, "dropout rate as 0.2".
- 2x2 transposed conv with stride 2 (U-Net's up-convolution), no activation after it.
- "Same" padding and a 1x1 output conv to ``in_channels`` + sigmoid, so the output is an image
  of the input's size in [0, 1].
Inputs of any size are padded (edge replication) to a multiple of 2**depth and cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int, n_convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class QRNet(nn.Module):
    """U-Net-style quality recovery network: [0, 1] image in, recovered [0, 1] image out."""

    def __init__(self, base: int = 64, depth: int = 4, dropout: float = 0.2,
                 small: bool = False, in_channels: int = 3):
        super().__init__()
        n = 1 if small else 2
        widths = [base * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(_block(c, w, n))
            c = w
        self.bottleneck = _block(c, widths[-1], n)
        self.drop = nn.Dropout(dropout)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for w_hi, w_lo in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(w_hi, w_lo, 2, stride=2))
            self.dec.append(_block(2 * w_lo, w_lo, n))
        self.out = nn.Conv2d(widths[0], in_channels, 1)
        self._he_init()

    def _he_init(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        y = F.pad(x, (0, -w % m, 0, -h % m), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            y = block(y)
            if i == self.depth - 1:
                y = self.drop(y)
            skips.append(y)
            y = F.max_pool2d(y, 2)
        y = self.drop(self.bottleneck(y))
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            y = dec(torch.cat([up(y), skip], dim=1))
        return torch.sigmoid(self.out(y))[..., :h, :w]

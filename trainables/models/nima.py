"""NIMA (Talebi & Milanfar, TIP 2018) as used by seed 002 (§2.2, Fig. 2).

Seed 002: a pre-trained MnasNet whose last layer is replaced by average pooling and a 10-unit
FC layer (softmax over the score buckets 1..10), trained with the squared EMD loss. The dropout
before the FC (rate 0.75) is Talebi & Milanfar's; seed 002 does not restate it.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from trainables.models.backbones import feature_extractor


class NIMAHead(nn.Module):
    """Distribution over aesthetic scores 1..10, shape (N, 10), rows summing to 1.

    Args:
        backbone: ``"mnasnet1_0"`` (seed 002's), another torchvision name from ``BACKBONES``,
            or ``"small"`` (``SmallTrunk``, random init, for CPU).
        dropout: before the FC layer (Talebi & Milanfar: 0.75).
        num_buckets: score buckets (AVA: 10).
        weights_path, pretrained: ImageNet weights for a torchvision trunk (``build_backbone``).

    Takes [0, 1] RGB images of any size (the trunk normalises and the pooling is global).
    """

    def __init__(self, backbone: str = "mnasnet1_0", dropout: float = 0.75, num_buckets: int = 10,
                 weights_path: str | os.PathLike | None = None, pretrained: bool = False):
        super().__init__()
        self.trunk = feature_extractor(backbone, weights_path=weights_path, pretrained=pretrained)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.trunk.out_channels, num_buckets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.trunk(x).mean(dim=(2, 3))
        return torch.softmax(self.fc(self.dropout(feats)), dim=1)

    @staticmethod
    def mean_score(p: torch.Tensor) -> torch.Tensor:
        """The NIMA score sum_i i * p_i over buckets i = 1..N (seed 002 §2.2.1), shape (N,)."""
        buckets = torch.arange(1, p.shape[1] + 1, dtype=p.dtype, device=p.device)
        return p @ buckets

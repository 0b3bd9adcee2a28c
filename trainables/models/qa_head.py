"""QAIR: the CNN that predicts an image's retrieval average precision (seed 000, §3.2, §5.2).

Image QA (§3.2, Figs. 3-4): pre-trained VGG-16 conv layers + 5 FC layers, the first with 128
units and the last with 1, ReLU on all but the last; trained on 124x124 patches with L1 loss.
Feature QA (§5.2, Fig. 8): global average pooling over the feature-extraction CNN's output map
(N x 512 x 36 x 36) + "five fully connected layers similar to Fig. 4", sizes shrinking from
128 to 1. It is the same head without a trunk: ``QAIRHead(backbone=None, in_channels=512)``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from trainables.models.backbones import feature_extractor


class QAIRHead(nn.Module):
    """Predicted AP of a patch (or of a feature map), shape (N,).

    Args:
        backbone: ``"vgg16"`` (the paper's), another torchvision name from ``BACKBONES``,
            ``"small"`` (``SmallTrunk``, for CPU), or ``None`` for the feature-QA variant whose
            input is already a feature map with ``in_channels`` channels.
        in_channels: image channels, or feature channels when ``backbone`` is None.
        hidden: widths of the first four FC layers; the fifth has one output. Fig. 4 is not in
            the text we have; "first layer 128 ... gradually reduces to 1" (§3.2, §5.2) is
            read as halving: 128-64-32-16-1.
        sigmoid: squash the output into [0, 1]. The paper's last layer is linear; we default
            to a sigmoid so the prediction is a valid AP and ``1 - AP`` in the coupled loss
            (Eq. 3/4) is bounded, so an enhancer cannot chase an unbounded judge output.
        weights_path, pretrained: ImageNet weights for a torchvision trunk (see ``build_backbone``).

    The trunk's output is globally average-pooled for both variants. §5.2 says so for feature
    QA; for image QA the paper is silent (Keras would flatten a fixed 124x124 patch's map), and
    pooling lets the head take any patch size.
    """

    def __init__(self, backbone: str | None = "small", in_channels: int = 3,
                 hidden: tuple[int, ...] = (128, 64, 32, 16), sigmoid: bool = True,
                 weights_path: str | os.PathLike | None = None, pretrained: bool = False):
        super().__init__()
        if backbone is None or backbone == "none":
            self.trunk, c = nn.Identity(), in_channels
        else:
            self.trunk = feature_extractor(backbone, weights_path=weights_path,
                                           pretrained=pretrained, in_channels=in_channels)
            c = self.trunk.out_channels
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(c, h), nn.ReLU(inplace=True)]
            c = h
        layers.append(nn.Linear(c, 1))
        self.fc = nn.Sequential(*layers)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.trunk(x).mean(dim=(2, 3))
        out = self.fc(feats).squeeze(1)
        return torch.sigmoid(out) if self.sigmoid else out

    def unfreeze_last_convs(self, k: int) -> None:
        """Freeze the trunk but its last ``k`` convs (§3.2: train the FCs, then unfreeze 9 convs)."""
        convs = [m for m in self.trunk.modules() if isinstance(m, nn.Conv2d)]
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        for m in convs[len(convs) - k:] if k > 0 else []:
            for p in m.parameters():
                p.requires_grad_(True)

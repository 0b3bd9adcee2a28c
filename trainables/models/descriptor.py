"""A small global image descriptor with a VGG-like fc7 output: the offline stand-in for VGG16.

Seed 001 describes a query by VGG16's 4096-d fc7 activation of the image resized to 224×224.
There are no pretrained weights offline, so this net is trained here (``trainables.fsr_gan``) on
the training landmarks' database views only. Shape of VGG's head kept: conv trunk → a fixed
4×4 spatial grid (adaptive average pooling, so any input side works) → fc6 → fc7, both ReLU
(the descriptor is fc7, non-negative like VGG's) → a classifier used only while training.
``dim`` = feature_side², so FSR-GAN's G and D (Tables 2-3) see it as a square map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LandmarkDescriptor(nn.Module):
    def __init__(self, dim: int = 1024, num_classes: int = 10, widths: tuple[int, ...] = (32, 64, 128, 128),
                 grayscale: bool = False, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 5, stride=2, padding=2), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.trunk = nn.Sequential(*layers)
        self.fc6 = nn.Linear(widths[-1] * 16, dim)
        self.fc7 = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.grayscale = grayscale  # luminance only: colour alone must not identify a place

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB (N, 3, H, W) → fc7 activations (N, dim)."""
        if self.grayscale:
            x = x.mean(1, keepdim=True).expand(-1, 3, -1, -1)
        pooled = F.adaptive_avg_pool2d(self.trunk(x), 4).flatten(1)
        return F.relu(self.fc7(self.dropout(F.relu(self.fc6(pooled)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))

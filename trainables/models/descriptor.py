"""A small global image descriptor with a VGG-like fc7 output: the offline stand-in for VGG16.

Seed 001 describes a query by VGG16's 4096-d fc7 activation of the image resized to 224×224.
There are no pretrained weights offline, so this net is trained here (``trainables.fsr_gan``) on
the training landmarks' database views only: conv trunk → GeM pooling → fc6 → fc7, both ReLU
(the descriptor is fc7, non-negative like VGG's) → a classifier used only while training.
``dim`` = feature_side², so FSR-GAN's G and D (Tables 2-3) see it as a square map.

GeM, not VGG's fixed spatial grid: a query and its database views are different crops of a scene,
so a grid compares layouts that do not line up, and what it still matched was coarse enough to
survive a thumbnail (test fold 0 lost 0.043 mAP at 1/64 of the area). Pooling local responses
without their layout, as CNN retrieval descriptors do, makes the feature depend on the detail a
small query loses (README, the embedded-landmarks card, measures it per split).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.models.pooling import gem


MAX_SIDE = 512  # CNN retrieval describes a whole image with its long side at most this (a real photo: 1024)


def shrink_to(x: torch.Tensor, max_side: int = MAX_SIDE) -> torch.Tensor:
    """(N, 3, H, W) images shrunk (bilinear, antialiased) so the long side is at most ``max_side``:
    how CNN retrieval sees a whole image, in the labels, the ranking and the tuned model alike."""
    scale = max_side / max(x.shape[-2:])
    return F.interpolate(x, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False) if scale < 1 else x


def grey(x: torch.Tensor) -> torch.Tensor:
    """Luminance in all three channels: the (N, 3, H, W) input a grey descriptor's trunk takes."""
    return x.mean(1, keepdim=True).expand(-1, 3, -1, -1)


class LandmarkDescriptor(nn.Module):
    def __init__(self, dim: int = 1024, num_classes: int = 10, widths: tuple[int, ...] = (32, 64, 128, 128),
                 grayscale: bool = False, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 5, stride=2, padding=2), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.trunk = nn.Sequential(*layers)
        self.fc6 = nn.Linear(widths[-1], dim)
        self.fc7 = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.grayscale = grayscale  # luminance only: colour alone must not identify a place

    def conv_map(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB (N, 3, H, W) → the last conv map (N, C, h, w)."""
        return self.trunk(grey(x) if self.grayscale else x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB (N, 3, H, W) → fc7 activations (N, dim)."""
        pooled = gem(self.conv_map(x))
        return F.relu(self.fc7(self.dropout(F.relu(self.fc6(pooled)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


class DescriptorConvMap(nn.Module):
    """A grey descriptor's conv ``trunk`` as a module of its own: [0, 1] RGB (N, 3, H, W) → its last
    conv map, what ``CnnBackend`` pools and feature adaptation tunes. Without fc6, fc7 and the
    classifier, whose size depends on the training views, so the architecture is known up front."""

    def __init__(self, trunk: nn.Module):
        super().__init__()
        self.trunk = trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(grey(x))


class EnhancedQueryDescriptor(nn.Module):
    """A query's retrieval descriptor after enhancement (seed 000 §5, Fig. 7): the enhancer, then a
    conv map (``DescriptorConvMap``, or VGG-19's trunk on real data), GeM, L2 normalisation:
    [0, 1] RGB (N, 3, H, W) → (N, C).

    Feature adaptation (``qair_features``) fine-tunes ``conv`` for queries only: the database
    keeps the original conv map's descriptors, which is why Eq. 4 holds the map near the
    original one. The enhanced image is shrunk as ``CnnBackend.describe`` shrinks it (``max_side``)."""

    def __init__(self, enhancer: nn.Module, conv: nn.Module, gem_p: float = 3.0, max_side: int = MAX_SIDE):
        super().__init__()
        self.enhancer, self.conv, self.gem_p, self.max_side = enhancer, conv, gem_p, max_side

    def conv_map(self, enhanced: torch.Tensor) -> torch.Tensor:
        """The conv map of an already enhanced image (what the feature QA net judges)."""
        return self.conv(enhanced)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(gem(self.conv_map(shrink_to(self.enhancer(x).clamp(0, 1), self.max_side)), self.gem_p), dim=1)

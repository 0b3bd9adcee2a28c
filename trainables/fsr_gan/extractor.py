"""The frozen feature extractor F of FSR-GAN: VGG16 fc7 on real data, a trained stand-in offline.

- ``vgg16``: torchvision's VGG16 with ImageNet weights from a local file; the feature is fc7
  after its ReLU ("the 36th layer" of MatConvNet's VGG16), 4096-d, of the image squashed to the
  input size (paper: 224×224).
- ``embedded``: ``LandmarkDescriptor`` trained here on the training landmarks' database views
  only (``trainables.retrieval.landmark_descriptor``); its fc7 is F. It is a stand-in for VGG16,
  not VGG16.

``describe`` returns L2-normalised features: retrieval ranks by cosine similarity, and the
distances of Table 1 and Figs. 4-5 are between unit vectors (0 … 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.models import LandmarkDescriptor, build_backbone
from trainables.retrieval.landmark_descriptor import DescriptorRecipe


class Vgg16Fc7(nn.Module):
    """[0, 1] RGB (N, 3, 224, 224) → VGG16's fc7 after ReLU (N, 4096)."""

    def __init__(self, weights_path: str | None):
        super().__init__()
        self.vgg = build_backbone("vgg16", weights_path=weights_path, pretrained=True, normalize=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalize, vgg = self.vgg
        pooled = vgg.avgpool(vgg.features(normalize(x))).flatten(1)
        return vgg.classifier[:5](pooled)  # fc6, ReLU, dropout (off in eval), fc7, ReLU


def recipe(config) -> DescriptorRecipe:
    return DescriptorRecipe(input_size=config.input_size, dim=config.dim, steps=config.desc_steps, lr=config.desc_lr,
                            batch_size=config.desc_batch_size, seed=config.seed)


def build_extractor(config, num_classes: int = 1) -> nn.Module:
    """The extractor's architecture; its ``features`` (or forward, for VGG16) is F."""
    if config.extractor == "vgg16":
        return Vgg16Fc7(config.extractor_weights)
    return LandmarkDescriptor(dim=config.dim, num_classes=num_classes, grayscale=True)


@torch.no_grad()
def describe(extractor: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 32) -> torch.Tensor:
    """F of float (N, 3, S, S) images, L2-normalised, on the CPU."""
    extractor.eval()
    forward = extractor.features if isinstance(extractor, LandmarkDescriptor) else extractor
    return torch.cat([F.normalize(forward(x.to(device)), dim=1).cpu() for x in images.split(batch)])

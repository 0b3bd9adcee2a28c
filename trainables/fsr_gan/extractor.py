"""The frozen feature extractor F of FSR-GAN: VGG16 fc7 on real data, a trained stand-in offline.

- ``vgg16``: torchvision's VGG16 with ImageNet weights from a local file; the feature is fc7
  after its ReLU ("the 36th layer" of MatConvNet's VGG16), 4096-d, of the image squashed to the
  input size (paper: 224×224).
- ``embedded``: ``LandmarkDescriptor`` trained here on the training landmarks' database views
  only, by instance discrimination: every view is a class, and the net sees random crops of it
  at about the scale F's input shows it. Telling views of one place apart needs the image's
  detail, not only its colours; it sees luminance only for the same reason (measured on split 0
  after 300 steps: the drop of mAP at 1/64 was 0.055 in grey against 0.024 in colour). It is a
  stand-in for VGG16, not VGG16.

``describe`` returns L2-normalised features: retrieval ranks by cosine similarity, and the
distances of Table 1 and Figs. 4-5 are between unit vectors (0 … 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import Progress
from trainables.data.image_files import to_tensor
from trainables.data.retrieval_set import RetrievalSet
from trainables.models import LandmarkDescriptor, build_backbone


class Vgg16Fc7(nn.Module):
    """[0, 1] RGB (N, 3, 224, 224) → VGG16's fc7 after ReLU (N, 4096)."""

    def __init__(self, weights_path: str | None):
        super().__init__()
        self.vgg = build_backbone("vgg16", weights_path=weights_path, pretrained=True, normalize=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normalize, vgg = self.vgg
        pooled = vgg.avgpool(vgg.features(normalize(x))).flatten(1)
        return vgg.classifier[:5](pooled)  # fc6, ReLU, dropout (off in eval), fc7, ReLU


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


def train_descriptor(config, rset: RetrievalSet, views: list[int], device: torch.device,
                     progress: Progress | None = None) -> LandmarkDescriptor:
    """Instance discrimination on the database views ``views`` (every view is its own class)."""
    torch.manual_seed(config.seed)
    images = [to_tensor(rset.load_db(i)) for i in views]
    net = build_extractor(config, num_classes=len(views)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.desc_lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(config.seed)
    crop = config.input_size // 2
    for step in range(config.desc_steps):
        labels = torch.randint(len(images), (config.desc_batch_size,), generator=gen)
        x = torch.stack([_view_crop(images[i], config.input_size, crop, gen) for i in labels.tolist()])
        net.train()
        loss = F.cross_entropy(net(x.to(device)), labels.to(device), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress and (step + 1) % 250 == 0:
            progress(f"descriptor step {step + 1}/{config.desc_steps}: loss {loss.item():.3f}")
    return net.eval()


def _view_crop(image: torch.Tensor, side: int, crop: int, gen: torch.Generator) -> torch.Tensor:
    """A ``crop``² patch of the view scaled about as F's ``side``² input shows it (±30 %), maybe flipped."""
    h, w = image.shape[1:]
    scale = side / (h * w) ** 0.5 * float(torch.empty(()).uniform_(0.7, 1.3, generator=gen))
    scale = max(scale, crop / min(h, w))  # never smaller than the crop
    x = F.interpolate(image[None], scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)[0]
    y0 = int(torch.randint(x.shape[1] - crop + 1, (), generator=gen))
    x0 = int(torch.randint(x.shape[2] - crop + 1, (), generator=gen))
    patch = x[:, y0:y0 + crop, x0:x0 + crop]
    return patch.flip(-1) if torch.rand((), generator=gen) < 0.5 else patch

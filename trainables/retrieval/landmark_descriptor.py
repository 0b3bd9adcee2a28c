"""Train the embedded landmark descriptor (``LandmarkDescriptor``), the offline stand-in for a
pretrained retrieval CNN, on the database views of some landmarks only.

Instance discrimination: every view is its own class, and the net sees random crops of it at
about the scale its input shows it. Telling views of one place apart needs the image's detail,
not only its colours; it sees luminance only for the same reason (measured on split 0 after 300
steps, with the earlier grid-pooled head: the drop of mAP at 1/64 of the area was 0.055 in grey
against 0.024 in colour).

Two schemes use it, each on its own split's training landmarks so the test landmarks stay
unseen: ``fsr_gan`` as F (fc7, seed 001) and ``qair_*`` with ``local_feature: cnn`` as the CNN
retrieval backend (GeM of the last conv map, seed 000 §6.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from trainables.contract import Progress
from trainables.data.image_files import to_tensor
from trainables.data.retrieval_set import RetrievalSet
from trainables.models import LandmarkDescriptor


@dataclass(frozen=True)
class DescriptorRecipe:
    input_size: int = 192  # the side the net's input shows a whole view at
    dim: int = 1024  # fc6 / fc7 width
    steps: int = 900
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0


def train_descriptor(recipe: DescriptorRecipe, rset: RetrievalSet, views: list[int], device: torch.device,
                     progress: Progress | None = None) -> LandmarkDescriptor:
    """Instance discrimination on the database views ``views`` (every view is its own class)."""
    torch.manual_seed(recipe.seed)
    images = [to_tensor(rset.load_db(i)) for i in views]
    net = LandmarkDescriptor(dim=recipe.dim, num_classes=len(views), grayscale=True).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(recipe.seed)
    crop = recipe.input_size // 2
    for step in range(recipe.steps):
        labels = torch.randint(len(images), (recipe.batch_size,), generator=gen)
        x = torch.stack([_view_crop(images[i], recipe.input_size, crop, gen) for i in labels.tolist()])
        net.train()
        loss = F.cross_entropy(net(x.to(device)), labels.to(device), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress and (step + 1) % 250 == 0:
            progress(f"descriptor step {step + 1}/{recipe.steps}: loss {loss.item():.3f}")
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


def save_descriptor(net: LandmarkDescriptor, path: Path) -> None:
    torch.save({"state": net.state_dict(), "classes": net.classifier.out_features}, path)


def load_descriptor(path: Path, dim: int, device: torch.device) -> LandmarkDescriptor:
    """A saved descriptor, frozen (eval mode, no grad), on ``device``."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = LandmarkDescriptor(dim=dim, num_classes=saved["classes"], grayscale=True)
    net.load_state_dict(saved["state"])
    return net.to(device).eval().requires_grad_(False)

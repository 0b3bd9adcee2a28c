"""The classifiers QRNet is trained against and judged by, and how they are trained.

Small families (``small_vgg``, ``small_resnet``, ``small_inception``) are trained from scratch,
every weight; torchvision backbones (``vgg16``, ``resnet50``, ``inception_v3``) start from local
ImageNet weights and only their FC head is re-fit. Every classifier takes [0, 1] images.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainables.models import SmallInception, SmallResNet, SmallVGG, build_backbone
from trainables.models.backbones import weights_file_name
from trainables.qrnet.data import Data, as_float, half_distorted_batch

SMALL = {"small_vgg": SmallVGG, "small_resnet": SmallResNet, "small_inception": SmallInception}
TORCHVISION = ("vgg16", "resnet50", "inception_v3")
CLASSIFIERS = (*SMALL, *TORCHVISION)


def weights_path(config, name: str) -> str | None:
    """The ImageNet weight file of a torchvision backbone in ``weights_dir`` (None: torch's default)."""
    return str(Path(config.weights_dir).expanduser() / weights_file_name(name)) if config.weights_dir else None


def build_classifier(config, name: str, n_classes: int, device: torch.device, state_file: Path | None = None) -> nn.Module:
    """A classifier on ``device``; ``state_file``: weights saved by a classifier stage."""
    if name in SMALL:
        model = SMALL[name](n_classes, width=config.cls_width)
        if state_file is not None:
            model.load_state_dict(torch.load(state_file, map_location="cpu", weights_only=True))
        return model.to(device)
    if state_file is not None:
        model = build_backbone(name, weights_path=state_file, num_classes=n_classes, normalize=True)
    else:
        model = build_backbone(name, weights_path=weights_path(config, name), pretrained=config.pretrained_backbones,
                               num_classes=n_classes, normalize=True)
    if name == "inception_v3":
        model[1].transform_input = config.pretrained_backbones  # as torchvision's builder sets it
    return model.to(device)


def head_of(model: nn.Module, name: str) -> nn.Module:
    """The fully connected layer(s) end-to-end training fine-tunes (VGG16: its three FC layers)."""
    if name in SMALL:
        return model.fc
    return model[1].classifier if name == "vgg16" else model[1].fc


def adapted_part(model: nn.Module, name: str) -> nn.Module:
    """What clean training and fine-tuning update: all of a small classifier, a backbone's head."""
    return model if name in SMALL else head_of(model, name)


def state_of(model: nn.Module, name: str) -> dict:
    """What a classifier stage saves: torchvision's own keys for a backbone (``build_backbone`` reads them)."""
    return model.state_dict() if name in SMALL else model[1].state_dict()


def fit_classifier(config, model: nn.Module, name: str, train: Data, epochs: int, kinds: tuple[str, ...],
                   seed: int, device: torch.device) -> None:
    """Adam on cross-entropy; ``kinds`` non-empty → half clean / half distorted batches."""
    part = adapted_part(model, name)
    opt = torch.optim.Adam(part.parameters(), lr=config.cls_lr)
    gen = torch.Generator().manual_seed(seed)
    x, y = train
    for _ in range(epochs):
        model.eval()  # a backbone keeps its ImageNet BN statistics; only ``part`` trains
        part.train()
        for idx in torch.randperm(len(y), generator=gen).split(config.batch_size // 2 if kinds else config.batch_size):
            images, labels = as_float(x[idx]).to(device), y[idx].to(device)
            if kinds:
                images, _, _, _ = half_distorted_batch(images, config, kinds, gen)
                labels = torch.cat([labels, labels])
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, device: torch.device) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(images[i:i + batch].to(device)).argmax(1).cpu() == labels[i:i + batch]).sum())
                   for i in range(0, len(labels), batch))
    return hits / len(labels)

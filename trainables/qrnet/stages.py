"""The cached upstream stages of ``qrnet`` / ``mqrnet`` (seed 003), each declared once as a ``Stage``.

- ``DATA`` (``qrnet-data``): Caltech101 squashed to ``image_size``² and split per class;
  embedded-digits needs no stage.
- ``CLASSIFIER`` (``qrnet-cls-<name>``): a classifier trained on clean images (small families
  from scratch, torchvision backbones: the FC head re-fit on local ImageNet weights).
- ``PRETRAIN`` (``qrnet-pretrain``): QRNet trained to reproduce clean images (L1), Algorithm 1's
  first step; every other QRNet, and every trial, starts from it.
- ``RECNET`` (``qrnet-recnet-<noise|blur|multi>``): RecNet, the same QRNet trained on from the
  pretrained weights by Algorithm 1 with the L1 term only, on one distortion type or on all.
- ``FINETUNED`` (``qrnet-ft-<name>-<noise|blur|multi>``): the clean classifier fine-tuned on half
  clean / half distorted batches (Table 4's "Fine-tuned VGG16 (single/multiple)").
- ``ONE_CLASSIFIER`` (``qrnet-one-<name>``, mqrnet): QRNet trained against one classifier at
  ``baseline_lam`` (Fig. 6 "QRNet + ResNet").

The baseline metrics evaluated on them are two more stages, in ``baselines.py``. Keys hold what
a stage's output depends on and nothing a sweep searches (no λ, λ_i, lr, dropout, epochs,
patience or classifier_mode), so every trial of a sweep shares them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainables.contract import Progress
from trainables.data import embedded_digits
from trainables.errors import UserInputError
from trainables.models import QRNet
from trainables.models.backbones import default_weights_path
from trainables.qrnet.algorithm import build_qrnet, fit_enhancer, train_one_epoch
from trainables.qrnet.classifiers import (SMALL, TORCHVISION, accuracy, build_classifier, fit_classifier, state_of,
                                          weights_path)
from trainables.qrnet.data import Data, as_float, caltech_arrays, data_key, levels_of, load_split, num_classes
from trainables.stages import Stage


def set_tag(kinds: tuple[str, ...]) -> str:
    """A set of distortion types in names: the type alone, or ``multi``."""
    return kinds[0] if len(kinds) == 1 else "multi"


def kind_sets(kinds: tuple[str, ...]) -> list[tuple[str, ...]]:
    """What the "single" and "multiple" baselines train on: each type alone, then all of them."""
    return [(k,) for k in kinds] + ([kinds] if len(kinds) > 1 else [])


# ---------------------------------------------------------------- data (Caltech101 only)


def _data_key(config) -> dict:
    key = data_key(config)
    key.pop("train_images")  # capping the training images happens after the stage
    return key


def _build_data(out: Path, config, *, device, progress) -> None:
    """``data.npz``: uint8 images, labels, the per-class split, ``n_classes``."""
    np.savez(out / "data.npz", **caltech_arrays(config, progress))


def _check_root(config) -> None:
    """A wrong root: one line naming the missing folder."""
    from trainables.data.classification import CALTECH101_LAYOUT
    from trainables.data.image_files import require_dir

    require_dir(Path(config.data_root).expanduser() / "caltech101" / "101_ObjectCategories", CALTECH101_LAYOUT)


DATA = Stage("qrnet-data", version=1, key=_data_key, build=_build_data, check=_check_root,
             load=lambda folder, config, *, device: folder)  # trials read it through data.load_split


def ensure_data(config, *, device: torch.device, progress: Progress | None = None) -> Path | None:
    """The data stage's folder, built if missing; None for embedded-digits (no stage)."""
    if config.dataset == embedded_digits.NAME:
        return None
    return DATA.ensure(config, device=device, progress=progress)


def _train_val(config, device: torch.device, progress: Progress | None) -> tuple[Data, Data]:
    data = ensure_data(config, device=device, progress=progress)
    return load_split(config, "train", data), load_split(config, "val", data)


# ---------------------------------------------------------------- classifiers: clean, fine-tuned


def _classifier_key(config, name: str) -> dict:
    arch = {"width": config.cls_width} if name in SMALL else {"pretrained": config.pretrained_backbones, "weights_dir": config.weights_dir}
    return {"data": data_key(config), "name": name, **arch, "epochs": config.cls_epochs, "lr": config.cls_lr,
            "batch": config.batch_size}


def _save_classifier(out: Path, model: nn.Module, name: str, n_classes: int) -> None:
    """``classifier.pt`` and ``classifier.json`` (its class count: loading needs no data stage)."""
    torch.save(state_of(model, name), out / "classifier.pt")
    (out / "classifier.json").write_text(json.dumps({"n_classes": n_classes}))


def _build_classifier(out: Path, config, name: str, *, device, progress) -> None:
    """The classifier and ``metrics.json`` (its clean validation accuracy)."""
    data = ensure_data(config, device=device, progress=progress)
    n = num_classes(config, data)
    torch.manual_seed(config.seed)
    model = build_classifier(config, name, n, device)
    train, val = load_split(config, "train", data), load_split(config, "val", data)
    fit_classifier(config, model, name, train, config.cls_epochs, (), config.seed, device)
    acc = accuracy(model, as_float(val[0]), val[1], config.eval_batch, device)
    if progress:
        progress(f"classifier {name}: clean val accuracy {acc:.3f}")
    _save_classifier(out, model, name, n)
    (out / "metrics.json").write_text(json.dumps({"val_acc_clean": acc}))


def _load_classifier(folder: Path, config, name: str, *_kinds, device) -> nn.Module:
    """A saved classifier, frozen (eval mode, no grad); ``_kinds``: FINETUNED's, not needed here."""
    n = json.loads((folder / "classifier.json").read_text())["n_classes"]
    return build_classifier(config, name, n, device, folder / "classifier.pt").eval().requires_grad_(False)


def _check_weights(config, name: str) -> None:
    """A torchvision classifier starts from local ImageNet weights: one line if they are missing."""
    if name in TORCHVISION and config.pretrained_backbones:
        path = Path(weights_path(config, name) or default_weights_path(name))
        if not path.is_file():
            raise UserInputError(f"ImageNet weights for {name} not found at {path}; copy torchvision's {path.name} there, "
                                 f"set weights_dir, or set pretrained_backbones: false")


CLASSIFIER = Stage("qrnet-cls", version=1, key=_classifier_key, build=_build_classifier, load=_load_classifier,
                   tag=lambda name: name, check=_check_weights)


def _finetuned_key(config, name: str, kinds: tuple[str, ...]) -> dict:
    return {"cls": CLASSIFIER.full_key(config, name), "kinds": kinds, "levels": [levels_of(config, k) for k in kinds],
            "epochs": config.finetune_epochs}


def _build_finetuned(out: Path, config, name: str, kinds: tuple[str, ...], *, device, progress) -> None:
    model = CLASSIFIER.get(config, name, device=device, progress=progress).requires_grad_(True)
    data = ensure_data(config, device=device, progress=progress)
    fit_classifier(config, model, name, load_split(config, "train", data), config.finetune_epochs, kinds, config.seed + 17, device)
    _save_classifier(out, model, name, num_classes(config, data))


FINETUNED = Stage("qrnet-ft", version=1, key=_finetuned_key, build=_build_finetuned, load=_load_classifier,
                  tag=lambda name, kinds: f"{name}-{set_tag(kinds)}")


# ---------------------------------------------------------------- QRNets: pretrained, RecNet, one classifier


def load_qrnet(folder: Path, config, *_args, device, dropout: float | None = None) -> QRNet:
    """A saved QRNet (every QRNet stage's ``load``; ``_args``: the stage's own, not needed here).
    ``dropout``: a trial's rate; default the stages' ``stage_dropout``."""
    model = build_qrnet(config, config.stage_dropout if dropout is None else dropout)
    model.load_state_dict(torch.load(folder / "qrnet.pt", map_location="cpu", weights_only=True))
    return model.to(device)


def _pretrain_key(config) -> dict:
    return {"data": data_key(config), "base": config.qrnet_base, "depth": config.qrnet_depth, "small": config.qrnet_small,
            "dropout": config.stage_dropout, "epochs": config.pretrain_epochs, "lr": config.stage_lr, "batch": config.batch_size}


def _build_pretrain(out: Path, config, *, device, progress) -> None:
    """QRNet pretrained on clean images with L1 (inputs = targets)."""
    torch.manual_seed(config.seed)  # initial weights and dropout
    model = build_qrnet(config, config.stage_dropout).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.stage_lr)
    gen = torch.Generator().manual_seed(config.seed)
    train = load_split(config, "train", ensure_data(config, device=device, progress=progress))
    for epoch in range(config.pretrain_epochs):
        m = train_one_epoch(model, opt, [], [], train, config, (), gen, device)
        if progress:
            progress(f"pretrain QRNet epoch {epoch + 1}/{config.pretrain_epochs}: L1 {m['train_l1']:.4f}")
    torch.save(model.state_dict(), out / "qrnet.pt")


PRETRAIN = Stage("qrnet-pretrain", version=1, key=_pretrain_key, build=_build_pretrain, load=load_qrnet)


def _enhancer_key(config, kinds: tuple[str, ...], judges: tuple[dict, ...] = (), lams: tuple[float, ...] = ()) -> dict:
    """A QRNet trained on from ``PRETRAIN`` on ``kinds`` against ``judges`` (their stage keys)."""
    return {"pretrain": PRETRAIN.full_key(config), "kinds": kinds, "levels": [levels_of(config, k) for k in kinds],
            "judges": judges, "lams": lams, "epochs": config.stage_epochs, "patience": config.stage_patience}


def _build_recnet(out: Path, config, kinds: tuple[str, ...], *, device, progress) -> None:
    """RecNet: QRNet's architecture trained by Algorithm 1 with the L1 term alone."""
    model = PRETRAIN.get(config, device=device, progress=progress)
    torch.manual_seed(config.seed + 1)  # dropout
    train, val = _train_val(config, device, progress)
    fit_enhancer(config, model, [], [], kinds, config.seed + 2, train, val, device, progress, f"RecNet ({set_tag(kinds)})")
    torch.save(model.state_dict(), out / "qrnet.pt")


RECNET = Stage("qrnet-recnet", version=1, key=_enhancer_key, build=_build_recnet, load=load_qrnet, tag=set_tag)


def _one_classifier_key(config, name: str, lam: float) -> dict:
    return _enhancer_key(config, tuple(config.distortions), (CLASSIFIER.full_key(config, name),), (lam,))


def _build_one_classifier(out: Path, config, name: str, lam: float, *, device, progress) -> None:
    """QRNet trained against the one classifier ``name`` at weight ``lam`` (Fig. 6's "QRNet")."""
    model = PRETRAIN.get(config, device=device, progress=progress)
    judge = CLASSIFIER.get(config, name, device=device, progress=progress)
    torch.manual_seed(config.seed + 3)  # dropout
    train, val = _train_val(config, device, progress)
    fit_enhancer(config, model, [judge], [lam], tuple(config.distortions), config.seed + 4, train, val, device,
                 progress, f"QRNet ({name})")
    torch.save(model.state_dict(), out / "qrnet.pt")


ONE_CLASSIFIER = Stage("qrnet-one", version=1, key=_one_classifier_key, build=_build_one_classifier, load=load_qrnet,
                       tag=lambda name, lam: name)

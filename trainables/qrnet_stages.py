"""The pieces ``qrnet`` and ``mqrnet`` share (seed 003): data, classifiers, distortions, the
Algorithm-1 epoch, the evaluation, and the cached upstream stages.

Stages (each cached by ``cached_stage``; keys hold what their output depends on and nothing a
sweep searches: no λ, λ_i, lr, dropout, epochs, patience or classifier_mode):

- ``qrnet-data``: Caltech101 resized to ``image_size``² and split 64/16/20 % per class (the
  paper's 80/20 with 20 % of train for validation); embedded-digits needs no stage.
- ``qrnet-cls-<name>``: a classifier trained on clean images. Small families (``small_vgg``,
  ``small_resnet``, ``small_inception``) from scratch, every weight; torchvision backbones
  (``vgg16``, ``resnet50``, ``inception_v3``) from local ImageNet weights, the FC head re-fit.
- ``qrnet-pretrain``: QRNet trained to reproduce clean images (L1), Algorithm 1's first step.
- ``qrnet-recnet-<noise|blur|multi>``: RecNet, the same QRNet trained on from the pretrained
  weights by Algorithm 1 with the L1 term only, on one distortion type or on both.
- ``qrnet-ft-<name>-<noise|blur|multi>``: the clean classifier fine-tuned on half clean / half
  distorted batches (Table 4's "Fine-tuned VGG16 (single/multiple)").
- ``qrnet-one-<name>`` (mqrnet): QRNet trained against one classifier at ``baseline_lam``
  (Fig. 6 "QRNet + ResNet").
- ``qrnet-baselines``: every baseline evaluated once on the test split (``baselines.json``),
  so trials report them as constants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainables.data import embedded_digits
from trainables.data.degradations import awgn, blur_kernel_size, gaussian_blur
from trainables.device import compute_device
from trainables.errors import UserInputError
from trainables.metrics import psnr_per_image, ssim_per_image
from trainables.models import QRNet, SmallInception, SmallResNet, SmallVGG, build_backbone
from trainables.models.backbones import default_weights_path, weights_file_name
from trainables.stages import cached_stage, stage_dir

Progress = Callable[[str], None] | None
Data = tuple[torch.Tensor, torch.Tensor]  # uint8 (N, 3, S, S) images, int64 (N,) labels
VERSION = {"data": 1, "cls": 1, "pretrain": 1, "recnet": 1, "ft": 1, "one": 1, "baselines": 1}
KINDS = ("noise", "blur")
SMALL = {"small_vgg": SmallVGG, "small_resnet": SmallResNet, "small_inception": SmallInception}
TORCHVISION = ("vgg16", "resnet50", "inception_v3")
CLASSIFIERS = (*SMALL, *TORCHVISION)
DATASETS = (embedded_digits.NAME, "caltech101")


# ---------------------------------------------------------------- data


def data_key(config) -> dict:
    root = str(Path(config.data_root).expanduser().resolve()) if config.data_root else None
    return {"dataset": config.dataset, "root": root, "size": config.image_size,
            "train_images": config.train_images, "seed": config.seed}


def caltech_stage(config, progress: Progress = None) -> Path:
    """``data.npz``: uint8 images squashed to ``image_size``², labels, the per-class split."""

    def build(out: Path) -> None:
        from trainables.data.classification import stratified_split
        from trainables.data.real import load_real

        ds = load_real("caltech101", config.data_root)
        split = stratified_split(ds.targets, train=0.64, val=0.16, test=None, seed=config.seed)
        arrays = {}
        for name, idx in split.items():
            images = []
            for k, i in enumerate(idx):
                img = ds[i][0][None]
                img = F.interpolate(img, size=(config.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
                images.append(img.clamp(0, 1).mul(255).round().byte()[0])
                if progress and (k + 1) % 500 == 0:
                    progress(f"caltech101 {name}: {k + 1}/{len(idx)} images")
            arrays[f"x_{name}"] = torch.stack(images).numpy()
            arrays[f"y_{name}"] = np.asarray([ds.samples[i][1] for i in idx], dtype=np.int64)
        np.savez(out / "data.npz", n_classes=len(ds.classes), **arrays)

    key = {"version": VERSION["data"], **data_key(config)}
    key.pop("train_images")  # capping the training images happens after the stage
    if not stage_dir("qrnet-data", key).is_dir():  # a wrong root: one line, before any "building"
        from trainables.data.classification import CALTECH101_LAYOUT
        from trainables.data.image_files import require_dir

        require_dir(Path(config.data_root).expanduser() / "caltech101" / "101_ObjectCategories", CALTECH101_LAYOUT)
    return cached_stage("qrnet-data", key, build, progress)


def load_split(config, split: str, progress: Progress = None) -> Data:
    """``train``/``val``/``test`` as uint8 images and labels; train capped at ``train_images``,
    val and test at ``eval_images`` (evenly spaced, so every class stays in)."""
    if config.dataset == embedded_digits.NAME:
        x, y = embedded_digits.load(split, embedded_digits.DigitsSpec(seed=config.seed, size=config.image_size)).tensors
        x = x.mul(255).round().byte()
    else:
        with np.load(caltech_stage(config, progress) / "data.npz") as f:
            x, y = torch.from_numpy(f[f"x_{split}"]), torch.from_numpy(f[f"y_{split}"])
    cap = config.train_images if split == "train" else config.eval_images
    if cap is not None and cap < len(y):
        keep = torch.linspace(0, len(y) - 1, cap).round().long()
        x, y = x[keep], y[keep]
    return x, y


def num_classes(config) -> int:
    if config.dataset == embedded_digits.NAME:
        return 10
    with np.load(caltech_stage(config) / "data.npz") as f:
        return int(f["n_classes"])


def as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255.0)


# ---------------------------------------------------------------- distortions (§IV-A)


def levels_of(config, kind: str) -> tuple[float, ...]:
    return {"noise": config.noise_levels, "blur": config.blur_levels}[kind]


def distort(x: torch.Tensor, kind: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """AWGN (σ in 0–255 units) or Gaussian blur (kernel 4σ−1, the paper's rule) of [0, 1] images."""
    if kind == "noise":
        return awgn(x, level, generator)
    if kind == "blur":
        return gaussian_blur(x, level, rule="qrnet")
    raise UserInputError(f"unknown distortion {kind!r} (known: {', '.join(KINDS)})")


def sample_distortion(config, kinds: tuple[str, ...], generator: torch.Generator) -> tuple[str, float]:
    """Algorithm 1: a random type d ∈ D, then a random level p ∈ P_d (one per batch)."""
    kind = kinds[int(torch.randint(len(kinds), (1,), generator=generator))]
    levels = levels_of(config, kind)
    return kind, levels[int(torch.randint(len(levels), (1,), generator=generator))]


def half_distorted_batch(clean: torch.Tensor, config, kinds: tuple[str, ...], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, str, float]:
    """``b_x_train = [b_x*, G(b_x*, d, p)]``, ``b_x_target = [b_x*, b_x*]``: half stays clean."""
    kind, level = sample_distortion(config, kinds, generator)
    return torch.cat([clean, distort(clean, kind, level, generator)]), torch.cat([clean, clean]), kind, level


# ---------------------------------------------------------------- the loss (Eq. 4 and 5)


def coupled_loss(l1, ces, lams):
    """Eq. 4 / Eq. 5, the one weighted sum: ``L1 + Σ_i λ_i·CE_i`` (tensors or floats)."""
    if len(ces) != len(lams):
        raise ValueError(f"{len(ces)} classification losses but {len(lams)} weights")
    return l1 + sum(lam * ce for lam, ce in zip(lams, ces))


def qrnet_loss(recovered: torch.Tensor, clean: torch.Tensor, logits: list[torch.Tensor],
               labels: torch.Tensor, lams: list[float]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """L_q = mean |x* − Q(x)| (Eq. 1), L_Ci = softmax CE (Eq. 3); returns (loss, L_q, [L_Ci])."""
    l1 = F.l1_loss(recovered, clean)
    ces = [F.cross_entropy(z, labels) for z in logits]
    return coupled_loss(l1, ces, lams), l1, ces


# ---------------------------------------------------------------- classifiers


def _weights(config, name: str) -> str | None:
    return str(Path(config.weights_dir).expanduser() / weights_file_name(name)) if config.weights_dir else None


def build_classifier(config, name: str, n_classes: int, state_file: Path | None = None) -> nn.Module:
    """A classifier taking [0, 1] images; ``state_file``: weights saved by the classifier stage."""
    if name in SMALL:
        model = SMALL[name](n_classes, width=config.cls_width)
        if state_file is not None:
            model.load_state_dict(torch.load(state_file, map_location="cpu", weights_only=True))
        return model.to(compute_device())
    if state_file is not None:
        model = build_backbone(name, weights_path=state_file, num_classes=n_classes, normalize=True)
    else:
        model = build_backbone(name, weights_path=_weights(config, name), pretrained=config.pretrained_backbones,
                               num_classes=n_classes, normalize=True)
    if name == "inception_v3":
        model[1].transform_input = config.pretrained_backbones  # as torchvision's builder sets it
    return model.to(compute_device())


def head_of(model: nn.Module, name: str) -> nn.Module:
    """The fully connected layer(s) end-to-end training fine-tunes (VGG16: its three FC layers)."""
    if name in SMALL:
        return model.fc
    return model[1].classifier if name == "vgg16" else model[1].fc


def adapted_part(model: nn.Module, name: str) -> nn.Module:
    """What clean training and fine-tuning update: all of a small classifier, a backbone's head."""
    return model if name in SMALL else head_of(model, name)


def _state_of(model: nn.Module, name: str) -> dict:
    return model.state_dict() if name in SMALL else model[1].state_dict()  # torchvision's keys


def classifier_key(config, name: str) -> dict:
    arch = {"width": config.cls_width} if name in SMALL else {"pretrained": config.pretrained_backbones, "weights_dir": config.weights_dir}
    return {"version": VERSION["cls"], "data": data_key(config), "name": name, **arch, "epochs": config.cls_epochs,
            "lr": config.cls_lr, "batch": config.batch_size}


def _fit_classifier(config, model: nn.Module, name: str, train: Data, epochs: int, kinds: tuple[str, ...], seed: int) -> None:
    """Adam on cross-entropy; ``kinds`` non-empty → half clean / half distorted batches."""
    part = adapted_part(model, name)
    opt = torch.optim.Adam(part.parameters(), lr=config.cls_lr)
    gen = torch.Generator().manual_seed(seed)
    x, y = train
    for _ in range(epochs):
        model.eval()
        part.train()
        for idx in torch.randperm(len(y), generator=gen).split(config.batch_size // 2 if kinds else config.batch_size):
            images, labels = as_float(x[idx]).to(compute_device()), y[idx].to(compute_device())
            if kinds:
                images, _, _, _ = half_distorted_batch(images, config, kinds, gen)
                labels = torch.cat([labels, labels])
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def classifier_stage(config, name: str, progress: Progress = None) -> Path:
    if name in TORCHVISION and config.pretrained_backbones and not stage_dir(f"qrnet-cls-{name}", classifier_key(config, name)).is_dir():
        path = Path(_weights(config, name) or default_weights_path(name))
        if not path.is_file():
            raise UserInputError(f"ImageNet weights for {name} not found at {path}; copy torchvision's {path.name} there, "
                                 f"set weights_dir, or set pretrained_backbones: false")

    def build(out: Path) -> None:
        n = num_classes(config)
        torch.manual_seed(config.seed)
        model = build_classifier(config, name, n)
        train, val = load_split(config, "train", progress), load_split(config, "val")
        _fit_classifier(config, model, name, train, config.cls_epochs, (), config.seed)
        acc = accuracy(model, as_float(val[0]), val[1], config.eval_batch)
        if progress:
            progress(f"classifier {name}: clean val accuracy {acc:.3f}")
        torch.save(_state_of(model, name), out / "classifier.pt")
        (out / "metrics.json").write_text(json.dumps({"val_acc_clean": acc}))

    return cached_stage(f"qrnet-cls-{name}", classifier_key(config, name), build, progress)


def load_classifier(config, name: str, progress: Progress = None) -> nn.Module:
    model = build_classifier(config, name, num_classes(config), classifier_stage(config, name, progress) / "classifier.pt")
    return model.eval().requires_grad_(False)


def finetune_key(config, name: str, kinds: tuple[str, ...]) -> dict:
    return {"version": VERSION["ft"], "cls": classifier_key(config, name), "kinds": kinds,
            "levels": [levels_of(config, k) for k in kinds], "epochs": config.finetune_epochs}


def finetune_stage(config, name: str, kinds: tuple[str, ...], progress: Progress = None) -> Path:
    def build(out: Path) -> None:
        model = load_classifier(config, name, progress).requires_grad_(True)
        _fit_classifier(config, model, name, load_split(config, "train"), config.finetune_epochs, kinds, config.seed + 17)
        torch.save(_state_of(model, name), out / "classifier.pt")

    return cached_stage(f"qrnet-ft-{name}-{set_tag(kinds)}", finetune_key(config, name, kinds), build, progress)


def load_finetuned(config, name: str, kinds: tuple[str, ...], progress: Progress = None) -> nn.Module:
    model = build_classifier(config, name, num_classes(config), finetune_stage(config, name, kinds, progress) / "classifier.pt")
    return model.eval().requires_grad_(False)


def set_tag(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else "multi"


# ---------------------------------------------------------------- Algorithm 1 and evaluation


def build_qrnet(config, dropout: float) -> QRNet:
    return QRNet(base=config.qrnet_base, depth=config.qrnet_depth, dropout=dropout, small=config.qrnet_small)


def train_one_epoch(model: QRNet, opt: torch.optim.Optimizer, judges: list[nn.Module], lams: list[float],
                    train: Data, config, kinds: tuple[str, ...], generator: torch.Generator) -> dict[str, float]:
    """One pass over the training images in batches half clean, half distorted (Algorithm 1).

    ``kinds`` empty: the clean pretraining (inputs = targets = clean batches). Judges stay in
    eval mode (BN statistics frozen); only parameters with ``requires_grad`` reach ``opt``.
    """
    model.train()
    x, y = train
    sums = {"train_loss": 0.0, "train_l1": 0.0, **{f"train_ce{i + 1}": 0.0 for i in range(len(judges))}}
    batches = torch.randperm(len(y), generator=generator).split(config.batch_size // 2 if kinds else config.batch_size)
    for idx in batches:
        clean, labels = as_float(x[idx]).to(compute_device()), y[idx].to(compute_device())
        if kinds:
            inputs, targets, _, _ = half_distorted_batch(clean, config, kinds, generator)
            labels = torch.cat([labels, labels])
        else:
            inputs, targets = clean, clean
        recovered = model(inputs)
        loss, l1, ces = qrnet_loss(recovered, targets, [c(recovered) for c in judges], labels, lams)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k, v in zip(sums, (loss, l1, *ces)):
            sums[k] += v.item() / len(batches)
    return sums


def eval_sets(x: torch.Tensor, config, kinds: tuple[str, ...], split: str) -> Iterator[tuple[str, float, torch.Tensor, torch.Tensor, slice]]:
    """Every (type, level) version of a split, in chunks: ``(kind, level, clean, distorted, rows)``.
    Each (split, type, level) has its own seeded generator, so the images are the same for every
    method and every epoch."""
    for kind in kinds:
        for j, level in enumerate(levels_of(config, kind)):
            gen = torch.Generator().manual_seed(config.seed * 1_000_003 + 7919 * ("val", "test").index(split) + 97 * KINDS.index(kind) + j)
            for start in range(0, len(x), config.eval_batch):
                rows = slice(start, start + config.eval_batch)
                clean = as_float(x[rows])  # distorted on the CPU: the same images on every device
                distorted = distort(clean, kind, level, gen)
                yield kind, level, clean.to(compute_device()), distorted.to(compute_device()), rows


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int) -> float:
    model.eval()
    with torch.no_grad():
        dev = compute_device()
        hits = sum(int((model(images[i:i + batch].to(dev)).argmax(1).cpu() == labels[i:i + batch]).sum()) for i in range(0, len(labels), batch))
    return hits / len(labels)


def evaluate(data: Data, config, kinds: tuple[str, ...], split: str, recover: Callable[[str], nn.Module | None],
             judges: dict[str, Callable[[str], nn.Module]], with_ssim: bool = True) -> dict[tuple, float]:
    """Means per (type, level): ``("psnr"|"ssim"|"l1", kind, level)`` of the recovered (or, with
    ``recover(kind)`` None, the distorted) images against the clean ones, and ``("acc"|"ce",
    tag, kind, level)`` of each judge on them. ``recover``/``judges`` pick a network per type
    (RecNet and fine-tuned "single" use one per type)."""
    sums: dict[tuple, float] = {}
    x, y = data
    with torch.no_grad():
        for kind, level, clean, distorted, rows in eval_sets(x, config, kinds, split):
            net = recover(kind)
            if net is not None:
                net.eval()
            out = net(distorted).clamp(0, 1) if net is not None else distorted
            labels = y[rows].to(out.device)
            add = {("psnr", kind, level): psnr_per_image(out, clean).sum().item(),
                   ("l1", kind, level): (out - clean).abs().mean(dim=(1, 2, 3)).sum().item()}
            if with_ssim:  # the slowest metric: tables need it on test, validation does not
                add[("ssim", kind, level)] = ssim_per_image(out, clean).sum().item()
            for tag, pick in judges.items():
                logits = pick(kind).eval()(out)
                add[("acc", tag, kind, level)] = float((logits.argmax(1) == labels).sum())
                add[("ce", tag, kind, level)] = F.cross_entropy(logits, labels, reduction="sum").item()
            for k, v in add.items():
                sums[k] = sums.get(k, 0.0) + v
    return {k: v / len(y) for k, v in sums.items()}


def name_metrics(raw: dict[tuple, float], split: str, method: str = "", tags: dict[str, str] | None = None,
                 quality: bool = True) -> dict[str, float]:
    """Flat names ``{split}_{metric}[_{tag}][_{method}]_{kind}_{level}``, plus ``_{kind}_avg``
    and ``_avg`` (means over levels, over every type×level); see ``trainables.qrnet``."""
    groups: dict[str, list[float]] = {}
    for key, v in raw.items():
        metric, kind, level = key[0], key[-2], key[-1]
        if metric in ("l1", "ce") or (metric != "acc" and not quality):
            continue
        if metric == "acc":
            tag = (tags or {}).get(key[1], key[1])
            if tag is None:
                continue
            metric = f"acc_{tag}" if tag else "acc"
        stem = f"{split}_{metric}" + (f"_{method}" if method else "")
        for name in (f"{stem}_{kind}_{level:g}", f"{stem}_{kind}_avg", f"{stem}_avg"):
            groups.setdefault(name, []).append(v)
    return {k: float(np.mean(v)) for k, v in groups.items()}


def fit_enhancer(config, model: QRNet, judges: list[nn.Module], lams: list[float], kinds: tuple[str, ...],
                 seed: int, progress: Progress = None, label: str = "") -> QRNet:
    """A cached QRNet: Algorithm 1 for ``stage_epochs`` with early stopping (``stage_patience``)
    on the validation loss, keeping the best epoch's weights."""
    train, val = load_split(config, "train"), load_split(config, "val")
    opt = torch.optim.Adam(model.parameters(), lr=config.stage_lr)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, bad = float("inf"), None, 0
    for epoch in range(config.stage_epochs):
        train_one_epoch(model, opt, judges, lams, train, config, kinds, gen)
        tags = [str(i) for i in range(len(judges))]
        raw = evaluate(val, config, kinds, "val", lambda k: model, {t: (lambda k, c=c: c) for t, c in zip(tags, judges)}, with_ssim=False)
        loss = validation_loss(raw, tags, lams)
        if progress:
            progress(f"{label} epoch {epoch + 1}/{config.stage_epochs}: val loss {loss:.4f}")
        if loss < best:
            best, best_state, bad = loss, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            bad += 1
            if bad >= config.stage_patience:
                break
    if best_state is not None:  # stage_epochs = 0 leaves the pretrained weights
        model.load_state_dict(best_state)
    return model.eval()


def validation_loss(raw: dict[tuple, float], tags: list[str], lams: list[float]) -> float:
    """The training loss (``coupled_loss``) on the fixed distorted validation images, mean over
    every type×level; ``tags`` name the judges of ``evaluate`` whose CE ``lams`` weigh."""
    cells = sorted({k[-2:] for k in raw if k[0] == "l1"})
    return float(np.mean([coupled_loss(raw[("l1", *c)], [raw[("ce", t, *c)] for t in tags], lams) for c in cells]))


# ---------------------------------------------------------------- cached QRNets


def pretrain_key(config) -> dict:
    return {"version": VERSION["pretrain"], "data": data_key(config), "base": config.qrnet_base, "depth": config.qrnet_depth,
            "small": config.qrnet_small, "dropout": config.stage_dropout, "epochs": config.pretrain_epochs,
            "lr": config.stage_lr, "batch": config.batch_size}


def pretrain_stage(config, progress: Progress = None) -> Path:
    """QRNet pretrained on clean images with L1 (inputs = targets), Algorithm 1's first step."""

    def build(out: Path) -> None:
        torch.manual_seed(config.seed)  # initial weights and dropout
        model = build_qrnet(config, config.stage_dropout).to(compute_device())
        opt = torch.optim.Adam(model.parameters(), lr=config.stage_lr)
        gen = torch.Generator().manual_seed(config.seed)
        train = load_split(config, "train", progress)
        for epoch in range(config.pretrain_epochs):
            m = train_one_epoch(model, opt, [], [], train, config, (), gen)
            if progress:
                progress(f"pretrain QRNet epoch {epoch + 1}/{config.pretrain_epochs}: L1 {m['train_l1']:.4f}")
        torch.save(model.state_dict(), out / "qrnet.pt")

    return cached_stage("qrnet-pretrain", pretrain_key(config), build, progress)


def load_qrnet(config, folder: Path, dropout: float) -> QRNet:
    model = build_qrnet(config, dropout)
    model.load_state_dict(torch.load(folder / "qrnet.pt", map_location="cpu", weights_only=True))
    return model.to(compute_device())


def enhancer_key(config, kinds: tuple[str, ...], judges: tuple[dict, ...] = (), lams: tuple[float, ...] = ()) -> dict:
    return {"version": VERSION["recnet"], "pretrain": pretrain_key(config), "kinds": kinds,
            "levels": [levels_of(config, k) for k in kinds], "judges": judges, "lams": lams,
            "epochs": config.stage_epochs, "patience": config.stage_patience}


def recnet_stage(config, kinds: tuple[str, ...], progress: Progress = None) -> Path:
    """RecNet: QRNet's architecture trained by Algorithm 1 with the L1 term alone."""

    def build(out: Path) -> None:
        model = load_qrnet(config, pretrain_stage(config, progress), config.stage_dropout)
        torch.manual_seed(config.seed + 1)
        fit_enhancer(config, model, [], [], kinds, config.seed + 2, progress, f"RecNet ({set_tag(kinds)})")
        torch.save(model.state_dict(), out / "qrnet.pt")

    return cached_stage(f"qrnet-recnet-{set_tag(kinds)}", enhancer_key(config, kinds), build, progress)


def one_classifier_stage(config, name: str, lam: float, progress: Progress = None) -> Path:
    """QRNet trained against the one classifier ``name`` at weight ``lam`` (Fig. 6's "QRNet")."""
    kinds = tuple(config.distortions)

    def build(out: Path) -> None:
        model = load_qrnet(config, pretrain_stage(config, progress), config.stage_dropout)
        judge = load_classifier(config, name, progress)
        torch.manual_seed(config.seed + 3)
        fit_enhancer(config, model, [judge], [lam], kinds, config.seed + 4, progress, f"QRNet ({name})")
        torch.save(model.state_dict(), out / "qrnet.pt")

    key = enhancer_key(config, kinds, (classifier_key(config, name),), (lam,))
    return cached_stage(f"qrnet-one-{name}", key, build, progress)


def constants_stage(key: dict, compute: Callable[[], dict[str, float]], progress: Progress = None) -> tuple[str, dict[str, float]]:
    """Baseline metrics computed once (``metrics.json``); returns (stage folder name, metrics)."""

    def build(out: Path) -> None:
        (out / "metrics.json").write_text(json.dumps(compute(), indent=0, sort_keys=True))

    folder = cached_stage("qrnet-baselines", {"version": VERSION["baselines"], **key}, build, progress)
    return folder.name, json.loads((folder / "metrics.json").read_text())

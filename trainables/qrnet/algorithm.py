"""Algorithm 1 of seed 003 and its evaluation, shared by every QRNet (trial or cached stage).

    qrnet:   L = L1(x*, Q(x)) + λ·CE(C(Q(x)), t)                       (Eq. 4)
    mqrnet:  L = L1(x*, Q(x)) + Σ_i λ_i·CE(C_i(Q(x)), t)                (Eq. 5: two classifiers)
    RecNet:  L = L1(x*, Q(x))                                          (no classifier)

All three go through ``coupled_loss``, the one weighted sum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import Progress
from trainables.metrics import psnr_per_image, ssim_per_image
from trainables.models import QRNet
from trainables.qrnet.data import Data, as_float, eval_sets, half_distorted_batch

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


# ---------------------------------------------------------------- Algorithm 1


def build_qrnet(config, dropout: float) -> QRNet:
    return QRNet(base=config.qrnet_base, depth=config.qrnet_depth, dropout=dropout, small=config.qrnet_small)


def train_one_epoch(model: nn.Module, opt: torch.optim.Optimizer, judges: list[nn.Module], lams: list[float],
                    train: Data, config, kinds: tuple[str, ...], generator: torch.Generator,
                    device: torch.device) -> dict[str, float]:
    """One pass over the training images in batches half clean, half distorted (Algorithm 1).

    ``kinds`` empty: the clean pretraining (inputs = targets = clean batches). Judges stay in
    eval mode (BN statistics frozen); only parameters with ``requires_grad`` reach ``opt``.
    """
    model.train()
    x, y = train
    sums = {"train_loss": 0.0, "train_l1": 0.0, **{f"train_ce{i + 1}": 0.0 for i in range(len(judges))}}
    batches = torch.randperm(len(y), generator=generator).split(config.batch_size // 2 if kinds else config.batch_size)
    for idx in batches:
        clean, labels = as_float(x[idx]).to(device), y[idx].to(device)
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


# ---------------------------------------------------------------- evaluation


def evaluate(data: Data, config, kinds: tuple[str, ...], split: str, recover: Callable[[str], nn.Module | None],
             judges: dict[str, Callable[[str], nn.Module]], device: torch.device, with_ssim: bool = True) -> dict[tuple, float]:
    """Means per (type, level): ``("psnr"|"ssim"|"l1", kind, level)`` of the recovered (or, with
    ``recover(kind)`` None, the distorted) images against the clean ones, and ``("acc"|"ce",
    tag, kind, level)`` of each judge on them. ``recover``/``judges`` pick a network per type
    (RecNet and fine-tuned "single" use one per type)."""
    sums: dict[tuple, float] = {}
    x, y = data
    with torch.no_grad():
        for kind, level, clean, distorted, rows in eval_sets(x, config, kinds, split, device):
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
    and ``_avg`` (means over levels, over every type×level); see ``trainables.qrnet``.
    ``tags`` renames judges (a tag mapped to "" names none: qrnet's one classifier);
    ``quality=False`` keeps accuracy only."""
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


def validation_loss(raw: dict[tuple, float], tags: list[str], lams: list[float]) -> float:
    """The training loss (``coupled_loss``) on the fixed distorted validation images, mean over
    every type×level; ``tags`` name the judges of ``evaluate`` whose CE ``lams`` weigh."""
    cells = sorted({k[-2:] for k in raw if k[0] == "l1"})
    return float(np.mean([coupled_loss(raw[("l1", *c)], [raw[("ce", t, *c)] for t in tags], lams) for c in cells]))


# ---------------------------------------------------------------- a cached QRNet


def fit_enhancer(config, model: QRNet, judges: list[nn.Module], lams: list[float], kinds: tuple[str, ...],
                 seed: int, train: Data, val: Data, device: torch.device, progress: Progress | None = None,
                 label: str = "") -> QRNet:
    """A cached QRNet: Algorithm 1 for ``stage_epochs`` with early stopping (``stage_patience``)
    on the validation loss, keeping the best epoch's weights (a stage has no launcher to keep
    the best epoch for it, unlike a trial)."""
    opt = torch.optim.Adam(model.parameters(), lr=config.stage_lr)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, bad = float("inf"), None, 0
    tags = [str(i) for i in range(len(judges))]
    for epoch in range(config.stage_epochs):
        train_one_epoch(model, opt, judges, lams, train, config, kinds, gen, device)
        raw = evaluate(val, config, kinds, "val", lambda k: model, {t: (lambda k, c=c: c) for t, c in zip(tags, judges)},
                       device, with_ssim=False)
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

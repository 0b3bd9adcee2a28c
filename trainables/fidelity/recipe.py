"""The training recipe of seed 004 (§3.1, §5.1), shared by every network it trains.

Per batch step: a linear learning-rate warm-up over the first ``warmup_epochs``, then cosine
decay to zero; label smoothing on classification losses; the epoch with the best validation
score is kept. Classifiers and the method use NAG (SGD with Nesterov momentum), the DnCNNs
Adam (§3.2.1). The rate is computed from the step count, so a resumed run needs no scheduler
state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from trainables.contract import Progress


def lr_at(step: int, steps_per_epoch: int, epochs: int, warmup_epochs: float, base: float) -> float:
    """Learning rate at batch step ``step`` (0-based) of ``epochs × steps_per_epoch``."""
    warm = warmup_epochs * steps_per_epoch
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(epochs * steps_per_epoch - warm, 1)
    return base * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Every group at ``lr``, times the group's own ``scale`` where it has one."""
    for group in opt.param_groups:
        group["lr"] = lr * group.get("scale", 1.0)


def nag(params, lr: float, momentum: float = 0.9) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True)


def batches(n: int, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(n, generator=generator).split(size))


def flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips (§3.1's only augmentation that keeps a small crop whole)."""
    mask = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)


def fit(net: nn.Module, opt: torch.optim.Optimizer, *, n: int, batch_size: int, epochs: int, warmup_epochs: float,
        lr: float, step_loss: Callable[[torch.Tensor], torch.Tensor], score: Callable[[], float],
        generator: torch.Generator, progress: Progress | None = None, label: str = "") -> float:
    """Train ``net`` for ``epochs`` over ``n`` samples (``step_loss(indices)`` gives a batch's
    loss), keep the weights of the epoch with the highest ``score()``; return that score."""
    per_epoch = math.ceil(n / batch_size)
    best, best_state = -math.inf, None
    for epoch in range(epochs):
        net.train()
        for i, idx in enumerate(batches(n, batch_size, generator)):
            set_lr(opt, lr_at(epoch * per_epoch + i, per_epoch, epochs, warmup_epochs, lr))
            loss = step_loss(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            value = score()
        if progress:
            progress(f"{label} epoch {epoch + 1}/{epochs}: validation {value:.4f}")
        if value > best:
            best, best_state = value, {k: v.detach().clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    return best


def accuracy(model: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor, batch: int,
             device: torch.device) -> float:
    with torch.no_grad():
        hits = sum(int((model(images[i:i + batch].to(device)).argmax(1).cpu() == labels[i:i + batch]).sum())
                   for i in range(0, len(labels), batch))
    return hits / len(labels)

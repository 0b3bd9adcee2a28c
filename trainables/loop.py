"""The one epoch loop every scheme runs: resume, random state, early stopping, per-epoch report.

A scheme hands ``run_epochs`` what it trains (``Trainees``: any number of networks, optimizers
and random generators, e.g. one DnCNN per split, or a generator and its critic) and a function
that runs one epoch and returns that epoch's metrics. The loop restores a resumed state,
stops on patience, and reports each epoch with a checkpoint state that holds everything needed
to continue exactly where it stopped::

    {"epoch": n, "model": <state_dict of the registered model>, "nets": {...},
     "optimizers": {...}, "generators": {...}, "torch_rng": ..., "early_stopping": {...}}

Resuming from epoch k's state gives the same epochs k+1.. as an uninterrupted run (a shared
contract test checks it for every scheme).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from trainables.contract import EPOCH, STATE_EPOCH, STATE_MODEL, STOPPED_EARLY, Report


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs in a row without a better ``monitor`` metric."""

    monitor: str
    patience: int
    mode: str = "min"
    best: float = math.inf
    bad_epochs: int = 0

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.mode == "max" and self.best == math.inf:
            self.best = -math.inf

    @property
    def exhausted(self) -> bool:
        return self.bad_epochs >= self.patience

    def update(self, value: float) -> bool:
        """Record one epoch's value; True once patience is exhausted."""
        better = value < self.best if self.mode == "min" else value > self.best
        self.best, self.bad_epochs = (value, 0) if better else (self.best, self.bad_epochs + 1)
        return self.exhausted

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]


@dataclass
class Trainees:
    """What one trial trains. ``model`` names the net whose weights are the registered model."""

    nets: dict[str, nn.Module]
    model: str
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    generators: dict[str, torch.Generator] = field(default_factory=dict)

    def __post_init__(self):
        if self.model not in self.nets:
            raise ValueError(f"model {self.model!r} is not one of the nets {list(self.nets)}")

    def state_dict(self) -> dict:
        return copy.deepcopy({
            STATE_MODEL: self.nets[self.model].state_dict(),
            "nets": {k: n.state_dict() for k, n in self.nets.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "generators": {k: g.get_state() for k, g in self.generators.items()},
            "torch_rng": torch.get_rng_state(),  # dropout and other global draws
        })

    def load_state_dict(self, state: dict) -> None:
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        for k, gen in self.generators.items():
            gen.set_state(state["generators"][k])
        torch.set_rng_state(state["torch_rng"])


def run_epochs(epochs: int, trainees: Trainees, one_epoch: Callable[[int], dict[str, float]], report: Report,
               resume: dict | None = None, early_stopping: EarlyStopping | None = None) -> None:
    """Run epochs ``start + 1 .. epochs`` (``start`` = the resumed state's epoch, else 0).

    ``one_epoch(epoch)`` (0-based) trains and evaluates, returning flat float metrics; they
    must include ``early_stopping.monitor`` when one is given. A loss (a key containing "loss")
    that is NaN or infinite raises ``FloatingPointError``: the trial fails, the sweep goes on.
    Each report adds ``epoch`` and ``stopped_early`` (1.0 only on the epoch where patience ran
    out before ``epochs``).
    """
    start = 0
    if resume is not None:
        trainees.load_state_dict(resume)
        start = int(resume[STATE_EPOCH])
        if early_stopping is not None:
            early_stopping.load_state_dict(resume["early_stopping"])
            if early_stopping.exhausted:
                return  # that run had already stopped itself
    for epoch in range(start, epochs):
        metrics = one_epoch(epoch)
        diverged = {k: v for k, v in metrics.items() if "loss" in k and not math.isfinite(v)}
        if diverged:  # a NaN loss would otherwise train on silently and finish as a "result"
            raise FloatingPointError(f"training diverged at epoch {epoch + 1}: "
                                     + ", ".join(f"{k} = {v}" for k, v in diverged.items())
                                     + " (try a lower learning rate or loss weight)")
        stopped = False
        if early_stopping is not None:
            stopped = early_stopping.update(metrics[early_stopping.monitor]) and epoch + 1 < epochs
        metrics = {**metrics, EPOCH: float(epoch + 1), STOPPED_EARLY: float(stopped)}
        state = {STATE_EPOCH: epoch + 1, **trainees.state_dict(),
                 "early_stopping": early_stopping.state_dict() if early_stopping else None}
        report(metrics, state)
        if stopped:
            return

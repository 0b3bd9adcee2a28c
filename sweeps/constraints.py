"""Constraints that pick a point of a Pareto front: ``val_psnr>=25``, ``val_map>=val_map_nn``.

A multi-objective sweep has no single best trial. ``tasksweep promote`` takes the best trial by
one metric among those that satisfy every constraint (``--where``, or the sweep file's
``promote.where``), so a user can say "the best mAP among trials that lose no PSNR to the
MSE-only network" instead of getting the trial that gave up the most PSNR. The right-hand side
is a number or another metric of the same trial (a baseline the trial logs, e.g. ``val_psnr_nn``).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from trainables.errors import UserInputError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_FORM = re.compile(r"^\s*([A-Za-z_][\w.\-/]*)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    right: float | str  # a number, or the name of another metric of the same trial

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.right}"

    def holds(self, metrics: dict[str, float]) -> bool:
        """False where a metric it names is missing: a trial is not taken on trust."""
        right = self.right if isinstance(self.right, float) else metrics.get(self.right)
        return self.metric in metrics and right is not None and _OPS[self.op](metrics[self.metric], right)


def parse(text: str) -> Constraint:
    match = _FORM.match(str(text))
    if not match:
        raise UserInputError(f"constraint {text!r} is not METRIC>=VALUE (or <=, >, <; VALUE a number or a metric)")
    metric, op, right = match.groups()
    try:
        return Constraint(metric, op, float(right))
    except ValueError:
        if not re.fullmatch(r"[A-Za-z_][\w.\-/]*", right):
            raise UserInputError(f"constraint {text!r}: {right!r} is neither a number nor a metric name") from None
        return Constraint(metric, op, right)


def parse_all(texts) -> list[Constraint]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise UserInputError(f"promote.where must be a list of constraints such as ['val_psnr>=25'], got {texts!r}")
    return [parse(t) for t in texts]

"""What every coupled scheme provides, so the launcher needs no per-scheme code.

A scheme is a ``Scheme`` value in ``trainables.registry.SCHEMES``. Its ``train`` is a plain
Python loop (no Ray, no MLflow): after each epoch it calls ``report(metrics, state)``. The Ray
adapter (``trainables.tune_adapter``) turns that into ``ray.tune.report`` with a checkpoint;
the overhead benchmark calls ``train`` directly with a no-op ``report``.

Checkpoint ``state`` is a ``torch.save``-able dict. It must hold ``"epoch"`` (the number of
epochs done) and ``"enhancer"`` (the ``state_dict`` of ``build_enhancer(config)``); everything
else in it (optimizer, RNG) is the scheme's business. ``train(config, resume=state, ...)``
continues after ``state["epoch"]``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, Callable

import torch
from torch import nn

from trainables.errors import UserInputError

Progress = Callable[[str], None]
Report = Callable[[dict[str, float], dict | None], None]


class SchemeConfig:
    """Mixin for a scheme's ``@dataclass`` Config: built from a flat dict, unknown keys rejected.

    Errors name the scheme by its module, or by a ``SCHEME_NAME`` class attribute where one
    module holds two schemes. A key ``name.i`` sets item ``i`` of the list field ``name``: how a
    search space searches each weight of a list (mqrnet's ``lams.0``, ``lams.1``)."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SchemeConfig":
        known = {f.name: f for f in fields(cls)}
        scheme = getattr(cls, "SCHEME_NAME", cls.__module__.rsplit(".", 1)[-1])
        unknown = sorted({k.split(".")[0] for k in values} - set(known))
        if unknown:
            raise UserInputError(f"{scheme} config has no field {', '.join(map(repr, unknown))} (fields: {', '.join(known)})")
        values = _set_items(values, {n: f.default for n, f in known.items()}, scheme)
        hints = typing.get_type_hints(cls)
        return cls(**{k: _coerce(k, v, hints[k]) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _set_items(values: dict[str, Any], defaults: dict[str, Any], scheme: str) -> dict[str, Any]:
    """Fold ``name.i`` keys into the list ``name`` (as given, else the field's default)."""
    out = {k: v for k, v in values.items() if "." not in k}
    for key in sorted(k for k in values if "." in k):
        name, index = key.split(".", 1)
        items = out.get(name, defaults[name])
        if not isinstance(items, (list, tuple)) or not index.isdigit():
            raise UserInputError(f"{scheme} config key {key!r}: 'name.i' sets item i of a list field, and {name!r} is not a list")
        if int(index) >= len(items):
            raise UserInputError(f"{scheme} config key {key!r}: {name!r} has {len(items)} items {list(items)}; give it as many as you search")
        out[name] = [*items[:int(index)], values[key], *items[int(index) + 1:]]
    return out


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Accept what YAML and Ray give (ints for floats, lists for tuples); reject the rest."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
        origin = typing.get_origin(hint)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise UserInputError(f"config field '{name}' must be a list, got {value!r}")
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        item = args[0] if args else Any
        items = [v if item is Any else _coerce(name, v, item) for v in value]
        return tuple(items) if origin is tuple else items
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is float:
        if not is_number:
            raise UserInputError(f"config field '{name}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if not is_number or value != int(value):
            raise UserInputError(f"config field '{name}' must be an integer, got {value!r}")
        return int(value)
    if hint in (str, bool) and not isinstance(value, hint):
        raise UserInputError(f"config field '{name}' must be {hint.__name__}, got {value!r}")
    return value


def default_enhance(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] → enhanced, same shape, clamped to [0, 1]."""
    model.eval()
    with torch.no_grad():
        return model(images).clamp(0, 1)


@dataclass(frozen=True)
class Scheme:
    """A coupled training scheme, as the launcher, the registry and the reports see it.

    - ``prepare(config, progress)``: build (or find in the cache) every upstream stage that does
      not depend on searched hyperparameters; returns ``{stage name: cache key}`` for MLflow.
      The launcher calls it once in the driver, so trials only read the cache.
    - ``train(config, resume, report)``: the resumable epoch loop described above.
    - ``build_enhancer(config)``: the architecture whose weights a checkpoint holds.
    - ``enhance(model, images)``: inference for the registered model.
    - ``table(metrics)``: the paper-style table rows (list of dicts) from a trial's final metrics.
    - ``smoke``: config overrides that make ``train`` run in seconds on a CPU (the shared
      contract tests use them and nothing else scheme-specific).
    """

    name: str
    description: str
    Config: type
    prepare: Callable[[Any, Progress | None], dict[str, str]]
    train: Callable[[Any, dict | None, Report], None]
    build_enhancer: Callable[[Any], nn.Module]
    table: Callable[[dict[str, float]], list[dict]]
    smoke: dict[str, Any]
    enhance: Callable[[nn.Module, torch.Tensor], torch.Tensor] = default_enhance

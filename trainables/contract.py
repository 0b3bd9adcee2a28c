"""What every coupled scheme provides, so the launcher, the registry and the tests need no
per-scheme code.

A scheme is a ``Scheme`` value in ``trainables.registry.SCHEMES``. The call order:

1. ``Config.from_dict(fixed + searched)``: strict and typed (``SchemeConfig``).
2. ``prepare(config, device, progress)`` builds (or finds in the cache) every upstream stage
   and returns ``Stages``, ``{stage name: folder}``. The launcher calls it once in the driver
   before any trial starts, so stages are built once; each trial calls it again for its own
   config (a cache hit: hashing and a folder check), which is right even when a sweep searches
   a setting a stage depends on, and on a cluster node that has not got the folders yet.
3. ``train(config, stages, device, resume, report)`` is a plain loop (no Ray, no MLflow) that
   loads what it needs from ``stages`` and calls ``report(metrics, state)`` after each epoch;
   ``trainables.loop.run_epochs`` writes that loop once for every scheme.
4. ``build_model(config)`` is the registered model's architecture; ``state[STATE_MODEL]`` holds
   its ``state_dict``. ``model_io(config)`` declares what it takes and returns
   (``trainables.model_io``). ``table(metrics)`` gives the paper-style rows, and the optional
   ``curves(metrics)`` the paper's line figures.

The device is passed in; nothing below the entry points (the Ray adapter, ``prepare`` in the
driver, the benchmark) picks one.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from trainables.errors import UserInputError
from trainables.model_io import ModelIO

Progress = Callable[[str], None]
Report = Callable[[dict[str, float], dict | None], None]
Stages = dict[str, Path]

# The names the launcher reads, defined here and nowhere else.
EPOCHS_FIELD = "epochs"  # the Config field: how many epochs a trial runs (ASHA's max_t)
EPOCH = "epoch"  # report key: epochs done so far (MLflow's step)
STOPPED_EARLY = "stopped_early"  # report key: 1.0 when the scheme stopped itself (patience)
STATE_EPOCH = "epoch"  # checkpoint state key: epochs done
STATE_MODEL = "model"  # checkpoint state key: the registered model's state_dict


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


@dataclass(frozen=True)
class Scheme:
    """A coupled training scheme, as the launcher, the registry and the reports see it.

    See the module docstring for the call order. ``smoke``: the config overrides that make
    ``train`` run in seconds on a CPU, defined once: the shared contract tests use it, and a
    sweep file's ``--smoke`` lays it over the file's ``fixed`` (then the file's own ``smoke:``
    block, which holds sweep-sized settings such as ``num_samples``).
    """

    name: str
    description: str
    Config: type
    prepare: Callable[[Any, torch.device, Progress | None], Stages]
    train: Callable[[Any, Stages, torch.device, dict | None, Report], None]
    build_model: Callable[[Any], nn.Module]
    model_io: Callable[[Any], ModelIO]
    table: Callable[[dict[str, float]], list[dict]]
    smoke: dict[str, Any]
    # Optional paper figures: {name: rows}, each row's first key the x-axis and the others one line
    # each; the sweep report logs them as tables and line plots (``curve_<name>``).
    curves: Callable[[dict[str, float]], dict[str, list[dict]]] | None = None
    # Optional tables across a sweep's finished trials: ``[(params, final metrics), ...]`` →
    # ``{name: rows}`` (a paper table whose rows are trials, e.g. an ablation grid's variants).
    sweep_tables: Callable[[list[tuple[dict, dict[str, float]]]], dict[str, list[dict]]] | None = None
    # Optional: what the model's inputs went through in training, ``{"noise_sigma": σ (0-255),
    # "blur_sigma": σ (px)}`` (a downscale is the model_io's scale). ``tasksweep ui`` applies it
    # to a clean upload by default, so a user sees the model on the input it was made for.
    input_degradation: Callable[[Any], dict[str, float]] | None = None


"""Sweep files: load, apply ``--smoke`` and ``--set``, validate everything before Ray starts.

A sweep file is YAML::

    name: qair_denoise_sigma50          # MLflow experiment name and Ray run folder
    scheme: qair_denoise                # a key of trainables.registry.SCHEMES
    search_space: search_spaces/qair_denoise.yaml   # or an inline mapping
    fixed: {sigma: 50, epochs: 4}       # every Config field that is not searched
    objectives: [{metric: val_map, mode: max}]      # one → ASHA allowed; several → Pareto
    num_samples: 8
    max_concurrent: 2
    resources_per_trial: {cpu: 1, gpu: 0}
    scheduler: asha                     # asha (one objective only) or fifo
    sampler: tpe                        # tpe (default) or grid: every value combination once
    seed: 0
    keep_checkpoints: 2                 # best-k checkpoints per trial, logged to MLflow
    time_budget_s: 3600                 # optional: stop starting/continuing trials after this
    max_failures: 2                     # a trial whose worker dies is retried from its last checkpoint this often
    promote: {model_name: qair_denoise, metric: test_map, mode: max}
    smoke: {num_samples: 2}             # merged in by --smoke: sweep-level keys

``--smoke`` lays the scheme's own ``smoke`` sizes (``Scheme.smoke``, their one definition) over
``fixed``, then merges the file's ``smoke:`` block (sweep-level keys such as ``num_samples``; a
``fixed`` inside it is still allowed), then ``--set``.

A preset can start from another file with ``base: other.yaml`` (relative to itself) and
override only what differs; mappings are merged key by key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeps.constraints import parse_all
from sweeps.search_space import SearchSpace, load_search_space
from trainables.contract import EPOCHS_FIELD
from trainables.errors import UserInputError
from trainables.registry import get_scheme

TOP_LEVEL = {"base", "name", "scheme", "search_space", "fixed", "objectives", "num_samples", "max_concurrent",
             "resources_per_trial", "scheduler", "sampler", "seed", "keep_checkpoints", "time_budget_s", "max_failures", "promote", "smoke", "description"}
SWEEPS_DIR = Path(__file__).resolve().parent


@dataclass
class Objective:
    metric: str
    mode: str  # "max" or "min"


@dataclass
class SweepSpec:
    name: str
    scheme: str
    search_space: SearchSpace
    fixed: dict[str, Any]
    objectives: list[Objective]
    num_samples: int = 8
    max_concurrent: int = 2
    cpu_per_trial: float = 1.0
    gpu_per_trial: float = 0.0
    scheduler: str = "fifo"
    sampler: str = "tpe"
    seed: int = 0
    keep_checkpoints: int = 2
    time_budget_s: int | None = None
    max_failures: int = 2
    promote: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the resolved YAML, saved with the sweep

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise UserInputError(f"sweep file {path} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise UserInputError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def apply_set(raw: dict, assignments: list[str]) -> dict:
    """``--set fixed.sigma=90 --set num_samples=4``: dotted keys, YAML-parsed values."""
    raw = copy.deepcopy(raw)
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UserInputError(f"--set {item!r}: the value is not valid YAML") from None
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserInputError(f"--set {item!r}: '{part}' is not a mapping")
        node[leaf] = value
    return raw


def resolve(raw: dict, base_dir: Path, smoke: bool = False, assignments: list[str] = ()) -> SweepSpec:
    """Turn a parsed sweep file into a validated ``SweepSpec`` (no Ray, no MLflow touched)."""
    if not isinstance(raw, dict):
        raise UserInputError("a sweep file must be a YAML mapping")
    if smoke:
        raw = apply_smoke(raw, assignments)
    raw = apply_set(raw, list(assignments))
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise UserInputError(f"unknown sweep field(s) {', '.join(unknown)} (known: {', '.join(sorted(TOP_LEVEL))})")
    for key in ("name", "scheme", "search_space", "objectives"):
        if key not in raw:
            raise UserInputError(f"the sweep file has no '{key}'")
    scheme = get_scheme(raw["scheme"])
    space = load_search_space(raw["search_space"], base_dir)
    fixed = dict(raw.get("fixed") or {})
    space.check_against(scheme.Config, fixed)
    objectives = _objectives(raw["objectives"])
    resources = raw.get("resources_per_trial") or {}
    spec = SweepSpec(
        name=str(raw["name"]),
        scheme=scheme.name,
        search_space=space,
        fixed=fixed,
        objectives=objectives,
        num_samples=_positive_int(raw, "num_samples", 8),
        max_concurrent=_positive_int(raw, "max_concurrent", 2),
        cpu_per_trial=float(resources.get("cpu", 1)),
        gpu_per_trial=float(resources.get("gpu", 0)),
        scheduler=str(raw.get("scheduler", "fifo")),
        sampler=str(raw.get("sampler", "tpe")),
        seed=int(raw.get("seed", 0)),
        keep_checkpoints=_positive_int(raw, "keep_checkpoints", 2),
        time_budget_s=_positive_int(raw, "time_budget_s", 1) if "time_budget_s" in raw else None,
        max_failures=_positive_int(raw, "max_failures", 2, low=0),
        promote=dict(raw.get("promote") or {}),
        raw=raw,
    )
    parse_all(spec.promote.get("where", []))  # a malformed constraint fails at load, not after the sweep
    if spec.scheduler not in ("fifo", "asha"):
        raise UserInputError(f"scheduler must be 'fifo' or 'asha', not {spec.scheduler!r}")
    if spec.scheduler == "asha" and spec.multi_objective:
        raise UserInputError("scheduler 'asha' takes one objective; this sweep has several (use fifo)")
    if spec.sampler not in ("tpe", "grid"):
        raise UserInputError(f"sampler must be 'tpe' or 'grid', not {spec.sampler!r}")
    if spec.sampler == "grid":
        _check_grid(space, spec.num_samples)
    if set(resources) - {"cpu", "gpu"}:
        raise UserInputError(f"resources_per_trial takes cpu and gpu, not {sorted(set(resources) - {'cpu', 'gpu'})}")
    if EPOCHS_FIELD not in scheme.Config.__dataclass_fields__:
        raise UserInputError(f"scheme {scheme.name} has no '{EPOCHS_FIELD}' field, which the launcher needs")
    # Every trial's config must build: fixed values plus any point of the space.
    scheme.Config.from_dict({**fixed, **space.example()})
    return spec


def _check_grid(space: SearchSpace, num_samples: int) -> None:
    """A grid needs listed values, and more samples than points would only repeat points."""
    ranged = [name for name, p in space.params.items() if p["type"] != "choice"]
    if ranged:
        raise UserInputError(f"sampler 'grid' needs every searched parameter as {{type: choice, values: [...]}}; "
                             f"{', '.join(ranged)} {'is' if len(ranged) == 1 else 'are'} a range")
    if num_samples > space.grid_size():
        raise UserInputError(f"num_samples {num_samples} exceeds the grid's {space.grid_size()} points (sampler 'grid')")


def apply_smoke(raw: dict, assignments: list[str] = ()) -> dict:
    """The scheme's smoke sizes over ``fixed``, then the file's ``smoke:`` block (``--set`` comes after)."""
    name = apply_set(raw, list(assignments)).get("scheme")  # --set scheme=... picks whose sizes apply
    if name is None:
        raise UserInputError("the sweep file has no 'scheme'")
    sized = {k: v for k, v in raw.items() if k != "smoke"}
    sized["fixed"] = {**(raw.get("fixed") or {}), **get_scheme(str(name)).smoke}
    return deep_merge(sized, raw.get("smoke") or {})


def read_sweep_file(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The file's mapping with its ``base`` chain merged underneath it."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: a sweep file must be a YAML mapping")
    if "base" not in raw:
        return raw
    base = (path.parent / str(raw.pop("base"))).resolve()
    if base in seen:
        raise UserInputError(f"{path}: 'base' files form a cycle through {base}")
    return deep_merge(read_sweep_file(base, (*seen, path.resolve())), raw)


def load_sweep(path: str | Path, smoke: bool = False, assignments: list[str] = ()) -> SweepSpec:
    path = Path(path)
    return resolve(read_sweep_file(path), path.parent, smoke, assignments)


def _objectives(value: Any) -> list[Objective]:
    if not isinstance(value, list) or not value:
        raise UserInputError("objectives must be a non-empty list of {metric, mode}")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"metric", "mode"} or item["mode"] not in ("max", "min"):
            raise UserInputError(f"objective {item!r} must be {{metric: NAME, mode: max|min}}")
        out.append(Objective(str(item["metric"]), item["mode"]))
    return out


def _positive_int(raw: dict, key: str, default: int, low: int = 1) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserInputError(f"'{key}' must be an integer ≥ {low}, got {value!r}")
    return value

"""Search spaces are data: ``name: {type, low, high}`` or ``{type: choice, values: [...]}``.

They become Optuna distributions (what ``OptunaSearch`` samples from). A wrong name, type or
range is a ``UserInputError`` before anything launches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trainables.errors import UserInputError

TYPES = ("uniform", "loguniform", "int", "choice")
SEARCH_SPACE_DIR = Path(__file__).resolve().parent.parent / "search_spaces"


@dataclass
class SearchSpace:
    params: dict[str, dict[str, Any]]
    source: str

    def check_against(self, config_cls: type, fixed: dict) -> None:
        fields = set(config_cls.__dataclass_fields__)
        for name in self.params:
            if name.split(".")[0] not in fields:  # "lams.0": item 0 of the list field lams
                raise UserInputError(f"search space {self.source}: '{name}' is not a field of the scheme's Config (fields: {', '.join(sorted(fields))})")
            if name in fixed:
                raise UserInputError(f"'{name}' is both searched and fixed; remove it from one of them")

    def example(self) -> dict[str, Any]:
        """One valid point (the geometric/arith. middle or first choice), to validate configs early."""
        out = {}
        for name, p in self.params.items():
            if p["type"] == "choice":
                out[name] = p["values"][0]
            elif p["type"] == "loguniform":
                out[name] = (p["low"] * p["high"]) ** 0.5
            elif p["type"] == "int":
                out[name] = (p["low"] + p["high"]) // 2
            else:
                out[name] = (p["low"] + p["high"]) / 2
        return out

    def grid_size(self) -> int:
        return math.prod(len(p["values"]) for p in self.params.values())

    def to_grid(self) -> dict[str, list]:
        """Optuna's ``GridSampler`` search space (every parameter a choice)."""
        return {name: list(p["values"]) for name, p in self.params.items()}

    def to_optuna(self) -> dict:
        import optuna.distributions as d

        out = {}
        for name, p in self.params.items():
            if p["type"] == "choice":
                out[name] = d.CategoricalDistribution(p["values"])
            elif p["type"] == "int":
                out[name] = d.IntDistribution(p["low"], p["high"], log=p.get("log", False))
            else:
                out[name] = d.FloatDistribution(p["low"], p["high"], log=p["type"] == "loguniform")
        return out


def _check(name: str, p: Any, source: str) -> dict:
    where = f"search space {source}, '{name}'"
    if not isinstance(p, dict) or p.get("type") not in TYPES:
        raise UserInputError(f"{where}: needs 'type' in {', '.join(TYPES)}")
    if p["type"] == "choice":
        if set(p) != {"type", "values"} or not isinstance(p["values"], list) or not p["values"]:
            raise UserInputError(f"{where}: a choice takes a non-empty 'values' list and nothing else")
        return p
    allowed = {"type", "low", "high"} | ({"log"} if p["type"] == "int" else set())
    if set(p) - allowed or not {"low", "high"} <= set(p):
        raise UserInputError(f"{where}: takes {', '.join(sorted(allowed))}")
    low, high = p["low"], p["high"]
    number = (int,) if p["type"] == "int" else (int, float)
    if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)):
        raise UserInputError(f"{where}: low and high must be {'integers' if p['type'] == 'int' else 'numbers'}")
    if not low < high:
        raise UserInputError(f"{where}: low ({low}) must be below high ({high})")
    if p["type"] == "loguniform" and low <= 0:
        raise UserInputError(f"{where}: a loguniform range must be positive, low is {low}")
    return {**p, "low": float(low), "high": float(high)} if p["type"] != "int" else p


def load_search_space(value: str | dict, base_dir: Path) -> SearchSpace:
    """A path (relative to the sweep file, the working directory or the repo) or an inline mapping."""
    if isinstance(value, dict):
        params, source = value, "(inline)"
    else:
        candidates = [base_dir / value, Path(value), SEARCH_SPACE_DIR.parent / value, SEARCH_SPACE_DIR / Path(value).name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            raise UserInputError(f"search space file {value} not found")
        try:
            params = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise UserInputError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
        source = str(value)
    if not isinstance(params, dict) or not params:
        raise UserInputError(f"search space {source} must be a non-empty mapping of name: {{type, low, high}}")
    return SearchSpace({name: _check(name, p, source) for name, p in params.items()}, source)

"""The MLflow layout of a sweep (DESIGN, Contracts): tag names, params, metrics, the state file.

Ray-free on purpose: the Ray callback (``sweeps.tracking``) writes this layout, and ``report``,
``promote`` and the CLI read it without importing Ray (seconds saved on every command).

- tags: ``ROLE`` (sweep | trial | promotion | seeds), ``TRIAL_ID``, ``SCHEME``, ...;
- params: the trial's config, nested mappings flattened to dotted keys (``flatten``/``param``);
- metrics: the numeric, finite entries of a result, minus Ray's bookkeeping (``numeric_metrics``);
- ``SweepState``: the JSON file beside Ray's folder (resolved sweep, tracking URI, trial → run).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from trainables.errors import UserInputError

ROLE, TRIAL_ID, SCHEME = "tasksweep.role", "tasksweep.trial_id", "tasksweep.scheme"
BEST_CHECKPOINT, STOPPED_EARLY = "tasksweep.best_checkpoint", "tasksweep.stopped_early"
SEARCHED, OBJECTIVES, PROMOTE = "tasksweep.searched", "tasksweep.objectives", "tasksweep.promote"
SPACE = "tasksweep.search_space"  # the search space itself (JSON): the Optuna figures replay trials over it
NODE = "tasksweep.node_id"
# Ray's bookkeeping keys: not metrics of the scheme.
_NOT_METRICS = {"training_iteration", "time_this_iter_s", "time_total_s", "timestamp", "pid", "done",
                "time_since_restore", "iterations_since_restore", "epochs_planned"}


def default_tracking_uri(cli_value: str | None = None) -> str:
    """``--tracking-uri``, else MLFLOW_TRACKING_URI, else ``mlflow.db`` in the working directory."""
    return cli_value or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def existing_client(tracking_uri: str):
    """A client for reading a store that must already exist (report, promote): never creates one."""
    from mlflow import MlflowClient

    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri[len("sqlite:///"):])
        if not path.is_file():
            raise UserInputError(f"no MLflow database at {path} (run a sweep first, or pass --tracking-uri)")
    return MlflowClient(tracking_uri)


def finished_trials(client, experiment_id: str) -> list:
    """Every trial run of an experiment that ran to the end (all its sweeps, not only the latest)."""
    return client.search_runs([experiment_id], filter_string=f"tags.`{ROLE}` = 'trial' and attributes.status = 'FINISHED'",
                              max_results=10_000)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def param(key: str, value: Any):
    from mlflow.entities import Param

    return Param(key, json.dumps(value) if isinstance(value, (list, tuple)) else str(value))


def numeric_metrics(result: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in result.items()
            if k not in _NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class SweepState:
    """The JSON file beside Ray's run folder: resolved sweep, tracking URI, parent run, trial → run."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def update(self, **changes: Any) -> dict[str, Any]:
        data = {**(self.read() if self.path.is_file() else {}), **changes}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, default=str))
        tmp.replace(self.path)  # atomic: a Ctrl-C mid-write leaves the old file intact
        return data

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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainables.errors import UserInputError

ROLE, TRIAL_ID, SCHEME = "tasksweep.role", "tasksweep.trial_id", "tasksweep.scheme"
BEST_CHECKPOINT, STOPPED_EARLY = "tasksweep.best_checkpoint", "tasksweep.stopped_early"
SEARCHED, OBJECTIVES, PROMOTE = "tasksweep.searched", "tasksweep.objectives", "tasksweep.promote"
SPACE = "tasksweep.search_space"  # the search space itself (JSON): the Optuna figures replay trials over it
NODE = "tasksweep.node_id"
OPTUNA = "tasksweep.optuna"  # {"storage": URL (password redacted), "study_name": ...}: the sweep's Optuna study
RETRIES = "tasksweep.retries"  # how often the trial's worker died and the trial went on from its checkpoint
ERROR = "tasksweep.error"  # a FAILED trial's error (last line); the traceback is its error.txt
# Ray's bookkeeping keys: not metrics of the scheme.
_NOT_METRICS = {"training_iteration", "time_this_iter_s", "time_total_s", "timestamp", "pid", "done",
                "time_since_restore", "iterations_since_restore", "epochs_planned"}


@contextmanager
def tracking_uri_set(uri: str):
    """``mlflow.set_tracking_uri`` for the block only: it also exports ``MLFLOW_TRACKING_URI``, which
    every later subprocess of the caller (a sweep launched next, say) would inherit."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)  # None unsets the global and the variable


def default_tracking_uri(cli_value: str | None = None) -> str:
    """``--tracking-uri``, else MLFLOW_TRACKING_URI, else ``mlflow.db`` in the working directory."""
    return cli_value or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


# MLflow 3's UI opens an experiment without this tag on its GenAI overview (traces, tokens).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_for(client, name: str) -> str:
    """The id of experiment ``name``, created if missing, tagged as model training."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, tags=EXPERIMENT_KIND)
    for key, value in EXPERIMENT_KIND.items():
        if found.tags.get(key) != value:
            client.set_experiment_tag(found.experiment_id, key, value)
    return found.experiment_id


def mlflow_ui_url(tracking_uri: str) -> str | None:
    """Where a browser finds the MLflow UI for this store: the server itself for an http(s) URI,
    else a ``tasksweep server`` started from this folder on the same store, else None."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    from mlflow_server import status

    running = status()
    if running and running.get("running") and running.get("backend_store_uri") == tracking_uri:
        return running["url"].rstrip("/")
    return None


def run_url(ui: str, experiment_id: str, run_id: str | None = None, tab: str = "") -> str:
    """A run's page (``tab``: e.g. "artifacts"), or with no run the experiment's classic run
    table, on the model-training side of the UI (``MODEL_TRAINING_VIEW``)."""
    from mlflow_server._server import MODEL_TRAINING_VIEW

    path = f"{ui}/#/experiments/{experiment_id}/runs" + (f"/{run_id}" if run_id else "") + (f"/{tab}" if tab else "")
    return path + MODEL_TRAINING_VIEW


def model_version_url(ui: str, name: str, version: str) -> str:
    return f"{ui}/#/models/{name}/versions/{version}"


def browse_lines(tracking_uri: str, experiment: str, run_id: str | None = None,
                 model: tuple[str, str] | None = None) -> list[str]:
    """Direct links into the MLflow UI: the sweep's run table, a run, a registered model version."""
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri).get_experiment_by_name(experiment)
    if found is None:
        return []
    ui = mlflow_ui_url(tracking_uri)
    lines = [] if ui else ["  MLflow UI (after 'tasksweep server start' here):"]
    ui = ui or "http://127.0.0.1:5000"
    lines.append(f"  runs:     {run_url(ui, found.experiment_id)}")
    if run_id:
        lines.append(f"  run:      {run_url(ui, found.experiment_id, run_id)}")
    if model:
        lines.append(f"  model:    {model_version_url(ui, *model)}")
    return lines


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

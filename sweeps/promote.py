"""``tasksweep promote``: register the best trial's checkpoint and move the ``champion`` alias.

The best trial is chosen by the sweep's first objective (a validation metric, what the search
optimised), among finished trials of the experiment that satisfy every constraint (``--where``,
else the sweep file's ``promote.where``; ``sweeps/constraints.py``): in a multi-objective sweep
they say which point of the Pareto front a user wants. The alias moves only when that trial also
beats the current champion on the held-out metric (``promote.metric`` of the sweep file, e.g.
``test_map``) and declares the same ``model_io`` (a denoiser and a ×2 super-resolver are not
comparable on one number); otherwise the new version stays registered without the alias. Each
version is tagged with its ``model_io`` (JSON). Aliases only: registry stages are deprecated.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sweeps.checkpoint import read_model_config
from sweeps.constraints import parse_all
from sweeps.mlflow_layout import BEST_CHECKPOINT, OBJECTIVES, PROMOTE, ROLE, existing_client, finished_trials, tracking_uri_set
from sweeps.pyfunc_spec import pyfunc_arguments
from sweeps.report import latest_sweep_run
from trainables.errors import UserInputError

CHAMPION = "champion"
METRIC_TAG, VALUE_TAG, SOURCE_TAG = "tasksweep.heldout_metric", "tasksweep.heldout_value", "tasksweep.source_run"
IO_TAG = "tasksweep.model_io"


@dataclass
class Promotion:
    model_name: str
    version: str
    source_run_id: str
    metric: str
    value: float
    champion_moved: bool
    message: str


def _better(a: float, b: float, mode: str) -> bool:
    return a > b if mode == "max" else a < b


def select_best_trial(client, experiment_name: str, select_metric: str | None, where: list[str] | None = None):
    """(run, held-out metric, its mode, model name) for the best finished trial with a checkpoint
    among those that satisfy ``where`` (default: the sweep file's ``promote.where``)."""
    parent = latest_sweep_run(client, experiment_name)
    if parent is None:
        raise UserInputError(f"no sweep found in MLflow experiment '{experiment_name}'")
    objectives = json.loads(parent.data.tags[OBJECTIVES])
    promote = json.loads(parent.data.tags.get(PROMOTE, "{}"))
    select_metric = select_metric or objectives[0]["metric"]
    select_mode = next((o["mode"] for o in objectives if o["metric"] == select_metric), promote.get("mode", "max"))
    candidates = [r for r in finished_trials(client, parent.info.experiment_id) if r.data.tags.get(BEST_CHECKPOINT) and select_metric in r.data.metrics]
    if not candidates:
        raise UserInputError(f"experiment '{experiment_name}' has no finished trial with a checkpoint and metric '{select_metric}'")
    constraints = parse_all(where if where is not None else promote.get("where", []))
    kept = [r for r in candidates if all(c.holds(r.data.metrics) for c in constraints)]
    if not kept:
        raise UserInputError(f"none of the {len(candidates)} finished trials of '{experiment_name}' satisfies "
                             f"{' and '.join(map(str, constraints))}: nothing promoted")
    best = (max if select_mode == "max" else min)(kept, key=lambda r: r.data.metrics[select_metric])
    heldout = promote.get("metric", select_metric)
    mode = promote.get("mode", select_mode)
    return best, heldout, mode, promote.get("model_name") or experiment_name


def _champion(client, model_name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:  # no such model or no alias yet
        return None


def promote(tracking_uri: str, experiment_name: str, model_name: str | None = None, select_metric: str | None = None,
            where: list[str] | None = None) -> Promotion:
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = existing_client(tracking_uri)
    run, heldout, mode, default_name = select_best_trial(client, experiment_name, select_metric, where)
    model_name = model_name or default_name
    if heldout not in run.data.metrics:
        raise UserInputError(f"the best trial {run.info.run_id} has no held-out metric '{heldout}'")
    value = run.data.metrics[heldout]
    champion = _champion(client, model_name)
    if champion is not None and champion.tags.get(SOURCE_TAG) == run.info.run_id:
        return Promotion(model_name, champion.version, run.info.run_id, heldout, value, False,
                         f"the best trial is already champion v{champion.version}: nothing new registered")
    with tracking_uri_set(tracking_uri), tempfile.TemporaryDirectory() as tmp:
        folder = Path(client.download_artifacts(run.info.run_id, run.data.tags[BEST_CHECKPOINT], tmp))
        io = read_model_config(folder)["model_io"]
        with mlflow.start_run(experiment_id=run.info.experiment_id, run_name=f"promote-{run.info.run_name}",
                              tags={ROLE: "promotion", SOURCE_TAG: run.info.run_id}):
            info = mlflow.pyfunc.log_model(name="model", registered_model_name=model_name, **pyfunc_arguments(folder))
    version = str(info.registered_model_version)
    for key, tag in ((METRIC_TAG, heldout), (VALUE_TAG, str(value)), (SOURCE_TAG, run.info.run_id), (IO_TAG, json.dumps(io))):
        client.set_model_version_tag(model_name, version, key, tag)
    champion_io = json.loads(champion.tags[IO_TAG]) if champion is not None and IO_TAG in champion.tags else None
    if champion is None:
        moved, message = True, f"no champion yet: version {version} ({heldout}={value:.4f}) becomes champion"
    elif champion_io != io:
        moved, message = False, (f"champion v{champion.version} declares model io {json.dumps(champion_io)}, version {version} "
                                 f"declares {json.dumps(io)}: different contracts are not comparable, alias left unchanged")
    elif champion.tags.get(METRIC_TAG) != heldout:
        moved, message = False, f"champion v{champion.version} was judged on '{champion.tags.get(METRIC_TAG)}', not '{heldout}': alias left unchanged"
    else:
        current = float(champion.tags[VALUE_TAG])
        moved = _better(value, current, mode)
        verdict = "beats" if moved else "does not beat"
        message = f"version {version} ({heldout}={value:.4f}) {verdict} champion v{champion.version} ({heldout}={current:.4f})"
        message += ": alias moved" if moved else ": alias left on the champion"
    if moved:
        client.set_registered_model_alias(model_name, CHAMPION, version)
    return Promotion(model_name, version, run.info.run_id, heldout, value, moved, message)

"""MLflow side of a sweep, owned by the driver (a Ray Tune callback), never by the trials.

Layout: experiment = sweep name; one parent run (tag ``tasksweep.role=sweep``); one child run
per trial (``mlflow.parentRunId``, ``tasksweep.trial_id``) with flattened params, per-epoch
metrics (``step`` = epoch) and the trial's best-k checkpoints under ``checkpoints/epoch_NNN/``.

Trials that the scheduler stops never run code after their last report, so the driver ends
their runs. The trial → run mapping lives in the sweep's state file, so a resumed trial
continues its own run instead of starting a duplicate. Tag names, params and the state file are
defined in ``sweeps.mlflow_layout`` (Ray-free, for report and promote); this is only the callback.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ray import tune

from sweeps.mlflow_layout import (BEST_CHECKPOINT, ERROR, NODE, RETRIES, ROLE, SCHEME, STOPPED_EARLY, TRIAL_ID, SweepState,
                                  flatten, numeric_metrics, param)


class MlflowTracker(tune.Callback):
    def __init__(self, state_file: str, score_metric: str, score_mode: str, keep: int):
        self.state_file, self.score_metric, self.score_mode, self.keep = state_file, score_metric, score_mode, keep
        self._client = None

    def __getstate__(self):  # Ray pickles callbacks with the experiment; the client is rebuilt
        return {**self.__dict__, "_client": None}

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            from sweeps.patient_client import PatientClient

            self._client = PatientClient(MlflowClient(tracking_uri=SweepState(Path(self.state_file)).read()["tracking_uri"]))
        return self._client

    def _state(self) -> dict[str, Any]:
        return SweepState(Path(self.state_file)).read()

    def on_trial_start(self, iteration, trials, trial, **info):
        state = self._state()
        if trial.trial_id in state.get("ended", {}):  # ended before a driver crash; its run is closed (sweeps.recovery)
            return
        runs = state.get("trial_runs", {})
        if trial.trial_id in runs:  # resumed after an interruption: continue the same run
            self.client.update_run(runs[trial.trial_id], status="RUNNING")
            return
        run = self.client.create_run(
            state["experiment_id"],
            run_name=f"trial-{trial.trial_id}",
            tags={"mlflow.parentRunId": state["parent_run_id"], TRIAL_ID: trial.trial_id,
                  SCHEME: state["scheme"], ROLE: "trial"},
        )
        params = flatten({**state["fixed"], **trial.config})
        self.client.log_batch(run.info.run_id, params=[param(k, v) for k, v in params.items()])
        SweepState(Path(self.state_file)).update(trial_runs={**runs, trial.trial_id: run.info.run_id})

    def _run_id(self, trial) -> str | None:
        state = self._state()
        return None if trial.trial_id in state.get("ended", {}) else state.get("trial_runs", {}).get(trial.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        from mlflow.entities import Metric

        run_id = self._run_id(trial)
        if run_id is None:
            return
        step = int(result.get("epoch", result.get("training_iteration", 0)))
        stamp = int(result.get("timestamp", 0) * 1000)
        metrics = [Metric(k, v, stamp, step) for k, v in numeric_metrics(result).items()]
        self.client.log_batch(run_id, metrics=metrics)
        if result.get("node_id") and step <= 1:
            self.client.set_tag(run_id, NODE, result["node_id"])

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        result = trial.last_result or {}
        score = result.get(self.score_metric)
        if score is None:
            return
        # Kept in the state file, not in memory, so a resumed sweep still logs pre-interruption checkpoints.
        seen = self._state().get("checkpoints", {})
        entry = [float(score), int(result.get("epoch", 0)), str(checkpoint.path)]
        # A trial resumed past Ray's snapshot (sweeps.recovery) writes into a folder Ray had
        # already used: that folder now holds this epoch, so the older entry goes.
        kept = [e for e in seen.get(trial.trial_id, []) if e[2] != entry[2]]
        SweepState(Path(self.state_file)).update(checkpoints={**seen, trial.trial_id: kept + [entry]})

    def _end(self, trial, status: str) -> None:
        run_id = self._run_id(trial)
        if run_id is not None:
            recorded = self._state().get("checkpoints", {}).get(trial.trial_id, [])
            end_trial_run(self.client, run_id, recorded, trial.last_result or {}, status, self.score_mode, self.keep)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._end(trial, "FINISHED")

    def on_trial_recover(self, iteration, trials, trial, **info):
        run_id = self._run_id(trial)
        if run_id is not None:  # the same run continues after the retry; say why it paused
            self.client.set_tag(run_id, RETRIES, str(trial.num_failures))
            self.client.log_text(run_id, _error_text(trial), f"retries/retry_{trial.num_failures}.txt")

    def on_trial_error(self, iteration, trials, trial, **info):
        run_id = self._run_id(trial)
        if run_id is not None:  # the error on the run: its last line as a tag, the traceback as a file
            text = _error_text(trial)
            self.client.set_tag(run_id, ERROR, (text.strip().splitlines() or ["unknown error"])[-1][:5000])
            self.client.log_text(run_id, text, "error.txt")
        self._end(trial, "FAILED")


def end_trial_run(client, run_id: str, recorded: list, last_result: dict, status: str, score_mode: str,
                  keep: int) -> None:
    """Log the trial's best ``keep`` checkpoints (``recorded`` as [score, epoch, path]), tag the
    best one, tag a trial the scheduler stopped, end the run with ``status``."""
    sign = 1 if score_mode == "max" else -1
    # Ray also holds on to the latest checkpoint, best-k or not, to resume from: not logged.
    # A NaN score (a diverged epoch) ranks last.
    kept = sorted(((s, e, p) for s, e, p in recorded if checkpoint_exists(p)),
                  key=lambda k: -sign * k[0] if k[0] == k[0] else math.inf)[:keep]
    for _, epoch, path in kept:
        with tune.Checkpoint(path).as_directory() as folder:
            client.log_artifacts(run_id, folder, artifact_path=f"checkpoints/epoch_{epoch:03d}")
    if kept:
        best = kept[0]
        client.set_tag(run_id, BEST_CHECKPOINT, f"checkpoints/epoch_{best[1]:03d}")
    planned = last_result.get("epochs_planned")
    if status == "FINISHED" and planned and last_result.get("epoch", planned) < planned and not last_result.get("stopped_early"):
        client.set_tag(run_id, STOPPED_EARLY, "scheduler")
    client.set_terminated(run_id, status=status)


def _error_text(trial) -> str:
    """Ray writes the trial's traceback to ``error.txt`` in its folder before this callback runs."""
    path = trial.error_file
    if path and os.path.isfile(path):
        return Path(path).read_text(errors="replace")
    error = trial.get_error()
    return f"{type(error).__name__}: {error}" if error else "the trial failed (Ray recorded no error)"


def checkpoint_exists(path: str) -> bool:
    """Ray deletes checkpoints beyond num_to_keep; remote storage is trusted to hold the rest."""
    return os.path.isdir(path) if "://" not in path else True

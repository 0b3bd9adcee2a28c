"""Resume after a driver that died without cleaning up (SIGKILL, an OOM kill, a lost machine).

Ray restores a sweep from its last experiment snapshot (taken at every controller step, see
``launch.init_ray``). Our own records are written during a step: Optuna's study first
(``sweeps.search``), then the trial → run map and the MLflow runs (``sweeps.tracking``). A kill
between them leaves the records one step ahead of Ray's snapshot. ``reconcile`` reads all
three before Ray starts again and settles each trial once:

- unfinished in Ray's snapshot but ended in Optuna or MLflow: ended. Its run is closed as the
  tracker would have closed it. Its restored trainable reports the trial's last result once and
  returns (``reconcile`` hands it to ``sweeps.trainable``; ``sweeps.tracking`` finds it in the
  state file's ``ended`` and ``sweeps.search`` in Optuna, and both skip it), so it neither trains
  nor logs again.
- unfinished, and the checkpoint it would resume from is gone: the sweep cannot go on as it was.
  One line, exit 2, before anything is changed: it never silently starts a trial over.
- unfinished, with epochs logged after the checkpoint in Ray's snapshot: Ray would run those
  epochs again and log them twice. The checkpoint of the last logged epoch is on disk (a trial
  saves it before it reports), so the trial goes on from there (``resume_from``).
- started after the snapshot (a run, or a RUNNING Optuna trial, that Ray does not know): it is
  not resumed. Its run ends KILLED, tagged ``tasksweep.lost``; its Optuna trial is told FAIL,
  so TPE does not wait on it. The searcher proposes a trial in its place.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sweeps.checkpoint import read_state
from sweeps.mlflow_layout import SweepState, numeric_metrics
from sweeps.search import RAY_TRIAL_ATTR
from sweeps.tracking import checkpoint_exists, end_trial_run
from trainables.contract import EPOCH, STATE_EPOCH
from trainables.errors import UserInputError

UNFINISHED = {"PENDING", "RUNNING", "PAUSED"}
LOST = "tasksweep.lost"


def _ray_trials(ray_dir: Path) -> dict:
    """Ray's trials as its last snapshot has them (public API; no Ray cluster needed)."""
    from ray.tune import ExperimentAnalysis

    # It also looks for Ray's per-trial result files, which a sweep does not write (MLflow holds them).
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    return {t.trial_id: t for t in ExperimentAnalysis(str(ray_dir)).trials}


def _optuna_by_ray_trial(state: dict) -> tuple:
    """(study, {Ray trial id: FrozenTrial}); (None, {}) for a sweep saved without its Optuna URL."""
    import optuna

    from sweeps.launch import optuna_storage

    if not state.get("optuna_url"):
        return None, {}
    study = optuna.load_study(study_name=state["optuna"]["study_name"], storage=optuna_storage(state["optuna_url"]))
    return study, {t.user_attrs[RAY_TRIAL_ATTR]: t for t in study.trials if RAY_TRIAL_ATTR in t.user_attrs}


def reconcile(sweep_dir: Path, ray_dir: Path, state_file: Path, client, objectives: list[str],
              score_mode: str, keep: int) -> tuple[dict[str, dict], dict[str, str]]:
    """Settle every trial (above); return what the restored trainable needs: the ended trials'
    results to replay ({trial id: metrics}, also kept in the state file for the tracker) and the
    checkpoint folders to go on from ({trial id: folder})."""
    import optuna

    state = SweepState(state_file).read()
    trials = _ray_trials(ray_dir)
    study, by_ray = _optuna_by_ray_trial(state)
    runs = state.get("trial_runs", {})
    fetched = {tid: client.get_run(rid) for tid, rid in runs.items()}
    run_status = {tid: run.info.status for tid, run in fetched.items()}
    ended, resumed = {}, set()
    for tid, trial in trials.items():
        if trial.status not in UNFINISHED:
            continue
        recorded = by_ray.get(tid)
        if recorded is not None and recorded.state.is_finished():
            ended[tid] = "FAILED" if recorded.state == optuna.trial.TrialState.FAIL else "FINISHED"
        elif run_status.get(tid) in ("FINISHED", "FAILED"):
            ended[tid] = run_status[tid]
        else:
            resumed.add(tid)
    resume_from = {}
    for tid in sorted(resumed):
        trial, needed = trials[tid], None
        logged = fetched[tid].data.metrics.get(EPOCH) if tid in fetched else None
        if logged and "://" not in trial.path:  # go on after the last epoch in MLflow, or log epochs twice
            needed = _checkpoint_of_epoch(trial.path, logged)
            where = f"the checkpoint of its epoch {int(logged)} in {trial.path}"
        elif trial.checkpoint is not None:
            needed = trial.checkpoint.path if checkpoint_exists(trial.checkpoint.path) else None
            where = trial.checkpoint.path
        else:
            continue
        if needed is None:
            raise UserInputError(f"{sweep_dir} cannot be resumed: trial {tid} would go on from {where}, "
                                 "which no longer exists; launch the sweep again")
        if trial.checkpoint is None or Path(trial.checkpoint.path) != Path(needed):
            resume_from[tid] = needed
    replay = {}
    for tid, status in ended.items():
        logged = fetched[tid].data.metrics if tid in fetched else {}
        last = {**(trials[tid].last_result or {}), **logged}
        if run_status.get(tid) == "RUNNING":
            end_trial_run(client, runs[tid], state.get("checkpoints", {}).get(tid, []), last, status, score_mode, keep)
        # Ray needs one result with the objectives from the ended trial; nothing logs it again.
        replay[tid] = {**{m: float("nan") for m in objectives}, **numeric_metrics(last)}
    for tid, run_id in runs.items():
        if tid not in trials and run_status[tid] == "RUNNING":
            client.set_tag(run_id, LOST, "the driver died before Ray saved this trial; it was not resumed")
            client.set_terminated(run_id, status="KILLED")
    for tid, recorded in by_ray.items():
        if recorded.state == optuna.trial.TrialState.RUNNING and tid not in resumed:
            study.tell(recorded.number, state=optuna.trial.TrialState.FAIL)
    ended_all = {**state.get("ended", {}), **replay}
    SweepState(state_file).update(ended=ended_all)
    return ended_all, resume_from


def _checkpoint_of_epoch(trial_path: str, epoch: float) -> str | None:
    """The complete checkpoint folder of ``trial_path`` that holds epoch ``epoch``'s state."""
    for folder in sorted(Path(trial_path).glob("checkpoint_*"), reverse=True):
        try:
            if read_state(folder).get(STATE_EPOCH) == int(epoch):
                return str(folder)
        except Exception:  # a copy the kill cut short: an older one may still serve
            continue
    return None


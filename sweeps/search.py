"""Ray's OptunaSearch, with what a sweep that can be killed and resumed needs from it.

- Trials the scheduler stopped reach Optuna as PRUNED. Ray hands a trial that ASHA stopped to the
  searcher exactly like a finished one, so Optuna would record its partial value as COMPLETE and
  TPE would learn from one-epoch scores as if they were final. The trainable reports
  ``epochs_planned``; a trial whose last ``epoch`` is below it, and which did not stop itself
  (``stopped_early``, e.g. patience), was stopped by the scheduler.
- Each Optuna trial carries its Ray trial id (user attribute ``tasksweep.trial_id``), so a resume
  can tell which Optuna trials a dead driver left RUNNING (``sweeps.recovery``).
- A trial whose Optuna record already ended is not told again: after a driver killed between
  Optuna's write and Ray's next snapshot, Ray brings that trial back and replays its last result.
"""

from __future__ import annotations

import optuna
from ray.tune.search.optuna import OptunaSearch

RAY_TRIAL_ATTR = "tasksweep.trial_id"


def stopped_by_scheduler(result: dict | None) -> bool:
    if not result or result.get("stopped_early"):
        return False
    return result.get("epoch", 0) < result.get("epochs_planned", 0)


class PruneAwareOptunaSearch(OptunaSearch):
    _restored = False  # only a restored searcher can meet trials Optuna already ended

    def suggest(self, trial_id: str) -> dict | None:
        new = trial_id not in self._ot_trials
        config = super().suggest(trial_id)
        if new and trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr(RAY_TRIAL_ATTR, trial_id)
        return config

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self._restored = True

    def _already_ended(self, trial_id: str) -> bool:
        trial = self._ot_trials.get(trial_id)
        return (self._restored and trial is not None
                and self._ot_study._storage.get_trial(trial._trial_id).state.is_finished())

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if not self._already_ended(trial_id):
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            return
        if self._already_ended(trial_id):
            self._completed_trials.add(trial_id)
            return
        if not error and stopped_by_scheduler(result) and trial_id in self._ot_trials:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)

"""Ray's OptunaSearch, except that trials the scheduler stopped reach Optuna as PRUNED.

Ray hands a trial that ASHA stopped to the searcher exactly like a finished one, so Optuna would
record its partial value as COMPLETE and TPE would learn from one-epoch scores as if they were
final. The trainable reports ``epochs_planned``; a trial whose last ``epoch`` is below it, and
which did not stop itself (``stopped_early``, e.g. patience), was stopped by the scheduler.
"""

from __future__ import annotations

import optuna
from ray.tune.search.optuna import OptunaSearch


def stopped_by_scheduler(result: dict | None) -> bool:
    if not result or result.get("stopped_early"):
        return False
    return result.get("epoch", 0) < result.get("epochs_planned", 0)


class PruneAwareOptunaSearch(OptunaSearch):
    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if not error and stopped_by_scheduler(result) and trial_id in self._ot_trials and trial_id not in self._completed_trials:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)

"""Progress on the console: one line per trial start, epoch and end (Ray's own table is off)."""

from __future__ import annotations

from ray import tune

from sweeps.console import progress


def _short(config: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())


class ProgressPrinter(tune.Callback):
    def __init__(self, metrics: list[str], num_samples: int):
        self.metrics, self.num_samples = metrics, num_samples

    def _number(self, trials, trial) -> str:
        # Ray's list holds every trial in creation order, restored ones too: numbers survive a resume.
        n = next((i for i, t in enumerate(trials, 1) if t is trial), len(trials))
        return f"trial {n}/{self.num_samples} ({trial.trial_id})"

    def on_trial_start(self, iteration, trials, trial, **info):
        progress(f"{self._number(trials, trial)} started: {_short(trial.config)}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        shown = ", ".join(f"{m}={result[m]:.4f}" for m in self.metrics if isinstance(result.get(m), (int, float)))
        epoch = int(result.get("epoch", result.get("training_iteration", 0)))
        progress(f"{self._number(trials, trial)} epoch {epoch}/{result.get('epochs_planned', '?')}: {shown}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        progress(f"{self._number(trials, trial)} done")

    def on_trial_error(self, iteration, trials, trial, **info):
        progress(f"{self._number(trials, trial)} FAILED: see {trial.path}")

    def on_trial_recover(self, iteration, trials, trial, **info):
        progress(f"{self._number(trials, trial)} lost its worker ({trial.num_failures} of {trial.max_failures} "
                 "retries used); continuing from its last checkpoint")

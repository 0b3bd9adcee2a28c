"""The sweep at a glance, drawn by Optuna itself: which hyperparameter mattered.

The finished trials (the ``trials`` table, read from MLflow) are replayed into an in-memory Optuna
study over the sweep's search space (``tasksweep.search_space`` on the parent run), so the figures
can be rebuilt from MLflow alone, like every other table. Optuna's own matplotlib plots draw them:

- ``optuna_history.png``: the first objective per trial and the best so far;
- ``optuna_importances.png`` and the ``importances`` table: fANOVA importances (Optuna's
  evaluator) of the searched params for the first objective; left out when they cannot be told
  (fewer than two finished trials, or all scored the same);
- ``optuna_parallel.png``: a parallel-coordinate plot of params and first objective.
"""

from __future__ import annotations

import math
import warnings

import pandas as pd


def replay_study(trials: pd.DataFrame, space: dict[str, dict], objective: dict):
    """A single-objective study holding the finished trials with a value for ``objective``."""
    import optuna

    from sweeps.search_space import SearchSpace

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line in the report
    distributions = SearchSpace(space, "(sweep)").to_optuna()
    study = optuna.create_study(direction="maximize" if objective["mode"] == "max" else "minimize")
    metric = objective["metric"]
    if trials.empty or metric not in trials:
        return study
    for _, row in trials[trials["status"] == "FINISHED"].iterrows():
        value = row[metric]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        params = {name: _as_sampled(row.get(name), dist) for name, dist in distributions.items()}
        if any(v is None for v in params.values()):
            continue  # a trial from before a search-space change: it has no value for some param
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=float(value)))
    return study


def _as_sampled(value, distribution):
    """MLflow keeps params as text (read back as float where possible): map back onto the distribution."""
    import optuna.distributions as d

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(distribution, d.CategoricalDistribution):
        return next((c for c in distribution.choices if str(c) == str(value) or _same_number(c, value)), None)
    if isinstance(distribution, d.IntDistribution):
        return int(round(float(value)))
    return float(value)


def _same_number(a, b) -> bool:
    try:
        return not isinstance(a, bool) and float(a) == float(b)
    except (TypeError, ValueError):
        return False


def importances(study) -> pd.DataFrame | None:
    """fANOVA importance of each searched param (seeded, so a rebuilt report agrees; sums to 1),
    or None when it cannot be told: fewer than two trials, or every trial scored the same."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    if len(study.trials) < 2:
        return None
    try:
        values = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except RuntimeError:  # "zero total variance in all trees": nothing to attribute
        return None
    return pd.DataFrame({"param": list(values), "importance": [float(v) for v in values.values()]})


def study_figures(study, metric: str, table: pd.DataFrame | None) -> dict:
    """``{file name: matplotlib figure}``: none without a finished trial; the importances only
    when ``table`` (``importances``) could be computed."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as plots

    from sweeps.report import _pyplot

    _pyplot()  # the Agg backend, before Optuna imports pyplot
    if not study.trials:
        return {}
    with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        figures = {"optuna_history.png": plots.plot_optimization_history(study, target_name=metric).figure,
                   "optuna_parallel.png": plots.plot_parallel_coordinate(study, target_name=metric).figure}
        if table is not None:
            figures["optuna_importances.png"] = plots.plot_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=0), target_name=metric).figure
    for fig in figures.values():
        fig.set_size_inches(7, 4.5)
        fig.tight_layout()
    return figures

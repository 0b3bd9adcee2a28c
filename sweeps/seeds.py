"""One sweep file over several seeds, and the paired comparisons a paper claim rests on.

Seed ``s`` sets both the scheme's ``fixed.seed`` (data split, initial weights, distortions) and
the sweep's ``seed`` (Optuna's sampler), and names the sweep ``<name>_seed<s>``, so each seed is
an ordinary sweep in MLflow with its own tables. From each seed's best trial (chosen on the
first objective, a validation metric, as ``tasksweep promote`` chooses) the comparison reads
held-out metrics: ``A:B`` asks whether A beats B, seed by seed and on average. The two tables
are logged on a run of the MLflow experiment ``<name>_seeds`` (and written under ``reports/``).

``--by PARAM`` also reads every finished trial, not only the best: for each value of a searched
parameter (e.g. a ``sampler: grid`` over γ) the same comparisons seed by seed (``by_<param>``), and
which value the first objective prefers on each seed (``best_<param>``).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from sweeps.console import progress
from sweeps.spec import SweepSpec, load_sweep
from trainables.errors import UserInputError


@dataclass
class Comparison:
    better: str  # the metric expected to be higher
    worse: str

    @property
    def pooled(self) -> bool:
        """``test_map_s*:test_map_nn_s*``: ``*`` stands for a number (a fold, a σ) and every
        number both metrics have is a pair of its own, so 3 seeds × 5 folds give 15 pairs."""
        return "*" in self.better

    def pairs(self, metrics: dict[str, float]) -> list[tuple[str, str]]:
        """The (A, B) metric names this comparison reads from one seed's metrics."""
        if not self.pooled:
            return [(self.better, self.worse)]
        numbers = [m.group(1) for k in metrics if (m := _pattern(self.better).fullmatch(k))]
        return [(self.better.replace("*", n), self.worse.replace("*", n)) for n in sorted(numbers, key=float)
                if self.worse.replace("*", n) in metrics]


def _pattern(metric: str) -> re.Pattern:
    return re.compile(re.escape(metric).replace(r"\*", r"([0-9]+(?:\.[0-9]+)?)"))


def parse_comparisons(items: list[str]) -> list[Comparison]:
    out = []
    for item in items:
        better, sep, worse = item.partition(":")
        if not sep or not better or not worse:
            raise UserInputError(f"--compare expects METRIC_A:METRIC_B (does A beat B?), got {item!r}")
        if better.count("*") > 1 or better.count("*") != worse.count("*"):
            raise UserInputError(f"--compare: put one * in both metrics or in neither (e.g. test_map_s*:test_map_nn_s*), got {item!r}")
        out.append(Comparison(better, worse))
    return out


def seed_specs(path: str | Path, seeds: list[int], smoke: bool, assignments: list[str]) -> list[SweepSpec]:
    """Every seed's spec, validated before anything runs (a bad file fails once, up front)."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserInputError(f"--seeds needs distinct integers, got {seeds}")
    name = load_sweep(path, smoke=smoke, assignments=assignments).name
    return [load_sweep(path, smoke=smoke, assignments=[*assignments, f"seed={s}", f"fixed.seed={s}", f"name={name}_seed{s}"])
            for s in seeds]


def best_trial_metrics(client, experiment: str) -> tuple[str, dict[str, float]]:
    from sweeps.promote import select_best_trial

    # the best trial by the first objective, as promote picks it, but without promote.where: a
    # constraint says what may be deployed (no oracle trial), not what a comparison reads
    run, *_ = select_best_trial(client, experiment, None, where=[])
    return run.info.run_id, dict(run.data.metrics)


def summarize(per_seed: dict[int, dict[str, float]], comparisons: list[Comparison]) -> tuple[list[dict], list[dict]]:
    """(rows: metric, value per seed, mean, std), (comparisons: mean A, mean B, mean A − B, wins)."""
    seeds = sorted(per_seed)
    for c in comparisons:
        empty = [s for s in seeds if c.pooled and not c.pairs(per_seed[s])]
        if empty:
            raise UserInputError(f"no metric pair matches '{c.better}:{c.worse}' among the best trial's metrics (seeds {empty})")
    metrics = list(dict.fromkeys(m for c in comparisons for s in seeds for pair in c.pairs(per_seed[s]) for m in pair))
    for m in metrics:
        missing = [s for s in seeds if m not in per_seed[s]]
        if missing:
            raise UserInputError(f"metric '{m}' is not among the best trial's metrics (seeds {missing})")
    rows = []
    for m in metrics:
        values = [per_seed[s][m] for s in seeds]
        rows.append({"metric": m, **{f"seed {s}": round(v, 4) for s, v in zip(seeds, values)},
                     "mean": round(statistics.fmean(values), 4), "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0})
    return rows, [verdict(c, per_seed) for c in comparisons]


def verdict(c: Comparison, per_seed: dict[int, dict[str, float]]) -> dict:
    diffs = [m[a] - m[b] for m in per_seed.values() for a, b in c.pairs(m)]  # one per seed, or per seed and number
    return {"A": c.better, "B": c.worse, "mean A − B": round(statistics.fmean(diffs), 4),
            "sd A − B": round(statistics.stdev(diffs), 4) if len(diffs) > 1 else 0.0,
            "min A − B": round(min(diffs), 4), "A wins": f"{sum(d > 0 for d in diffs)}/{len(diffs)}"}


def trial_metrics_by(client, experiment: str, param: str) -> dict[str, dict[str, float]]:
    """Finished trials' metrics per value of ``param`` (trials sharing a value are averaged)."""
    from sweeps.mlflow_layout import finished_trials

    found = client.get_experiment_by_name(experiment)
    runs = finished_trials(client, found.experiment_id) if found else []
    groups: dict[str, list[dict[str, float]]] = {}
    for run in runs:
        if param not in run.data.params:
            raise UserInputError(f"--by {param}: trials of '{experiment}' have no parameter '{param}'")
        groups.setdefault(run.data.params[param], []).append(run.data.metrics)
    return {value: {m: statistics.fmean(r[m] for r in rs) for m in set.intersection(*(set(r) for r in rs))}
            for value, rs in groups.items()}


def summarize_by(per_seed: dict[int, dict[str, dict[str, float]]], param: str, comparisons: list[Comparison],
                 objective: str, mode: str) -> tuple[list[dict], list[dict]]:
    """(a verdict per value and comparison, the first objective per value with the seeds it is best on)."""
    values = sorted(set.intersection(*(set(v) for v in per_seed.values())), key=_sort_key)
    if not values:
        raise UserInputError(f"--by {param}: no value of '{param}' has a finished trial on every seed")
    by_value = [{param: v, **row} for v in values
                for row in summarize({s: trials[v] for s, trials in per_seed.items()}, comparisons)[1]]
    pick = max if mode == "max" else min
    best = {s: pick(values, key=lambda v: trials[v][objective]) for s, trials in per_seed.items()}
    chosen = []
    for v in values:
        scores = [trials[v][objective] for trials in per_seed.values()]
        chosen.append({param: v, f"{objective} mean": round(statistics.fmean(scores), 4),
                       f"{objective} std": round(statistics.stdev(scores), 4) if len(scores) > 1 else 0.0,
                       "best on seeds": " ".join(str(s) for s, b in best.items() if b == v)})
    return by_value, chosen


def _sort_key(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def run_seeds(specs: list[SweepSpec], seeds: list[int], comparisons: list[Comparison], tracking_uri: str,
              base_dir: Path, launch_sweeps: bool = True) -> tuple[list[dict], list[dict], dict[int, str]] | None:
    """Launch (or, with ``launch_sweeps`` False, only read) each seed's sweep; None if interrupted."""
    from sweeps.launch import launch
    from sweeps.mlflow_layout import existing_client

    for seed, spec in zip(seeds, specs):
        if launch_sweeps:
            progress(f"seed {seed}: sweep '{spec.name}' ({seeds.index(seed) + 1}/{len(seeds)})")
            if launch(spec, tracking_uri, base_dir=base_dir).interrupted:
                return None
    client = existing_client(tracking_uri)
    per_seed, runs = {}, {}
    for seed, spec in zip(seeds, specs):
        runs[seed], per_seed[seed] = best_trial_metrics(client, spec.name)
    rows, verdicts = summarize(per_seed, comparisons)
    return rows, verdicts, runs


def tables_by(specs: list[SweepSpec], seeds: list[int], param: str, comparisons: list[Comparison], tracking_uri: str) -> dict:
    import pandas as pd

    from sweeps.mlflow_layout import existing_client

    client = existing_client(tracking_uri)
    per_seed = {seed: trial_metrics_by(client, spec.name, param) for seed, spec in zip(seeds, specs)}
    first = specs[0].objectives[0]
    by_value, chosen = summarize_by(per_seed, param, comparisons, first.metric, first.mode)
    return {f"by_{param}": pd.DataFrame(by_value), f"best_{param}": pd.DataFrame(chosen)}


def report_seeds(sweep_file: str | Path, seeds: list[int], compare: list[str], smoke: bool, assignments: list[str],
                 tracking_uri: str, out: str | Path | None = None, launch_sweeps: bool = True, by: str | None = None) -> bool:
    """``tasksweep seeds``: run (or read) each seed's sweep, write and log the tables; False if interrupted."""
    import pandas as pd

    from sweeps.report import write_tables

    comparisons = parse_comparisons(compare)  # before anything runs
    specs = seed_specs(sweep_file, seeds, smoke, assignments)
    if by is not None and by not in specs[0].search_space.params:
        raise UserInputError(f"--by {by}: not a searched parameter of this sweep ({', '.join(specs[0].search_space.params)})")
    result = run_seeds(specs, seeds, comparisons, tracking_uri, Path(sweep_file).parent, launch_sweeps=launch_sweeps)
    if result is None:
        return False
    rows, verdicts, runs = result
    name = f"{specs[0].name.rsplit('_seed', 1)[0]}_seeds"
    tables = {"metrics": pd.DataFrame(rows), "comparisons": pd.DataFrame(verdicts)}
    write_tables(tables, Path(out or f"reports/{name}"), " (best trial of each seed's sweep, held-out split)")
    if by is not None:
        per_value = tables_by(specs, seeds, by, comparisons, tracking_uri)
        write_tables(per_value, Path(out or f"reports/{name}"), f" (every finished trial, per value of {by}; best: by {specs[0].objectives[0].metric})")
        tables.update(per_value)
    run_id = log_summary(tracking_uri, name, str(sweep_file), runs, tables)
    print("best trials: " + ", ".join(f"seed {s}: run {r}" for s, r in runs.items()))
    print(f"logged: MLflow experiment '{name}', run {run_id}")
    return True


def log_summary(tracking_uri: str, experiment: str, sweep_file: str, runs: dict[int, str], tables: dict) -> str:
    """A run in ``experiment`` holding the seeds' best trial runs and the tables; returns its id."""
    from mlflow import MlflowClient

    from sweeps.mlflow_layout import ROLE, experiment_for
    from sweeps.report import log_tables

    client = MlflowClient(tracking_uri)
    experiment_id = experiment_for(client, experiment)
    run = client.create_run(experiment_id, run_name="seeds", tags={ROLE: "seeds", **{f"best_run.seed{s}": r for s, r in runs.items()}})
    client.log_param(run.info.run_id, "sweep_file", sweep_file)
    client.log_param(run.info.run_id, "seeds", " ".join(map(str, runs)))
    log_tables(client, run.info.run_id, tables)
    client.set_terminated(run.info.run_id)
    return run.info.run_id

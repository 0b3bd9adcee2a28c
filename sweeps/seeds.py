"""One sweep file over several seeds, and the paired comparisons a paper claim rests on.

Seed ``s`` sets both the scheme's ``fixed.seed`` (data split, initial weights, distortions) and
the sweep's ``seed`` (Optuna's sampler), and names the sweep ``<name>_seed<s>``, so each seed is
an ordinary sweep in MLflow with its own tables. From each seed's best trial (chosen on the
first objective, a validation metric, as ``tasksweep promote`` chooses) the comparison reads
held-out metrics: ``A:B`` asks whether A beats B, seed by seed and on average. The two tables
are logged on a run of the MLflow experiment ``<name>_seeds`` (and written under ``reports/``).
"""

from __future__ import annotations

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


def parse_comparisons(items: list[str]) -> list[Comparison]:
    out = []
    for item in items:
        better, sep, worse = item.partition(":")
        if not sep or not better or not worse:
            raise UserInputError(f"--compare expects METRIC_A:METRIC_B (does A beat B?), got {item!r}")
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

    run, *_ = select_best_trial(client, experiment, None)
    return run.info.run_id, dict(run.data.metrics)


def summarize(per_seed: dict[int, dict[str, float]], comparisons: list[Comparison]) -> tuple[list[dict], list[dict]]:
    """(rows: metric, value per seed, mean, std), (comparisons: mean A, mean B, mean A − B, wins)."""
    seeds = sorted(per_seed)
    metrics = list(dict.fromkeys(m for c in comparisons for m in (c.better, c.worse)))
    for m in metrics:
        missing = [s for s in seeds if m not in per_seed[s]]
        if missing:
            raise UserInputError(f"metric '{m}' is not among the best trial's metrics (seeds {missing})")
    rows = []
    for m in metrics:
        values = [per_seed[s][m] for s in seeds]
        rows.append({"metric": m, **{f"seed {s}": round(v, 4) for s, v in zip(seeds, values)},
                     "mean": round(statistics.fmean(values), 4), "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0})
    verdicts = []
    for c in comparisons:
        diffs = [per_seed[s][c.better] - per_seed[s][c.worse] for s in seeds]
        verdicts.append({"A": c.better, "B": c.worse, "mean A − B": round(statistics.fmean(diffs), 4),
                         "min A − B": round(min(diffs), 4), "A wins": f"{sum(d > 0 for d in diffs)}/{len(diffs)}"})
    return rows, verdicts


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


def report_seeds(sweep_file: str | Path, seeds: list[int], compare: list[str], smoke: bool, assignments: list[str],
                 tracking_uri: str, out: str | Path | None = None, launch_sweeps: bool = True) -> bool:
    """``tasksweep seeds``: run (or read) each seed's sweep, write and log the two tables; False if interrupted."""
    import pandas as pd

    from sweeps.report import write_tables

    comparisons = parse_comparisons(compare)  # before anything runs
    specs = seed_specs(sweep_file, seeds, smoke, assignments)
    result = run_seeds(specs, seeds, comparisons, tracking_uri, Path(sweep_file).parent, launch_sweeps=launch_sweeps)
    if result is None:
        return False
    rows, verdicts, runs = result
    name = f"{specs[0].name.rsplit('_seed', 1)[0]}_seeds"
    tables = {"metrics": pd.DataFrame(rows), "comparisons": pd.DataFrame(verdicts)}
    write_tables(tables, Path(out or f"reports/{name}"), " (best trial of each seed's sweep, held-out split)")
    run_id = log_summary(tracking_uri, name, str(sweep_file), runs, tables)
    print("best trials: " + ", ".join(f"seed {s}: run {r}" for s, r in runs.items()))
    print(f"logged: MLflow experiment '{name}', run {run_id}")
    return True


def log_summary(tracking_uri: str, experiment: str, sweep_file: str, runs: dict[int, str], tables: dict) -> str:
    """A run in ``experiment`` holding the seeds' best trial runs and the tables; returns its id."""
    from mlflow import MlflowClient

    from sweeps.mlflow_layout import ROLE
    from sweeps.report import log_tables

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name="seeds", tags={ROLE: "seeds", **{f"best_run.seed{s}": r for s, r in runs.items()}})
    client.log_param(run.info.run_id, "sweep_file", sweep_file)
    client.log_param(run.info.run_id, "seeds", " ".join(map(str, runs)))
    log_tables(client, run.info.run_id, tables)
    client.set_terminated(run.info.run_id)
    return run.info.run_id

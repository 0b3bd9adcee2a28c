"""Tables and plots of a sweep, built from what MLflow holds (so ``tasksweep report`` can rebuild them).

- ``trials``: one row per trial: status, searched params, final objective and held-out metrics;
- ``<scheme>``: the paper-style table (the scheme's ``table``) of the best trial;
- ``pareto`` (multi-objective): the non-dominated finished trials, plus ``pareto.png``;
- ``epochs``: the first objective per epoch, one column per trial, or per value of the first
  categorical searched param (mean of its trials), plus ``epochs.png``;
- ``slice.png``: each final objective against each searched param, one panel per pair;
- ``curve_<name>`` (schemes with ``curves``): the best trial's paper figures, plus ``curve_<name>.png``;
- ``importances`` and ``optuna_{history,importances,parallel}.png``: Optuna's view of the first
  objective (``sweeps.study_figures``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sweeps.console import progress
from sweeps.mlflow_layout import OBJECTIVES, PROMOTE, ROLE, SCHEME, SEARCHED, SPACE, STOPPED_EARLY, TRIAL_ID, existing_client
from trainables.errors import UserInputError
from trainables.registry import get_scheme

CURVE = "curve_"  # tables named so are a scheme's paper figures (``Scheme.curves``): also plotted


def pareto_front(points: list[list[float]], modes: list[str]) -> list[int]:
    """Indices of the points no other point dominates (at least as good everywhere, better once)."""
    signs = [1 if m == "max" else -1 for m in modes]
    scored = [[s * v for s, v in zip(signs, p)] for p in points]
    return [i for i, p in enumerate(scored)
            if not any(all(q_k >= p_k for q_k, p_k in zip(q, p)) and q != p for q in scored)]


def child_runs(client, parent_run_id: str) -> list:
    parent = client.get_run(parent_run_id)
    return client.search_runs([parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                              max_results=10_000)


def latest_sweep_run(client, experiment_name: str):
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{ROLE}` = 'sweep'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def sweep_tables(client, parent_run) -> dict[str, pd.DataFrame]:
    tags = parent_run.data.tags
    scheme = get_scheme(tags[SCHEME])
    searched, objectives = json.loads(tags[SEARCHED]), json.loads(tags[OBJECTIVES])
    promote_metric = json.loads(tags.get(PROMOTE, "{}")).get("metric")
    metrics = [o["metric"] for o in objectives] + ([promote_metric] if promote_metric else [])
    rows = []
    for run in child_runs(client, parent_run.info.run_id):
        row: dict[str, Any] = {"trial": run.data.tags.get(TRIAL_ID), "status": run.info.status,
                               "stopped_early": run.data.tags.get(STOPPED_EARLY, "")}
        row.update({k: _number(run.data.params.get(k)) for k in searched})
        row.update({m: run.data.metrics.get(m) for m in dict.fromkeys(metrics)})
        row["run_id"] = run.info.run_id
        rows.append((row, run))
    tables = {"trials": pd.DataFrame([r for r, _ in rows])}
    first = objectives[0]
    finished = [(r, run) for r, run in rows if r["status"] == "FINISHED" and r.get(first["metric"]) is not None]
    if finished:
        best_row, best_run = (max if first["mode"] == "max" else min)(finished, key=lambda x: x[0][first["metric"]])
        tables[scheme.name] = pd.DataFrame(scheme.table(best_run.data.metrics))
        if scheme.curves is not None:
            tables |= {f"{CURVE}{name}": pd.DataFrame(rows) for name, rows in scheme.curves(best_run.data.metrics).items()}
        if scheme.sweep_tables is not None:
            trials = [({**run.data.params, "trial": r["trial"]}, run.data.metrics) for r, run in finished]
            tables |= {name: pd.DataFrame(rows) for name, rows in scheme.sweep_tables(trials).items()}
    if len(objectives) > 1 and finished:
        points = [[r[o["metric"]] for o in objectives] for r, _ in finished]
        front = pareto_front(points, [o["mode"] for o in objectives])
        tables["pareto"] = pd.DataFrame([finished[i][0] for i in front])
    epochs = epoch_table(client, parent_run, tables["trials"])
    if not epochs.empty:
        tables["epochs"] = epochs
    return tables


def _categorical(values: pd.Series) -> bool:
    """Params that ``_number`` could not read as numbers (e.g. ``arch``: edsr/mdsr) stay strings."""
    return any(isinstance(v, str) for v in values.dropna())


def epoch_table(client, parent_run, trials: pd.DataFrame) -> pd.DataFrame:
    """The first objective per epoch (``step``): a column per trial, or per value of the first categorical param."""
    if trials.empty:
        return pd.DataFrame()
    tags = parent_run.data.tags
    metric = json.loads(tags[OBJECTIVES])[0]["metric"]
    names = trials["trial"].fillna(trials["run_id"])  # a run without the tag still gets a column
    curves = {name: pd.Series({m.step: m.value for m in client.get_metric_history(run_id, metric)}, dtype=float)
              for name, run_id in zip(names, trials["run_id"])}
    curves = {k: v for k, v in curves.items() if not v.empty}
    if not curves:
        return pd.DataFrame()
    table = pd.DataFrame(curves).sort_index()
    group = next((p for p in json.loads(tags[SEARCHED]) if p in trials and _categorical(trials[p])), None)
    if group:
        table = _mean_by_value(table, group, dict(zip(names, trials[group].astype(str))))
    return table.rename_axis("epoch").reset_index()


def _mean_by_value(table: pd.DataFrame, param: str, value_of: dict[str, str]) -> pd.DataFrame:
    """One ``<param>=<value>`` column per value: the mean of its trials' columns at each epoch."""
    values = sorted({value_of[trial] for trial in table.columns})
    # Trials the scheduler cut short have no late epochs: the mean is over the trials that reached them.
    return pd.DataFrame({f"{param}={v}": table[[t for t in table.columns if value_of[t] == v]].mean(axis=1)
                         for v in values})


def _number(text: str | None):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def to_markdown(df: pd.DataFrame) -> str:
    def fmt(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""  # pandas fills a row's missing cells with NaN
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def write_tables(tables: dict[str, pd.DataFrame], out: Path, note: str = "") -> None:
    """Print each table as Markdown and write it as ``<name>.md`` and ``<name>.csv`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        print(f"## {name}{note}\n\n{to_markdown(df)}\n")
        (out / f"{name}.md").write_text(to_markdown(df) + "\n")
        df.to_csv(out / f"{name}.csv", index=False)
    print(f"written: {out}/*.md, *.csv")


def report_experiment(tracking_uri: str, experiment: str, out: str | Path | None = None) -> None:
    """``tasksweep report``: the latest sweep's tables, from MLflow alone, printed and written."""
    client = existing_client(tracking_uri)
    parent = latest_sweep_run(client, experiment)
    if parent is None:
        raise UserInputError(f"no sweep found in MLflow experiment '{experiment}'")
    write_tables(sweep_tables(client, parent), Path(out or f"reports/{experiment}"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # drivers and CI have no display
    import matplotlib.pyplot as plt

    return plt


def pareto_figure(trials: pd.DataFrame, pareto: pd.DataFrame, objectives: list[dict]):
    plt = _pyplot()
    x, y = objectives[0]["metric"], objectives[1]["metric"]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(trials[x], trials[y], c="lightgray", label="trials")
    front = pareto.sort_values(x)
    ax.plot(front[x], front[y], "o-", c="tab:red", label="Pareto front")
    ax.set_xlabel(f"{x} ({objectives[0]['mode']})")
    ax.set_ylabel(f"{y} ({objectives[1]['mode']})")
    ax.legend()
    fig.tight_layout()
    return fig


def slice_figure(trials: pd.DataFrame, searched: list[str], objectives: list[dict]):
    """Each finished trial's final objective (rows) against each searched param (columns); None if nothing to plot."""
    if trials.empty:  # no child run at all: not even a status column
        return None
    finished = trials[trials["status"] == "FINISHED"]
    params = [p for p in searched if p in finished]
    if finished.empty or not params:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(objectives), len(params), figsize=(3.2 * len(params), 2.8 * len(objectives)),
                             squeeze=False)
    for row, objective in zip(axes, objectives):
        for ax, name in zip(row, params):
            _slice_panel(ax, finished, name, objective)
    fig.tight_layout()
    return fig


def _slice_panel(ax, trials: pd.DataFrame, name: str, objective: dict) -> None:
    metric = objective["metric"]
    points = trials[[name, metric]].dropna() if metric in trials else pd.DataFrame(columns=[name, metric])
    x, y = points[name], points[metric]
    if _categorical(x):
        labels = sorted({str(v) for v in x})
        ax.scatter([labels.index(str(v)) for v in x], y, alpha=0.7)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlim(-0.5, len(labels) - 0.5)  # matplotlib would put the first and last values on the frame
    else:
        ax.scatter(x, y, alpha=0.7)
        # Learning rates and loss weights span decades: linear would crowd them at the left edge.
        if len(x) and x.min() > 0 and x.max() / x.min() > 20:
            ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel(f"{metric} ({objective['mode']})")


def epoch_figure(table: pd.DataFrame, metric: str):
    """One line per column of ``epoch_table`` against epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in table.columns.drop("epoch"):
        curve = table[["epoch", column]].dropna()
        ax.plot(curve["epoch"], curve[column], "o-", markersize=3, label=str(column))
    if len(table.columns) <= 13:  # beyond a dozen trials the legend hides the curves
        ax.legend(fontsize="small")
    ax.xaxis.get_major_locator().set_params(integer=True)  # no epoch 1.25
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    fig.tight_layout()
    return fig


def curve_figure(table: pd.DataFrame, name: str):
    """A scheme's paper figure: the first column is the x-axis, every other column a line."""
    plt = _pyplot()
    x = table.columns[0]
    fig, ax = plt.subplots(figsize=(6, 4))
    positions = range(len(table)) if _categorical(table[x]) else table[x]
    for column in table.columns[1:]:
        constant = table[column].nunique(dropna=True) == 1 and len(table) > 1  # a reference line (e.g. the large query)
        ax.plot(positions, table[column], "--" if constant else "o-", markersize=3, label=str(column))
    if _categorical(table[x]):
        ax.set_xticks(range(len(table)), table[x].astype(str))
    ax.set_xlabel(str(x))
    ax.set_title(name.removeprefix(CURVE).replace("_", " "), fontsize="medium")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def log_figure(client, run_id: str, fig, name: str) -> None:
    """Log ``fig`` (skipped when None) and close it: pyplot keeps every open figure alive otherwise."""
    if fig is None:
        return
    try:
        client.log_figure(run_id, fig, name)
    finally:
        _pyplot().close(fig)


def log_tables(client, run_id: str, tables: dict[str, pd.DataFrame]) -> None:
    """Each table on a run as ``tables/<name>.json`` (``log_table``: the MLflow UI's table view) and a Markdown copy."""
    for name, df in tables.items():
        client.log_table(run_id, data=df, artifact_file=f"tables/{name}.json")
        client.log_text(run_id, to_markdown(df), f"tables/{name}.md")


def log_study(client, run_id: str, trials: pd.DataFrame, space: dict, objective: dict) -> None:
    """Optuna's history, fANOVA importances (figure and table) and parallel coordinates (``sweeps.study_figures``)."""
    from sweeps.study_figures import importances, replay_study, study_figures

    study = replay_study(trials, space, objective)
    table = importances(study)
    for name, fig in study_figures(study, objective["metric"], table).items():
        log_figure(client, run_id, fig, name)
    if table is not None:
        log_tables(client, run_id, {"importances": table})


def finalize(client, state: dict, status: str) -> None:
    """End every run of the sweep (none stays RUNNING) and log the tables on the parent run."""
    child_status = "KILLED" if status in ("KILLED", "FAILED") else "FINISHED"
    for run_id in state.get("trial_runs", {}).values():
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_terminated(run_id, status=child_status)
    parent = client.get_run(state["parent_run_id"])
    parent_id = parent.info.run_id
    objectives = json.loads(parent.data.tags[OBJECTIVES])
    try:
        tables = sweep_tables(client, parent)
        log_tables(client, parent_id, tables)
        if "pareto" in tables:
            log_figure(client, parent_id, pareto_figure(tables["trials"], tables["pareto"], objectives), "pareto.png")
        log_figure(client, parent_id, slice_figure(tables["trials"], json.loads(parent.data.tags[SEARCHED]), objectives),
                   "slice.png")
        if "epochs" in tables:
            log_figure(client, parent_id, epoch_figure(tables["epochs"], objectives[0]["metric"]), "epochs.png")
        for name in (n for n in tables if n.startswith(CURVE)):
            log_figure(client, parent_id, curve_figure(tables[name], name), f"{name}.png")
        if SPACE in parent.data.tags:  # sweeps launched before the tag existed have no figures
            try:
                log_study(client, parent_id, tables["trials"], json.loads(parent.data.tags[SPACE]), objectives[0])
            except Exception as e:  # an extra view: its failure must not fail a finished sweep
                progress(f"Optuna figures left out: {type(e).__name__}: {e}")
        for name, df in tables.items():
            if name not in ("trials", "epochs") and not name.startswith(CURVE):  # too wide, or plotted
                progress(f"{name} table:\n{to_markdown(df)}")
    finally:
        client.set_terminated(parent_id, status=status)

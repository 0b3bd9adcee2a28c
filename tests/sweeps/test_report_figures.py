"""The generic views of a finished sweep: ``epochs`` (table + figure) and ``slice.png``, built from a
sweep recorded straight into MLflow (SQLite in a temp dir, no Ray), the layout the launcher writes."""

import json
import math

import matplotlib
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from sweeps.mlflow_layout import OBJECTIVES, ROLE, SCHEME, SEARCHED, SPACE, TRIAL_ID
from sweeps.report import curve_figure, epoch_table, finalize, report_experiment, slice_figure, sweep_tables

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

PSNR, NIMA = {"metric": "val_psnr", "mode": "max"}, {"metric": "val_nima", "mode": "max"}


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("sweep", artifact_location=str(tmp_path / "artifacts"))
    return client, experiment_id, uri


def record(client, experiment_id, searched, objectives, trials, space=None) -> dict:
    """A sweep as the launcher and the tracker leave it before ``finalize``: children still RUNNING.

    ``trials``: (trial id, params, per-epoch values of the first objective, final values of the others).
    """
    tags = {ROLE: "sweep", SCHEME: "qair_denoise", SEARCHED: json.dumps(searched), OBJECTIVES: json.dumps(objectives)}
    parent = client.create_run(experiment_id, tags=tags | ({SPACE: json.dumps(space)} if space else {}))
    runs = {}
    for trial_id, params, history, others in trials:
        run = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent.info.run_id, TRIAL_ID: trial_id,
                                                     SCHEME: "qair_denoise", ROLE: "trial"})
        metrics = [Metric(objectives[0]["metric"], v, 0, epoch) for epoch, v in enumerate(history, start=1)]
        metrics += [Metric(k, v, 0, len(history)) for k, v in others.items()]
        client.log_batch(run.info.run_id, metrics=metrics, params=[_param(k, v) for k, v in params.items()])
        runs[trial_id] = run.info.run_id
    return {"parent_run_id": parent.info.run_id, "trial_runs": runs}


def _param(key, value):
    from mlflow.entities import Param

    return Param(key, str(value))


ARCH_SWEEP = [  # lr is numeric, arch the first categorical, norm a second one (not used for grouping)
    ("t1", {"lr": 1e-4, "arch": "edsr", "norm": "batch"}, [20.0, 21.0, 22.0], {"val_nima": 4.0}),
    ("t2", {"lr": 1e-3, "arch": "edsr", "norm": "none"}, [22.0, 23.0], {"val_nima": 5.0}),  # cut short
    ("t3", {"lr": 1e-2, "arch": "mdsr", "norm": "batch"}, [19.0, 24.0, 26.0], {"val_nima": 4.5}),
]


def test_epoch_table_is_the_mean_per_value_of_the_first_categorical_param(store):
    client, experiment_id, _ = store
    state = record(client, experiment_id, ["lr", "arch", "norm"], [PSNR], ARCH_SWEEP)
    parent = client.get_run(state["parent_run_id"])
    table = epoch_table(client, parent, sweep_tables(client, parent)["trials"])
    assert list(table.columns) == ["epoch", "arch=edsr", "arch=mdsr"]
    assert table["epoch"].tolist() == [1, 2, 3]
    assert table["arch=edsr"].tolist() == [21.0, 22.0, 22.0]  # epoch 3: t1 alone, t2 stopped at 2
    assert table["arch=mdsr"].tolist() == [19.0, 24.0, 26.0]


def test_epoch_table_has_a_column_per_trial_without_categorical_param(store):
    client, experiment_id, _ = store
    trials = [(t, {"lr": p["lr"]}, history, others) for t, p, history, others in ARCH_SWEEP]
    state = record(client, experiment_id, ["lr"], [PSNR], trials)
    parent = client.get_run(state["parent_run_id"])
    table = epoch_table(client, parent, sweep_tables(client, parent)["trials"])
    assert sorted(table.columns) == ["epoch", "t1", "t2", "t3"]
    assert table["t1"].tolist() == [20.0, 21.0, 22.0] and table["t3"].tolist() == [19.0, 24.0, 26.0]
    assert table["t2"].tolist()[:2] == [22.0, 23.0] and math.isnan(table["t2"].tolist()[2])


def trials_frame(**changes) -> pd.DataFrame:
    df = pd.DataFrame({"trial": ["a", "b", "c", "d"], "status": ["FINISHED", "FINISHED", "FINISHED", "FAILED"],
                       "lr": [1e-4, 1e-3, 1e-2, 0.5], "arch": ["edsr", "mdsr", "edsr", "mdsr"],
                       "val_psnr": [20.0, 22.0, 21.0, 99.0], "val_nima": [4.0, 5.0, 4.5, 9.0]})
    return df.assign(**changes)


def test_slice_figure_has_a_panel_per_objective_and_param():
    fig = slice_figure(trials_frame(), ["lr", "arch"], [PSNR, NIMA])
    try:
        axes = fig.get_axes()
        assert len(axes) == 4  # rows: objectives, columns: params
        assert [(ax.get_ylabel().split()[0], ax.get_xlabel()) for ax in axes] == [
            ("val_psnr", "lr"), ("val_psnr", "arch"), ("val_nima", "lr"), ("val_nima", "arch")]
        lr_psnr, arch_psnr = axes[0], axes[1]
        assert lr_psnr.get_xscale() == "log"  # 1e-4 .. 1e-2 spans 100x
        assert sorted(lr_psnr.collections[0].get_offsets()[:, 1].tolist()) == [20.0, 21.0, 22.0]  # FAILED left out
        assert arch_psnr.get_xscale() == "linear"
        assert [t.get_text() for t in arch_psnr.get_xticklabels()] == ["edsr", "mdsr"]
        assert sorted(arch_psnr.collections[0].get_offsets()[:, 0].tolist()) == [0, 0, 1]
    finally:
        plt.close(fig)


def test_slice_figure_keeps_a_narrow_range_linear_and_skips_nothing_to_plot():
    fig = slice_figure(trials_frame(lr=[0.1, 0.2, 0.3, 0.4]), ["lr"], [PSNR])
    try:
        assert fig.get_axes()[0].get_xscale() == "linear"
    finally:
        plt.close(fig)
    assert slice_figure(trials_frame(status="FAILED"), ["lr"], [PSNR]) is None
    assert slice_figure(trials_frame(), [], [PSNR]) is None
    assert slice_figure(pd.DataFrame(), ["lr"], [PSNR]) is None  # no child run at all


def test_finalize_logs_slice_and_epochs_and_report_writes_the_epochs_table(store, tmp_path):
    client, experiment_id, uri = store
    state = record(client, experiment_id, ["lr", "arch"], [PSNR, NIMA], ARCH_SWEEP)
    before = set(plt.get_fignums())
    finalize(client, state, "FINISHED")
    assert set(plt.get_fignums()) == before  # every figure closed after logging
    parent_id = state["parent_run_id"]
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert {"slice.png", "epochs.png", "pareto.png"} <= {a.path for a in client.list_artifacts(parent_id)}
    assert {"tables/epochs.json", "tables/epochs.md"} <= {a.path for a in client.list_artifacts(parent_id, "tables")}

    report_experiment(uri, "sweep", tmp_path / "report")
    epochs = pd.read_csv(tmp_path / "report" / "epochs.csv")
    assert list(epochs.columns) == ["epoch", "arch=edsr", "arch=mdsr"]
    assert epochs["arch=edsr"].tolist() == [21.0, 22.0, 22.0]


ARCH_SPACE = {"lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
              "arch": {"type": "choice", "values": ["edsr", "mdsr"]}}


def test_finalize_logs_optuna_history_importances_and_parallel_coordinates(store):
    client, experiment_id, _ = store
    state = record(client, experiment_id, ["lr", "arch"], [PSNR, NIMA], ARCH_SWEEP, space=ARCH_SPACE)
    finalize(client, state, "FINISHED")
    parent_id = state["parent_run_id"]
    assert {"optuna_history.png", "optuna_importances.png", "optuna_parallel.png"} <= {
        a.path for a in client.list_artifacts(parent_id)}
    path = client.download_artifacts(parent_id, "tables/importances.json")
    table = json.loads(open(path).read())
    importances = dict(zip(*[[row[i] for row in table["data"]] for i in (0, 1)]))
    assert set(importances) == {"lr", "arch"} and math.isclose(sum(importances.values()), 1.0, abs_tol=1e-6)


def test_replayed_study_holds_finished_trials_with_params_mapped_back_to_the_space():
    from sweeps.study_figures import replay_study

    trials = pd.DataFrame([{"status": "FINISHED", "lr": 1e-3, "arch": "mdsr", "val_psnr": 25.0},
                           {"status": "FINISHED", "lr": 1e-2, "arch": "edsr", "val_psnr": None},  # no value yet
                           {"status": "FAILED", "lr": 1e-4, "arch": "edsr", "val_psnr": 20.0}])
    study = replay_study(trials, ARCH_SPACE, PSNR)
    assert [(t.params, t.value) for t in study.trials] == [({"lr": 1e-3, "arch": "mdsr"}, 25.0)]
    assert study.direction.name == "MAXIMIZE"


def test_importances_are_left_out_when_every_trial_scored_the_same(store):
    from sweeps.study_figures import importances, replay_study

    tied = [(f"t{i}", {"lr": lr, "arch": "edsr"}, [20.0], {}) for i, lr in enumerate((1e-4, 1e-3, 1e-2))]
    client, experiment_id, _ = store
    state = record(client, experiment_id, ["lr", "arch"], [PSNR], tied, space=ARCH_SPACE)
    finalize(client, state, "FINISHED")  # fANOVA raises on zero variance: the sweep must still end
    artifacts = {a.path for a in client.list_artifacts(state["parent_run_id"])}
    assert "optuna_history.png" in artifacts and "optuna_importances.png" not in artifacts
    frame = pd.DataFrame([{"status": "FINISHED", "lr": lr, "arch": "edsr", "val_psnr": 20.0} for lr in (1e-4, 1e-3)])
    assert importances(replay_study(frame, ARCH_SPACE, PSNR)) is None


def test_finalize_without_history_or_finished_trial_logs_no_figure(store):
    client, experiment_id, _ = store
    state = record(client, experiment_id, ["lr"], [PSNR], [("t1", {"lr": 1e-3}, [], {})],  # died before epoch 1
                   space={"lr": ARCH_SPACE["lr"]})
    finalize(client, state, "FAILED")
    parent_id = state["parent_run_id"]
    assert client.get_run(parent_id).info.status == "FAILED"
    assert not {"slice.png", "epochs.png", "optuna_history.png"} & {a.path for a in client.list_artifacts(parent_id)}
    assert "tables/epochs.json" not in {a.path for a in client.list_artifacts(parent_id, "tables")}
    assert "tables/trials.json" in {a.path for a in client.list_artifacts(parent_id, "tables")}


def test_curve_figure_draws_a_line_per_method_on_the_first_column():
    table = pd.DataFrame({"area ratio": ["1/4", "1/16", "1/64"], "Raw": [0.5, 0.4, 0.3], "FSR": [0.45, 0.42, 0.4],
                          "large query": [0.55, 0.55, 0.55]})
    fig = curve_figure(table, "curve_fig6_map")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"Raw", "FSR", "large query"}
    assert list(lines["Raw"].get_ydata()) == [0.5, 0.4, 0.3] and list(lines["Raw"].get_xdata()) == [0, 1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1/4", "1/16", "1/64"]
    assert lines["large query"].get_linestyle() == "--" and lines["Raw"].get_linestyle() == "-"  # reference vs measured
    assert ax.get_title() == "fig6 map"
    plt.close(fig)

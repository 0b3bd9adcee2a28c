"""The fidelity presets through the real stack (Ray Tune + Optuna + MLflow on SQLite): the smoke
sweep with Table 5.1 and the accuracy-vs-σ plot on the parent run, promote and the champion in a
fresh process; the Table 6.1 grid, one trial per ablation row."""

from pathlib import Path

import pytest
import yaml

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, runs_of, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow


def _artifact(client, run_id: str, path: str, tmp_path: Path) -> str:
    return Path(client.download_artifacts(run_id, path, str(tmp_path))).read_text()


def test_smoke_preset_logs_table_5_1_and_promotes_a_calibrated_classifier(tmp_path):
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / "fidelity.yaml", "fidelity")
    searched = yaml.safe_load((SWEEPS.parent / "search_spaces" / "fidelity.yaml").read_text())
    assert all(set(searched) <= set(t.data.params) and "val_acc_avg" in t.data.metrics for t in trials)
    parent_id = parent.info.run_id
    artifacts = {a.path for a in client.list_artifacts(parent_id, "tables")} | {a.path for a in client.list_artifacts(parent_id)}
    assert {"tables/fidelity.md", "tables/table5_1_trials.md", "curve_acc_vs_sigma.png"} <= artifacts
    table = _artifact(client, parent_id, "tables/fidelity.md", tmp_path)
    for row in ("setup 1: train on clean, test w/ restoration", "setup 2: train on degraded, test w/o restoration",
                "setup 3: train on restored, test w/ restoration", "proposed ("):
        assert f"| {row}" in table
    assert all(col in table for col in ("clean", "s0.3", "s0.5", "ramp1d", "ramp2d"))
    per_trial = _artifact(client, parent_id, "tables/table5_1_trials.md", tmp_path)
    assert per_trial.count("| proposed (") == 2  # one row per trial

    promoted = tasksweep(tmp_path, "promote", "--experiment", "fidelity", "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, "fidelity")
    assert result["io"]["kind"] == "class_scores" and len(result["io"]["classes"]) == 20 and "astronaut" in result["io"]["classes"]
    assert result["problems"] == [] and result["shape"][1] == 20


def test_ablation_grid_runs_each_table_6_1_row_once(tmp_path):
    tasksweep(tmp_path, "launch", str(SWEEPS / "fidelity_ablation.yaml"), "--smoke", "--set", "fixed.epochs=1")
    client, parents, trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "fidelity_ablation")
    rows = yaml.safe_load((SWEEPS / "fidelity_ablation.yaml").read_text())["search_space"]["ablation"]["values"]
    assert sorted(t.data.params["ablation"] for t in trials) == sorted(rows)
    assert all(t.data.params["estimator"] == "oracle" and t.data.metrics["method_estimator"] == 0.0 for t in trials)
    table = _artifact(client, parents[0].info.run_id, "tables/table6_1.md", tmp_path)
    assert all(f"| {row} " in table for row in rows)
    # oracle trials are scored with the true map a served model never has: nothing to promote
    refused = tasksweep(tmp_path, "promote", "--experiment", "fidelity_ablation", "--tracking-uri",
                        f"sqlite:///{tmp_path / 'mlflow.db'}", check=False)
    assert refused.returncode == 2 and "satisfies method_estimator>=1.0: nothing promoted" in refused.stderr

"""The nima_sr MDSR smoke preset through the real stack (Ray Tune + Optuna + MLflow on SQLite), then
promote and check the champion in a fresh process: one registered MDSR takes the scale as input."""

from pathlib import Path

import pytest

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, runs_of, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow


def test_mdsr_smoke_sweep_tables_figures_and_champion(tmp_path):
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / "nima_sr_mdsr.yaml", "nima_sr_mdsr")
    for t in trials:
        assert {"val_psnr", "val_nima", "test_psnr_x3", "test_psnr_x4", "test_nima_l2", "judge_srcc"} <= set(t.data.metrics)
        assert float(t.data.params["gamma"]) > 0
    assert trials[0].data.params["gamma"] != trials[1].data.params["gamma"]
    parent_id = parent.info.run_id
    artifacts = {a.path for a in client.list_artifacts(parent_id)}
    assert {"pareto.png", "slice.png", "epochs.png"} <= artifacts
    tables = {a.path for a in client.list_artifacts(parent_id, "tables")}
    assert {"tables/nima_sr.md", "tables/pareto.md", "tables/epochs.md"} <= tables
    table = Path(client.download_artifacts(parent_id, "tables/nima_sr.md", str(tmp_path))).read_text()
    for row in ("bicubic", "L2 fine-tuned as long (γ = 0)", "this trial: L2 + γ·(10 − NIMA), ×4"):
        assert f"| {row} |" in table

    promoted = tasksweep(tmp_path, "promote", "--experiment", "nima_sr_mdsr", "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, "nima_mdsr")
    assert result["io"] == {"kind": "images", "scales": [2, 3, 4]} and result["problems"] == []


def test_gamma_grid_over_two_seeds_compares_every_gamma(tmp_path):
    # sampler: grid through Ray: each seed runs every γ once (concurrently), and --by pairs them.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tasksweep(tmp_path, "seeds", str(SWEEPS / "nima_sr_gamma.yaml"), "--smoke", "--seeds", "0", "1",
              "--set", "search_space.gamma.values=[0.1, 1.0]", "--by", "gamma",
              "--compare", "test_nima:test_nima_l2", "--tracking-uri", uri)
    for seed in (0, 1):
        _, _, trials = runs_of(uri, f"nima_sr_gamma_seed{seed}")
        assert sorted(t.data.params["gamma"] for t in trials) == ["0.1", "1.0"]
    out = tmp_path / "reports" / "nima_sr_gamma_seeds"
    by_gamma = (out / "by_gamma.md").read_text()
    assert "| 0.1 | test_nima | test_nima_l2 |" in by_gamma and "| 1.0 | test_nima | test_nima_l2 |" in by_gamma
    assert "/2 |" in by_gamma and "best on seeds" in (out / "best_gamma.md").read_text()

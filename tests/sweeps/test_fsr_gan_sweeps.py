"""The fsr_gan r-grid smoke preset through the real stack (Ray Tune + Optuna grid + MLflow on SQLite):
the paper's figures as tables and line plots on the parent run, then promote and check the
champion (features → features) in a fresh process."""

from pathlib import Path

import pytest

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow
FIGURES = ("table1_distance_variance", "fig4_distance_to_large", "fig6_map", "fig7_map_distractors", "fig8_map_vs_bits")


def test_r_grid_smoke_sweep_figures_and_champion(tmp_path):
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / "fsr_gan_r.yaml", "fsr_gan_r")
    assert len({t.data.params["r"] for t in trials}) == 2 and {t.data.params["r"] for t in trials} <= {"1.0", "2.0", "3.0"}
    for t in trials:
        assert {"val_map", "test_map_x4_raw", "test_map_x4_isr", "test_dist_x2_cnn", "test_map_distractors_gan_mse",
                "test_bits_x4", "test_dist_similar"} <= set(t.data.metrics)
    parent_id = parent.info.run_id
    artifacts = {a.path for a in client.list_artifacts(parent_id)}
    assert {f"curve_{f}.png" for f in FIGURES} <= artifacts
    tables = {a.path for a in client.list_artifacts(parent_id, "tables")}
    assert {"tables/fsr_gan.md"} | {f"tables/curve_{f}.md" for f in FIGURES} <= tables
    fig6 = Path(client.download_artifacts(parent_id, "tables/curve_fig6_map.md", str(tmp_path))).read_text()
    assert fig6.splitlines()[0].startswith("| area ratio | Raw | ISR | CNN-Baseline |") and "| 1/16 |" in fig6

    promoted = tasksweep(tmp_path, "promote", "--experiment", "fsr_gan_r", "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, "fsr_gan_generator")
    assert result["io"]["kind"] == "features" and result["io"]["dim"] == 64 and "stand-in for VGG16" in result["io"]["extractor"]
    assert result["problems"] == []

"""The qair_sr smoke preset through the real stack (Ray Tune + Optuna + MLflow on SQLite): Table 8
on the parent run, then promote and check the champion (small image → ×4 image) in a fresh process."""

from pathlib import Path

import pytest

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow


def test_sr_smoke_sweep_table_8_and_a_x4_champion(tmp_path):
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / "qair_sr.yaml", "qair_sr_x4", trials=3)
    for t in trials:
        assert {"val_map", "test_map", "test_psnr", "test_map_clean", "test_map_down", "test_map_bicubic",
                "test_psnr_bicubic", "test_map_nn", "test_psnr_nn", "qair_mae"} <= set(t.data.metrics)
        assert "test_psnr_down" not in t.data.metrics  # the ×4 smaller query has no PSNR against the query
    table = Path(client.download_artifacts(parent.info.run_id, "tables/qair_sr.md", str(tmp_path))).read_text()
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == \
        ["Original", "Down x4", "Bicubic x4", "SR NN", "SR NN-QA"]

    promoted = tasksweep(tmp_path, "promote", "--experiment", "qair_sr_x4", "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, "qair_sr")
    assert result["io"] == {"kind": "images", "scales": [4]} and result["problems"] == []

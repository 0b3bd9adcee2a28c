"""The feature-adaptation smoke preset through the real stack (Ray Tune + Optuna + MLflow on SQLite):
Table 12 (×4 SR, then tuned features) on the parent run, then promote and check the champion
(an image → a unit descriptor) in a fresh process."""

from pathlib import Path

import pytest

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow


def test_feature_adaptation_smoke_sweep_table_12_and_a_descriptor_champion(tmp_path):
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / "qair_features_sr.yaml", "qair_features_sr_x4", trials=3)
    for t in trials:
        assert {"val_map", "test_map", "test_map_clean", "test_map_bicubic", "test_map_nn", "feature_mse", "fqa_mae",
                "fqa_mae_constant"} <= set(t.data.metrics)
        assert t.data.params["task"] == "sr"
    table = Path(client.download_artifacts(parent.info.run_id, "tables/qair_features.md", str(tmp_path))).read_text()
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == \
        ["Original", "Down x4", "Bicubic x4", "SR NN", "SR NN + tweaked features"]

    promoted = tasksweep(tmp_path, "promote", "--experiment", "qair_features_sr_x4", "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, "qair_features_sr")
    assert result["io"]["kind"] == "descriptors" and result["io"]["scale"] == 4
    assert result["shape"] == [1, 128] and result["problems"] == []  # one ÷4 photo in, a unit descriptor out

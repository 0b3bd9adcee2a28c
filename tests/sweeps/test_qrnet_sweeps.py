"""The qrnet and mqrnet smoke presets through the real stack (Ray Tune + Optuna + MLflow on SQLite),
then promote and load the champion in a fresh process: the launcher has no per-scheme code,
so these check only what the presets themselves promise (their tables and objectives)."""

from pathlib import Path

import pytest
import yaml

from tests.sweeps.test_end_to_end import champion_check, launch_smoke, tasksweep

SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
pytestmark = pytest.mark.slow

# preset → (experiment, the scheme's table, rows it must hold, the objectives)
PRESETS = {
    "qrnet": ("qrnet_digits", ["RecNet (multiple) + C", "Fine-tuned C (multiple)", "QRNet + C"],
              ["val_acc_avg", "val_psnr_avg"]),
    "mqrnet": ("mqrnet_digits", ["unseen, distorted input", "QRNet (c1 only) + unseen", "MQRNet + unseen"],
               ["val_acc_unseen_avg", "val_psnr_avg"]),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_smoke_preset_sweeps_tables_and_promotes(preset, tmp_path):
    experiment, rows, objectives = PRESETS[preset]
    uri, client, parent, trials = launch_smoke(tmp_path, SWEEPS / f"{preset}.yaml", experiment)
    searched = yaml.safe_load((SWEEPS.parent / "search_spaces" / f"{preset}.yaml").read_text())
    for t in trials:
        assert set(objectives) <= set(t.data.metrics)
        assert set(searched) <= set(t.data.params)  # mqrnet: lams.0, lams.1 as Optuna drew them
    for key in searched:
        assert trials[0].data.params[key] != trials[1].data.params[key]
    parent_id = parent.info.run_id
    tables = {a.path for a in client.list_artifacts(parent_id, "tables")}
    assert {f"tables/{preset}.md", "tables/pareto.md"} <= tables  # two objectives: a Pareto front
    table = Path(client.download_artifacts(parent_id, f"tables/{preset}.md", str(tmp_path))).read_text()
    for row in rows:
        assert f"| {row} |" in table
    assert "noise_20" in table and "blur_avg" in table  # per level and per type

    promoted = tasksweep(tmp_path, "promote", "--experiment", experiment, "--tracking-uri", uri)
    assert "becomes champion" in promoted.stdout
    result = champion_check(tmp_path, uri, preset)
    assert result["io"] == {"kind": "images", "scales": [1]} and result["problems"] == []
    assert result["shape"] == [1, 256, 256, 3]  # a recovered image, any size (trained on 32 px digits)

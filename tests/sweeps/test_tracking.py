"""What the tracker logs when a trial ends, on a real MLflow store and real checkpoint folders."""

from pathlib import Path

from mlflow import MlflowClient

from sweeps.mlflow_layout import BEST_CHECKPOINT
from sweeps.tracking import end_trial_run


def test_only_the_best_k_checkpoints_are_logged_though_ray_keeps_the_latest_too(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("t", artifact_location=str(tmp_path / "art"))).info.run_id
    recorded = []
    # epoch 3 is the worst but the latest (Ray keeps it to resume from); epoch 4 diverged (NaN)
    for epoch, score in ((1, 0.5), (2, 0.7), (3, 0.2), (4, float("nan"))):
        folder = tmp_path / f"checkpoint_{epoch}"
        folder.mkdir()
        (folder / "model.pt").write_text(str(epoch))
        recorded.append([score, epoch, str(folder)])
    recorded.append([0.9, 5, str(tmp_path / "deleted_by_ray")])
    end_trial_run(client, run_id, recorded, {"epoch": 4, "epochs_planned": 4}, "FINISHED", "max", keep=2)
    logged = sorted(Path(a.path).name for a in client.list_artifacts(run_id, "checkpoints"))
    assert logged == ["epoch_001", "epoch_002"]
    assert client.get_run(run_id).data.tags[BEST_CHECKPOINT] == "checkpoints/epoch_002"
    assert client.get_run(run_id).info.status == "FINISHED"


def test_with_mode_min_the_lowest_scores_are_the_best(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("t", artifact_location=str(tmp_path / "art"))).info.run_id
    recorded = []
    for epoch, score in ((1, 0.5), (2, 0.7), (3, 0.2)):
        (tmp_path / str(epoch)).mkdir()
        (tmp_path / str(epoch) / "model.pt").write_text("x")
        recorded.append([score, epoch, str(tmp_path / str(epoch))])
    end_trial_run(client, run_id, recorded, {}, "FINISHED", "min", keep=1)
    assert [Path(a.path).name for a in client.list_artifacts(run_id, "checkpoints")] == ["epoch_003"]

"""``promote`` on sweeps recorded straight into MLflow (no Ray): the ``champion`` alias moves only
between models that declare the same ``model_io``, and only on a better held-out metric."""

import json
import os
from pathlib import Path

import mlflow
import pytest
import torch
from mlflow import MlflowClient

from sweeps.checkpoint import write_checkpoint
from sweeps.mlflow_layout import BEST_CHECKPOINT, OBJECTIVES, PROMOTE, ROLE
from sweeps.mlflow_layout import tracking_uri_set
from sweeps.promote import CHAMPION, IO_TAG, promote
from tests.toy_schemes import TOYS
from trainables.contract import STATE_MODEL
from trainables.registry import SCHEMES


@pytest.fixture
def toys(monkeypatch):
    for name, scheme in TOYS.items():
        monkeypatch.setitem(SCHEMES, name, scheme)  # promote checks the model by loading it here
    # MLflow infers pip requirements by loading the model in a subprocess, where the test-only
    # toys are unknown: it falls back after this timeout instead of ~6 s per model.
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "1")


def record_sweep(client, tmp_path, experiment_id: str, scheme_name: str, val_loss: float) -> None:
    """A finished sweep of one trial whose best checkpoint holds fresh weights of ``scheme_name``."""
    scheme = TOYS[scheme_name]
    parent = client.create_run(experiment_id, tags={
        ROLE: "sweep", OBJECTIVES: json.dumps([{"metric": "val_loss", "mode": "min"}]),
        PROMOTE: json.dumps({"model_name": "toy", "metric": "test_loss", "mode": "min"})})
    trial = client.create_run(experiment_id, tags={ROLE: "trial", "mlflow.parentRunId": parent.info.run_id,
                                                   BEST_CHECKPOINT: "checkpoints/epoch_001"})
    config = scheme.Config.from_dict(scheme.smoke)
    folder = tmp_path / trial.info.run_id
    folder.mkdir()
    write_checkpoint(folder, scheme, config, {STATE_MODEL: scheme.build_model(config).state_dict(), "epoch": 1})
    client.log_artifacts(trial.info.run_id, str(folder), "checkpoints/epoch_001")
    client.log_metric(trial.info.run_id, "val_loss", val_loss)
    client.log_metric(trial.info.run_id, "test_loss", val_loss)
    client.set_terminated(trial.info.run_id)
    client.set_terminated(parent.info.run_id)


def test_champion_moves_only_between_models_of_the_same_io(tmp_path, toys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("toys", artifact_location=str(tmp_path / "artifacts"))

    record_sweep(client, tmp_path, experiment_id, "toy_upscale2", val_loss=0.5)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    first = promote(uri, "toys")
    assert os.environ.get("MLFLOW_TRACKING_URI") == before  # a sweep launched next must not inherit it
    assert first.champion_moved and "becomes champion" in first.message
    assert json.loads(client.get_model_version("toy", "1").tags[IO_TAG]) == {"kind": "images", "scales": [2]}
    with tracking_uri_set(uri):  # models:/ sources resolve through the global registry URI
        registered = Path(mlflow.artifacts.download_artifacts(client.get_model_version("toy", "1").source, dst_path=str(tmp_path / "v1")))
    weights = torch.load(next(registered.rglob("model.pt")), weights_only=True)  # the weights alone, no pickled code
    assert set(weights) == {"body.0.weight", "body.0.bias"}  # toy_upscale2's conv

    record_sweep(client, tmp_path, experiment_id, "toy_classify", val_loss=0.1)  # better, but a classifier
    second = promote(uri, "toys")
    assert not second.champion_moved and second.version == "2"
    assert "different contracts are not comparable" in second.message and "class_scores" in second.message
    assert str(client.get_model_version_by_alias("toy", CHAMPION).version) == "1"

    record_sweep(client, tmp_path, experiment_id, "toy_upscale2", val_loss=0.05)  # same io, best of the experiment
    third = promote(uri, "toys")
    assert third.champion_moved and "beats champion v1" in third.message
    assert str(client.get_model_version_by_alias("toy", CHAMPION).version) == "3"
    assert "already champion" in promote(uri, "toys").message

"""The Ray adapter's translation, driven with fake Tune calls: no Ray started, a toy scheme, ~1 s.

What a trial reports (metrics + ``epochs_planned``), what its checkpoint folder holds
(``state.pt``, ``model.pt``, ``config.json``), and that resuming from a checkpoint gives the
same epochs as an uninterrupted run.
"""

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from sweeps.trainable import run_trial
from tests.toy_schemes import TOYS
from trainables.device import compute_device

SCHEME = TOYS["toy_upscale2"]
FIXED, SEARCHED = {"epochs": 3, "steps_per_epoch": 2}, {"lr": 0.1}


class FolderCheckpoint:
    """What the adapter uses of ``tune.Checkpoint``: ``as_directory()``."""

    def __init__(self, folder: Path):
        self.folder = folder

    def as_directory(self):
        return contextlib.nullcontext(str(self.folder))


def run(tmp_path: Path, name: str, checkpoint=None, scheme=SCHEME) -> list[tuple[dict, Path | None]]:
    """Run a trial; each report's folder is copied (Tune's report persists it before returning)."""
    reports = []

    def report(metrics, folder):
        kept = None
        if folder is not None:
            kept = tmp_path / f"{name}-{len(reports) + 1}"
            shutil.copytree(folder, kept)
        reports.append((metrics, kept))

    run_trial(scheme, FIXED, SEARCHED, report, lambda: checkpoint, {"node_id": "n1"})
    return reports


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run(tmp_path_factory.mktemp("trial"), "full")


def test_each_epoch_reports_metrics_and_a_checkpoint_folder(uninterrupted):
    assert [m["epoch"] for m, _ in uninterrupted] == [1.0, 2.0, 3.0]
    for metrics, folder in uninterrupted:
        assert metrics["epochs_planned"] == 3 and metrics["node_id"] == "n1" and "val_loss" in metrics
        assert {p.name for p in folder.iterdir()} == {"state.pt", "model.pt", "config.json"}
    metrics, folder = uninterrupted[-1]
    saved = json.loads((folder / "config.json").read_text())
    assert saved["scheme"] == "toy_upscale2" and saved["config"]["lr"] == 0.1 and saved["config"]["epochs"] == 3
    assert saved["model_io"] == {"kind": "images", "scales": [2]}
    model = SCHEME.build_model(SCHEME.Config.from_dict(saved["config"]))
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))  # the weights alone, no pickled code
    assert model(torch.rand(1, 3, 5, 7)).shape == (1, 3, 10, 14)


@pytest.mark.parametrize("name", sorted(TOYS))
def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path, name):
    full = run(tmp_path, "full", scheme=TOYS[name])
    resumed = run(tmp_path, "resumed", FolderCheckpoint(full[0][1]), scheme=TOYS[name])
    assert [m["epoch"] for m, _ in resumed] == [2.0, 3.0]
    for (a, folder_a), (b, folder_b) in zip(full[1:], resumed):
        assert a["val_loss"] == b["val_loss"] and a["train_loss"] == b["train_loss"]
        weights_a, weights_b = (torch.load(f / "model.pt", weights_only=True) for f in (folder_a, folder_b))
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_stages_come_from_prepare_on_the_compute_device(tmp_path):
    calls = []

    def prepare(config, device, progress):
        calls.append((config.lr, device, progress))
        return {"toy_stage": tmp_path}

    seen = []

    def train(config, stages, device, resume, report):
        seen.append((stages, device, resume))

    run(tmp_path, "spy", scheme=dataclasses.replace(SCHEME, prepare=prepare, train=train))
    assert calls == [(0.1, compute_device(), None)]  # no progress printing inside a trial
    assert seen == [({"toy_stage": tmp_path}, compute_device(), None)]


def test_a_trial_process_imports_only_its_own_scheme():
    """Every trial starts a fresh worker process; importing every scheme (and torchvision's
    model zoo) there cost each sweep about 2 s before its first epoch."""
    import subprocess
    import sys

    code = ("import sys, sweeps.trainable; from trainables.registry import get_scheme; get_scheme('qair_denoise'); "
            "print(sorted(m for m in ('trainables.fsr_gan', 'trainables.nima_sr', 'trainables.qrnet', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

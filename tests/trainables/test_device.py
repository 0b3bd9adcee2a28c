"""Trials use the GPU Ray gives them. The CUDA test runs only where a GPU is visible (the lent
GPU machine); on a CPU-only machine it is skipped, and the override test still runs."""

import pytest
import torch

from trainables.contract import STATE_MODEL
from trainables.device import compute_device
from trainables.registry import SCHEMES


def test_override_and_default(monkeypatch):
    monkeypatch.setenv("TASKSWEEP_DEVICE", "cpu")
    assert compute_device() == torch.device("cpu")
    monkeypatch.delenv("TASKSWEEP_DEVICE")
    assert compute_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def _one_epoch(name: str, device: torch.device) -> tuple[dict, dict]:
    scheme = SCHEMES[name]
    config = scheme.Config.from_dict({**scheme.smoke, "epochs": 1})
    reports = []
    scheme.train(config, scheme.prepare(config, device, None), device, None, lambda m, s: reports.append((m, s)))
    return reports[-1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_a_gpu_trial_trains_on_the_gpu_and_its_checkpoint_loads_on_the_cpu(name):
    metrics, state = _one_epoch(name, torch.device("cuda"))
    assert {t.device.type for t in state[STATE_MODEL].values()} == {"cuda"}
    cpu_metrics, _ = _one_epoch(name, torch.device("cpu"))
    assert set(metrics) == set(cpu_metrics)
    assert all(v == v for v in metrics.values())  # no NaN
    model = SCHEMES[name].build_model(SCHEMES[name].Config.from_dict(SCHEMES[name].smoke))
    model.load_state_dict({k: v.cpu() for k, v in state[STATE_MODEL].items()})

"""The one module under ``trainables/`` that imports Ray: a scheme's loop as a Tune trainable.

A checkpoint folder holds ``state.pt`` (the scheme's full resumable state: the trial's own,
trusted file), ``enhancer.pt`` (only the enhancer's ``state_dict``, what the registry loads
with ``weights_only=True``) and ``config.json`` (scheme name and full config).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from trainables.registry import get_scheme

STATE_FILE, ENHANCER_FILE, CONFIG_FILE = "state.pt", "enhancer.pt", "config.json"


def write_checkpoint(directory: str | Path, scheme_name: str, config: dict[str, Any], state: dict) -> None:
    directory = Path(directory)
    torch.save(state, directory / STATE_FILE)
    torch.save(state["enhancer"], directory / ENHANCER_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps({"scheme": scheme_name, "config": config}, indent=1))


def read_state(directory: str | Path) -> dict:
    # weights_only=False: state.pt holds optimizer and RNG state written by this trial itself.
    # map_location: a trial resumed on a CPU-only node can read a GPU trial's state.
    return torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=False)


def make_trainable(scheme_name: str, fixed: dict[str, Any], cpus_per_trial: float) -> Callable[[dict], None]:
    """A Ray Tune function trainable running ``scheme.train`` on ``fixed`` + the sampled config."""
    scheme = get_scheme(scheme_name)  # resolved in the driver: an unknown name fails before Ray starts

    def trainable(searched: dict[str, Any]) -> None:
        from ray import tune

        # A trial holding N CPUs uses N threads: more would fight the other trials for cores.
        torch.set_num_threads(max(1, int(cpus_per_trial)))
        config = scheme.Config.from_dict({**fixed, **searched})
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        resume = None
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                resume = read_state(folder)

        def report(metrics: dict[str, float], state: dict | None) -> None:
            # epochs_planned lets the searcher tell a finished trial from one the scheduler stopped.
            # node_id: where the trial ran (a tag in MLflow), useful on a multi-node cluster.
            metrics = {**metrics, "epochs_planned": config.epochs, "node_id": node_id}
            if state is None:
                tune.report(metrics)
                return
            with tempfile.TemporaryDirectory() as folder:
                write_checkpoint(folder, scheme_name, config.to_dict(), state)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

        scheme.train(config, resume, report)

    trainable.__name__ = scheme_name  # Ray names trials after the trainable
    return trainable

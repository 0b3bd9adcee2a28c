"""A scheme's plain loop as a Ray Tune function trainable: it translates, it holds no logic.

``run_trial`` is the whole translation, handed Tune's two calls as plain callables, so a unit
test drives it without Ray (``tests/sweeps/test_trainable.py``); ``make_trainable`` wires in
``ray.tune``'s. The checkpoint folder's format is ``sweeps.checkpoint``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from sweeps.checkpoint import read_state, write_checkpoint
from trainables.contract import EPOCHS_FIELD, STATE_EPOCH, Scheme
from trainables.device import compute_device
from trainables.registry import get_scheme

# report(metrics, folder): Tune's report; ``folder`` (or None) exists only during the call,
# so the callee must copy it (tune.report persists a checkpoint before it returns).
TuneReport = Callable[[dict[str, Any], "Path | None"], None]


def run_trial(scheme: Scheme, fixed: dict[str, Any], searched: dict[str, Any], report: TuneReport,
              get_checkpoint: Callable[[], Any], extra_metrics: dict[str, Any] | None = None) -> None:
    """Build the config, find the stages, resume if Tune has a checkpoint, train, report each epoch.

    ``get_checkpoint()`` returns None or an object with ``as_directory()`` (``tune.Checkpoint``).
    Each report adds ``epochs_planned`` (so the searcher tells a finished trial from one the
    scheduler stopped) and ``extra_metrics`` (e.g. the node id).
    """
    config = scheme.Config.from_dict({**fixed, **searched})
    device = compute_device()
    stages = scheme.prepare(config, device, None)  # a cache hit: the driver built them before trials start
    resume = None
    checkpoint = get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = read_state(folder)
    added = {"epochs_planned": getattr(config, EPOCHS_FIELD), **(extra_metrics or {})}

    def report_epoch(metrics: dict[str, float], state: dict | None) -> None:
        if state is None:
            report({**metrics, **added}, None)
            return
        with tempfile.TemporaryDirectory() as folder:
            write_checkpoint(folder, scheme, config, state)
            report({**metrics, **added}, Path(folder))

    scheme.train(config, stages, device, resume, report_epoch)


def make_trainable(scheme_name: str, fixed: dict[str, Any], cpus_per_trial: float,
                   ended: dict[str, dict] | None = None, resume_from: dict[str, str] | None = None) -> Callable[[dict], None]:
    """A Ray Tune function trainable running ``scheme.train`` on ``fixed`` + the sampled config.

    After a driver crash (``sweeps.recovery``): a trial in ``ended`` reports its recorded last
    result and returns, and a trial in ``resume_from`` goes on from that checkpoint folder when it
    holds a later epoch than Ray's."""
    scheme = get_scheme(scheme_name)  # resolved in the driver: an unknown name fails before Ray starts

    def trainable(searched: dict[str, Any]) -> None:
        import ray
        from ray import tune

        trial_id = tune.get_context().get_trial_id()
        if trial_id in (ended or {}):
            tune.report(ended[trial_id])
            return

        # A trial holding N CPUs uses N threads: more would fight the other trials for cores.
        torch.set_num_threads(max(1, int(cpus_per_trial)))

        def report(metrics: dict[str, Any], folder: Path | None) -> None:
            tune.report(metrics, checkpoint=None if folder is None else tune.Checkpoint.from_directory(folder))

        # node_id: where the trial ran (an MLflow tag), useful on a multi-node cluster.
        def checkpoint():
            return latest_checkpoint(tune.get_checkpoint(), (resume_from or {}).get(trial_id))

        run_trial(scheme, fixed, searched, report, checkpoint,
                  {"node_id": ray.get_runtime_context().get_node_id()})

    trainable.__name__ = scheme_name  # Ray names trials after the trainable
    return trainable


def latest_checkpoint(rays, recovered: str | None):
    """Ray's checkpoint or the recovered folder, whichever holds the later epoch (None if neither)."""
    from ray import tune

    if not recovered or not Path(recovered).is_dir():
        return rays
    if rays is None:
        return tune.Checkpoint(recovered)
    with rays.as_directory() as folder:
        ray_epoch = read_state(folder)[STATE_EPOCH]
    return tune.Checkpoint(recovered) if read_state(recovered)[STATE_EPOCH] > ray_epoch else rays

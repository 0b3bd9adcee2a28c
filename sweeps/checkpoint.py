"""A trial's checkpoint folder: what the trial resumes from and what ``promote`` registers.

- ``state.pt``: the scheme's full resumable state (optimizers, RNG, ...): the trial's own file;
- ``model.pt``: only ``state[STATE_MODEL]``, the registered model's ``state_dict``, which the
  pyfunc loads with ``torch.load(weights_only=True)``;
- ``config.json``: ``{"scheme", "config", "model_io"}``, enough to rebuild the architecture and
  to know what the model takes and returns without importing the scheme.

No Ray here: the Ray adapter (``sweeps.trainable``) writes it, ``promote`` and tests read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trainables.contract import STATE_MODEL, Scheme

STATE_FILE, MODEL_FILE, CONFIG_FILE = "state.pt", "model.pt", "config.json"


def write_checkpoint(folder: str | Path, scheme: Scheme, config, state: dict) -> None:
    folder = Path(folder)
    torch.save(state, folder / STATE_FILE)
    torch.save(state[STATE_MODEL], folder / MODEL_FILE)
    write_model_config(folder, scheme, config)


def write_model_config(folder: str | Path, scheme: Scheme, config) -> None:
    """``config.json`` alone: with ``model.pt`` beside it, all a pyfunc needs."""
    saved = {"scheme": scheme.name, "config": config.to_dict(), "model_io": scheme.model_io(config).to_dict()}
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(saved, indent=1))


def read_state(folder: str | Path) -> dict:
    # weights_only=False: state.pt holds optimizer and RNG state written by this trial itself.
    # map_location: a trial resumed on a CPU-only node can read a GPU trial's state.
    return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=False)


def read_model_config(folder: str | Path) -> dict:
    return json.loads((Path(folder) / CONFIG_FILE).read_text())

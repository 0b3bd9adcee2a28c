"""Where a trial's tensors live: the GPU Ray assigned it, else the CPU.

Ray sets ``CUDA_VISIBLE_DEVICES`` per trial from ``resources_per_trial.gpu`` (empty for a
CPU-only trial), so "a CUDA device is visible" is exactly "this trial was given a GPU".
``TASKSWEEP_DEVICE`` (e.g. ``cpu``, ``cuda:1``) overrides it outside Ray. Random numbers are
drawn on the CPU generators either way, so a seed gives the same distortions on every device.
"""

from __future__ import annotations

import os

import torch


def compute_device() -> torch.device:
    name = os.environ.get("TASKSWEEP_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)

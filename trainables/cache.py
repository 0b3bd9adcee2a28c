"""Where built datasets and cached stages live on disk."""

import os
from pathlib import Path


def cache_root() -> Path:
    """``$TASKSWEEP_CACHE`` if set, else ``~/.cache/tasksweep``; created on first use."""
    root = Path(os.environ.get("TASKSWEEP_CACHE") or Path.home() / ".cache" / "tasksweep")
    root.mkdir(parents=True, exist_ok=True)
    return root

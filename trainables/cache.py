"""Where built datasets and cached stages live on disk."""

import os
from pathlib import Path


def cache_root() -> Path:
    """``$TASKSWEEP_CACHE`` if set, else ``~/.cache/tasksweep``; created on first use."""
    root = Path(os.environ.get("TASKSWEEP_CACHE") or Path.home() / ".cache" / "tasksweep")
    root.mkdir(parents=True, exist_ok=True)
    return root


def config_key(config) -> str:
    """A short stable hash of a dataclass config: the cache folder name for what it builds."""
    import hashlib
    import json
    from dataclasses import asdict

    return hashlib.sha1(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:10]

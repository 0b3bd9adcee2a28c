"""Where built datasets and cached stages live on disk."""

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable


def cache_root() -> Path:
    """``$TASKSWEEP_CACHE`` if set, else ``~/.cache/tasksweep``; created on first use."""
    root = Path(os.environ.get("TASKSWEEP_CACHE") or Path.home() / ".cache" / "tasksweep")
    root.mkdir(parents=True, exist_ok=True)
    return root


def config_key(config) -> str:
    """A short stable hash of a dataclass config: the cache folder name for what it builds."""
    import hashlib

    return hashlib.sha1(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:10]


def built_dataset(name: str, spec, build: Callable[[Path], None], marker: str) -> Path:
    """``<cache>/datasets/<name>-<hash of spec>``, made by ``build(folder)`` the first time.

    The build goes to a temporary folder renamed into place (with ``spec.json``), so concurrent
    trials never see half a dataset; ``marker`` is a path inside it that only a finished build has.
    """
    root = cache_root() / "datasets" / f"{name}-{config_key(spec)}"
    if not (root / marker).is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=".building-"))
        try:
            build(tmp)
            (tmp / "spec.json").write_text(json.dumps(asdict(spec), indent=1))
            os.rename(tmp, root)
        except OSError:
            if not root.is_dir():  # a concurrent builder did not win either: a real error
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def built_arrays(name: str, spec, build: Callable[[], dict]) -> dict:
    """The arrays ``build()`` returns, saved once per spec as ``<cache>/datasets/<name>-<hash>.npz``
    (written to a temporary name and renamed, so concurrent trials never read half a file)."""
    import numpy as np

    path = cache_root() / "datasets" / f"{name}-{config_key(spec)}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez_compressed(tmp, **build())
        tmp.replace(path)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}

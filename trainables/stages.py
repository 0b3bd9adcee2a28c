"""Cached upstream stages: build once per key, then every trial reads the same folder.

A stage (pretrain an enhancer, label images with their true AP, train a judge) depends on part
of a config but not on what a sweep searches. ``cached_stage`` keys its output folder by a hash
of exactly that part, so a sweep builds each stage once and a changed setting builds a new one
instead of silently reusing a stale result.

Concurrency: several Ray trials (processes) may ask for the same stage at once. A file lock
next to the folder makes one of them build while the others wait; the build goes to a
temporary folder renamed into place, so a folder that exists is always complete.

A scheme declares each of its stages once as a ``Stage``: its name, its version, what its key
depends on, how to build it and how to load it. ``prepare`` calls ``Stage.ensure`` and hands
the folders to ``train``, which calls ``Stage.load``; nobody else recomputes a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from trainables.cache import cache_root

__all__ = ["Stage", "cached_stage", "stage_dir", "stage_hash"]


def stage_hash(key: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able key (dict order does not matter)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def stage_dir(name: str, key: dict[str, Any]) -> Path:
    """Where the stage ``name`` with ``key`` lives (built or not)."""
    return cache_root() / "stages" / f"{name}-{stage_hash(key)}"


def cached_stage(name: str, key: dict[str, Any], build: Callable[[Path], None],
                 progress: Callable[[str], None] | None = None) -> Path:
    """Return the folder of stage ``name`` for ``key``, calling ``build(folder)`` only if missing.

    ``build`` writes its outputs into the (empty, temporary) folder it is given. If it raises,
    nothing is left behind and the next call tries again. ``key.json`` in the folder records
    the key, so a cache folder says what it was built from.
    """
    folder = stage_dir(name, key)
    if folder.is_dir():  # renamed into place only when complete: no lock needed to read it
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if folder.is_dir():  # another process built it while we waited for the lock
            return folder
        for stale in folder.parent.glob(f".{folder.name}-*"):  # left by a killed builder
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
        try:
            start = time.perf_counter()
            if progress:
                progress(f"building stage {folder.name}")
            build(tmp)
            (tmp / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
            os.rename(tmp, folder)
            if progress:
                progress(f"stage {folder.name} built in {time.perf_counter() - start:.0f} s")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class Stage:
    """One upstream stage, declared once.

    - ``key(config, *args) -> dict``: everything the output depends on, and nothing a sweep
      searches; ``version`` is added to it (bump it when the build code changes its output).
    - ``build(out, config, *args, device=, progress=)``: write the outputs into ``out``.
    - ``load(folder, config, *args, device=)``: what a trial uses (a network, metrics, arrays).
    - ``tag(*args) -> str | None``: the folder-name suffix of one instance (e.g. a split, a
      classifier); None when these arguments share the stage's plain folder name.
    - ``check(config, *args)``: called before a build, to fail on a missing input the build reads
      (a dataset root, a weights file) with one ``UserInputError`` line, before any "building".

    ``args`` are the stage's own parameters (a split, a classifier name, a set of distortions).
    """

    name: str
    version: int
    key: Callable[..., dict]
    build: Callable[..., None]
    load: Callable[..., Any]
    tag: Callable[..., str] | None = None
    check: Callable[..., None] | None = None

    def full_key(self, config, *args) -> dict:
        return {"stage": self.name, "version": self.version, **self.key(config, *args)}

    def folder_name(self, *args) -> str:
        tag = self.tag(*args) if self.tag else None  # None: one instance for every argument
        return f"{self.name}-{tag}" if tag else self.name

    def folder(self, config, *args) -> Path:
        """Where it lives, built or not (no build)."""
        return stage_dir(self.folder_name(*args), self.full_key(config, *args))

    def ensure(self, config, *args, device, progress: Callable[[str], None] | None = None) -> Path:
        """Build it if missing; return its folder."""
        if self.check and not self.folder(config, *args).is_dir():
            self.check(config, *args)
        return cached_stage(self.folder_name(*args), self.full_key(config, *args),
                            lambda out: self.build(out, config, *args, device=device, progress=progress), progress)

    def get(self, config, *args, device, progress: Callable[[str], None] | None = None) -> Any:
        """``load`` of ``ensure``: for a stage's build that needs an upstream stage's result."""
        return self.load(self.ensure(config, *args, device=device, progress=progress), config, *args, device=device)

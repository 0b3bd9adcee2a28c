"""Independent items on every core at once, with threads.

Work that loops over independent items (queries to label, RANSAC checks to run) spends
its time in OpenCV, torch and scikit-image, which release the GIL, so threads keep every core
busy without a process pool (which would re-import the user's ``__main__`` and copy the
datasets). Each thread runs torch on one thread of its own: ``workers`` threads in all, not
``workers`` × torch's pool.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

import os

import torch

T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """The CPUs this process may run on (torch's default counts physical cores only, which on
    a machine of hyperthreads leaves half of them idle)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def thread_map(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads (default: torch's thread count, i.e. the cores
    this process was given), results in input order as they complete."""
    workers = workers or torch.get_num_threads()
    if workers <= 1:
        yield from map(fn, items)
        return
    with torch_threads(1), ThreadPoolExecutor(workers) as pool:
        yield from pool.map(fn, items)

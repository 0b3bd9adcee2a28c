"""Progress lines on stderr (no Ray import here: the data commands use it too)."""

from __future__ import annotations

import sys
import time

_T0 = time.monotonic()


def progress(message: str) -> None:
    """Progress goes to stderr so machine-readable output on stdout stays clean."""
    print(f"[tasksweep {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)

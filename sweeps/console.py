"""Progress lines on stderr (no Ray import here: the data commands use it too)."""

from __future__ import annotations

import sys
import time

_T0 = time.monotonic()


def progress(message: str) -> None:
    """Progress goes to stderr so machine-readable output on stdout stays clean."""
    print(f"[tasksweep {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def sigterm_as_ctrl_c() -> None:
    """SIGTERM (a job scheduler, ``timeout``, ``kill``) stops a command the way Ctrl-C does: a
    sweep's trials end cleanly, its runs are closed and the resume command is printed.
    ``ray.init`` installs its own handler (an immediate exit), so a sweep calls this again after it."""
    import os
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))

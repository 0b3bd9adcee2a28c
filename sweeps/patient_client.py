"""An MlflowClient that waits out a tracking server that went away (a restart, a network blip).

Every call the driver makes during a sweep goes through it. A call that cannot reach the server
is retried every ``RETRY_S``, with one console line when the outage starts and one when it ends,
for at most ``wait_s`` (then the error propagates and the sweep stops, resumable). While it
waits, the driver's loop is blocked, so each trial blocks at its next report: the backlog is one
result per trial, memory stays bounded, and nothing is dropped. Errors the server does answer
(a bad parameter, a missing run) propagate at once.
"""

from __future__ import annotations

import os
import time

from mlflow_server._server import redact
from sweeps.console import progress

RETRY_S = 5.0
WAIT_S = float(os.environ.get("TASKSWEEP_MLFLOW_WAIT_S", 3600))
# MLflow's own retries (7, exponential backoff) would hold each call silently for minutes.
_MLFLOW_RETRIES = "1"
_UNREACHABLE = ("Max retries exceeded", "Connection refused", "Connection reset", "RemoteDisconnected",
                "failed with timeout exception", "failed with error code 502", "failed with error code 503",
                "failed with error code 504")


def unreachable(error: BaseException) -> bool:
    """The server did not answer (down, restarting, overloaded), as opposed to answering no."""
    import requests

    seen = error
    while seen is not None:
        if isinstance(seen, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)):
            return True
        if any(s in str(seen) for s in _UNREACHABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PatientClient:
    def __init__(self, client, wait_s: float = WAIT_S):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", _MLFLOW_RETRIES)
        self._client, self._wait_s = client, wait_s

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            down_since = None
            while True:
                try:
                    result = attr(*args, **kwargs)
                except Exception as e:
                    if not unreachable(e):
                        raise
                    now = time.monotonic()
                    if down_since is None:
                        down_since = now
                        progress(f"MLflow at {redact(self._client.tracking_uri)} is not answering; waiting for it "
                                 f"(retrying every {RETRY_S:g} s, at most {self._wait_s:g} s; trials pause at their next report)")
                    elif now - down_since > self._wait_s:
                        raise
                    time.sleep(RETRY_S)
                    continue
                if down_since is not None:
                    progress(f"MLflow answers again after {time.monotonic() - down_since:.0f} s; the sweep goes on")
                return result

        return call

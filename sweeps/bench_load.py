"""``tasksweep bench load``: many small trials at once against a tracking store, checked after.

A smoke sweep of ``trials`` trials, ``concurrent`` at a time with a quarter CPU each, runs as
the console script would run it (a child process, so its peak memory is its own), against the
default SQLite store and against a real ``tasksweep server`` (its own SQLite store behind it).
Afterwards every trial must have a FINISHED run, its metrics for every epoch and its checkpoint
artifacts; the driver's output must hold no "database is locked". Reported per store: wall
time, the driver's peak resident memory (``VmHWM``) and what was found in MLflow.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweeps.bench import DEFAULT_SWEEP
from sweeps.console import progress

NAME = "bench-load"


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _run_sweep(cwd: Path, uri: str, trials: int, concurrent: int, cpu: float, epochs: int) -> dict:
    cmd = [sys.executable, "-m", "sweeps.cli", "launch", str(DEFAULT_SWEEP), "--smoke", "--tracking-uri", uri,
           "--set", f"num_samples={trials}", "--set", f"max_concurrent={concurrent}", "--set", "scheduler=fifo",
           "--set", f"resources_per_trial.cpu={cpu}", "--set", f"fixed.epochs={epochs}", "--set", f"name={NAME}"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, lines = 0.0, []
    for line in proc.stderr:  # the driver's VmHWM only grows: its last reading is the peak
        lines.append(line)
        if "] trial " in line and " done" in line:
            progress(f"  {line.split('] ', 1)[1].strip()}")
        peak = max(peak, _peak_rss_mb(proc.pid) or 0.0)
    proc.wait()
    wall = time.perf_counter() - start
    text = "".join(lines)
    if proc.returncode != 0:
        raise RuntimeError(f"the load sweep failed (exit {proc.returncode}):\n{text[-3000:]}")
    return {"wall_s": round(wall, 1), "driver_peak_rss_mb": round(peak, 1),
            "database_locked_lines": sum("database is locked" in line for line in lines)}


def _check_mlflow(uri: str, trials: int, epochs: int) -> dict:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(NAME)
    runs = [r for r in client.search_runs([exp.experiment_id], max_results=10_000)
            if r.data.tags.get("tasksweep.role") == "trial"]
    complete = 0
    for run in runs:
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_map"))
        checkpoints = client.list_artifacts(run.info.run_id, "checkpoints")
        complete += run.info.status == "FINISHED" and steps == list(range(1, epochs + 1)) and len(checkpoints) > 0
    return {"trial_runs": len(runs), "complete_runs": complete, "all_complete": len(runs) == trials == complete}


def load(trials: int = 200, concurrent: int = 8, cpu: float = 0.25, epochs: int = 2,
         backends: tuple[str, ...] = ("sqlite", "server")) -> dict:
    from mlflow_server import start, stop

    results = {"trials": trials, "concurrent": concurrent, "cpu_per_trial": cpu, "epochs": epochs, "stores": {}}
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)
            progress(f"{backend}: {trials} trials, {concurrent} at a time, {cpu:g} CPU each")
            if backend == "server":
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                uri = start(port=port, backend_store_uri=f"sqlite:///{cwd / 'server.db'}",
                            artifacts_destination=str(cwd / "mlartifacts"), workdir=cwd).url
            else:
                uri = f"sqlite:///{cwd / 'mlflow.db'}"
            try:
                found = {**_run_sweep(cwd, uri, trials, concurrent, cpu, epochs), **_check_mlflow(uri, trials, epochs)}
            finally:
                if backend == "server":
                    stop(workdir=cwd)
            results["stores"][backend] = found
            progress(f"{backend}: {found}")
    return results

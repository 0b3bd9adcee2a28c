"""Benchmarks that time whole sweeps, each run as the console script runs it (a child process,
so its peak memory is its own) and checked in MLflow afterwards.

- ``load``: many small trials at once (default 200, 8 at a time, a quarter CPU each) against
  the default SQLite store and against a real ``tasksweep server`` (its own SQLite store
  behind it). Every trial must have a FINISHED run, its metrics for every epoch and its
  checkpoint artifacts; the driver's output must hold no "database is locked". Per store: wall
  time, the driver's peak resident memory (``VmHWM``), what was found in MLflow.
- ``concurrency``: the same trials two at a time with 1 CPU each, then one at a time with 2
  CPUs each (torch threads follow the CPUs), side by side; the ratio of wall times, and the
  mean trial duration of each (MLflow's run start and end) to show what limits it.
- ``cache``: the same sweep from an empty stage cache (``TASKSWEEP_CACHE``: embedded data and
  cached stages built in the driver) and again with that cache; the ratio of wall times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sweeps.bench import DEFAULT_SWEEP, free_loopback_port
from sweeps.console import progress
from sweeps.report import child_runs, latest_sweep_run

NAME = "bench-load"


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _run_sweep(cwd: Path, uri: str, sets: list[str], env: dict | None = None) -> dict:
    """``tasksweep launch`` of the smoke qair sweep with ``sets`` (FIFO), timed; its driver's peak RSS."""
    cmd = [sys.executable, "-m", "sweeps.cli", "launch", str(DEFAULT_SWEEP), "--smoke", "--tracking-uri", uri,
           "--set", "scheduler=fifo", *[a for kv in sets for a in ("--set", kv)]]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
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
        raise RuntimeError(f"the benchmark's sweep failed (exit {proc.returncode}):\n{text[-3000:]}")
    return {"wall_s": round(wall, 1), "driver_peak_rss_mb": round(peak, 1),
            "database_locked_lines": sum("database is locked" in line for line in lines)}


def _trial_runs(uri: str, name: str) -> tuple:
    """(client, the trial runs of sweep ``name``'s latest launch in the store at ``uri``)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    return client, child_runs(client, latest_sweep_run(client, name).info.run_id)


def _check_mlflow(uri: str, trials: int, epochs: int) -> dict:
    client, runs = _trial_runs(uri, NAME)
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
                uri = start(port=free_loopback_port(), backend_store_uri=f"sqlite:///{cwd / 'server.db'}",
                            artifacts_destination=str(cwd / "mlartifacts"), workdir=cwd).url
            else:
                uri = f"sqlite:///{cwd / 'mlflow.db'}"
            try:
                sets = [f"num_samples={trials}", f"max_concurrent={concurrent}", f"resources_per_trial.cpu={cpu}",
                        f"fixed.epochs={epochs}", f"name={NAME}"]
                found = {**_run_sweep(cwd, uri, sets), **_check_mlflow(uri, trials, epochs)}
            finally:
                if backend == "server":
                    stop(workdir=cwd)
            results["stores"][backend] = found
            progress(f"{backend}: {found}")
    return results


def _trial_seconds(uri: str, name: str) -> list[float]:
    return [(r.info.end_time - r.info.start_time) / 1000 for r in _trial_runs(uri, name)[1]]


def concurrency(trials: int = 4, epochs: int = 2, steps_per_epoch: int = 1000) -> dict:
    """Two at a time on 1 CPU each ÷ one at a time on 2 CPUs each: < 1 means concurrency pays."""
    modes = {"2_at_once_1_cpu": ["max_concurrent=2", "resources_per_trial.cpu=1"],
             "1_at_once_2_cpu": ["max_concurrent=1", "resources_per_trial.cpu=2"]}
    out = {"trials": trials, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "modes": {}}
    for mode, sets in modes.items():
        with tempfile.TemporaryDirectory() as tmp:
            progress(f"{mode}: {trials} trials")
            uri = f"sqlite:///{tmp}/mlflow.db"
            run = _run_sweep(Path(tmp), uri, [*sets, f"num_samples={trials}", f"fixed.epochs={epochs}",
                                              f"fixed.steps_per_epoch={steps_per_epoch}", f"name={mode}"])
            seconds = _trial_seconds(uri, mode)
            out["modes"][mode] = {"wall_s": run["wall_s"], "mean_trial_s": round(sum(seconds) / len(seconds), 2)}
    a, b = out["modes"]["2_at_once_1_cpu"], out["modes"]["1_at_once_2_cpu"]
    out["ratio"] = round(a["wall_s"] / b["wall_s"], 3)
    # A trial on 2 threads runs this much faster than on 1; below 2, two 1-thread trials side by side win.
    out["thread_speedup"] = round(a["mean_trial_s"] / b["mean_trial_s"], 2)
    return out


def cache(trials: int = 2) -> dict:
    """The same smoke sweep from an empty cache, then with the cache it built: cold ÷ warm."""
    out = {"trials": trials}
    with tempfile.TemporaryDirectory() as cache_dir:
        for run in ("cold", "warm"):
            with tempfile.TemporaryDirectory() as tmp:
                progress(f"{run} cache: {trials} trials")
                found = _run_sweep(Path(tmp), f"sqlite:///{tmp}/mlflow.db", [f"num_samples={trials}", f"name=cache-{run}"],
                                   env={"TASKSWEEP_CACHE": cache_dir})
                out[f"{run}_wall_s"] = found["wall_s"]
    out["ratio"] = round(out["cold_wall_s"] / out["warm_wall_s"], 2)
    return out

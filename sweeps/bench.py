"""``tasksweep bench overhead``: what Ray + Optuna + MLflow cost on top of the training itself.

The same trials run twice, side by side in one process: once as a sweep (Ray Tune trials,
Optuna sampling, MLflow runs, checkpoints) and once as a plain Python loop calling the
scheme's ``train`` with the configs the sweep sampled, no Ray, no MLflow, no checkpoints.
Upstream stages are built before either timing starts, so neither pays for them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from sweeps.console import progress
from sweeps.launch import launch
from sweeps.report import child_runs
from sweeps.spec import load_sweep
from trainables.contract import EPOCHS_FIELD
from trainables.device import compute_device
from trainables.registry import get_scheme

DEFAULT_SWEEP = Path(__file__).with_name("qair_denoise.yaml")


def overhead(sweep_file: str | Path = DEFAULT_SWEEP, trials: int = 4, smoke: bool = True, assignments: list[str] = ()) -> dict:
    # One trial at a time holding the same CPUs as the loop: the ratio measures overhead, not parallelism.
    spec = load_sweep(sweep_file, smoke=smoke, assignments=[*assignments, f"num_samples={trials}", "max_concurrent=1",
                                                            "scheduler=fifo", "name=bench-overhead"])
    spec.objectives = spec.objectives[:1]
    scheme = get_scheme(spec.scheme)
    device = compute_device()
    scheme.prepare(scheme.Config.from_dict({**spec.fixed, **spec.search_space.example()}), device, progress)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        start = time.perf_counter()
        outcome = launch(spec, uri, storage_path=f"{tmp}/ray")
        sweep_s = time.perf_counter() - start
        from mlflow import MlflowClient

        runs = child_runs(MlflowClient(uri), outcome.parent_run_id)
        configs = [{k: _value(run.data.params[k]) for k in spec.search_space.params} for run in runs]
    progress(f"plain loop: the same {len(configs)} configs without Ray or MLflow")
    torch.set_num_threads(max(1, int(spec.cpu_per_trial)))  # what each sweep trial had
    start = time.perf_counter()
    for searched in configs:
        config = scheme.Config.from_dict({**spec.fixed, **searched})
        stages = scheme.prepare(config, device, None)  # a cache hit, as in each sweep trial
        scheme.train(config, stages, device, None, lambda metrics, state: None)
    loop_s = time.perf_counter() - start
    return {"sweep_file": str(sweep_file), "smoke": smoke, "set": list(assignments), "cpu_per_trial": spec.cpu_per_trial,
            "trials": len(configs), "epochs": spec.fixed.get(EPOCHS_FIELD),
            "sweep_wall_s": round(sweep_s, 3), "loop_wall_s": round(loop_s, 3), "ratio": round(sweep_s / loop_s, 3),
            "overhead_per_trial_s": round((sweep_s - loop_s) / max(1, len(configs)), 2)}


def _value(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def ui_latency(tracking_uri: str, model: str, version: str = "champion", size: int = 512, requests: int = 5) -> dict:
    """``tasksweep bench ui``: seconds per page answer for a ``size``² photo, through the real app.

    The app (``sweeps.ui_app``) runs in uvicorn on a loopback port in this process; each request is
    a real HTTP POST of a PNG with the model's default degradation applied on the server, so a
    timing holds decoding, degradation, the model, the baseline, the scores and PNG encoding.
    The model is loaded first (``/api/defaults``: MLflow's download and load), timed apart as
    ``load_s``; every timed request then finds it in the cache.
    """
    import json
    import socket
    import threading
    import urllib.parse
    import urllib.request

    import cv2
    import skimage.data
    import uvicorn

    from sweeps.ui_app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(tracking_uri), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            time.sleep(0.05)
        query = urllib.parse.urlencode({"model": model, "version": version})
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/defaults?{query}", timeout=300) as r:  # loads the model
            defaults = json.loads(r.read())
        load_s = time.perf_counter() - started
        d = defaults["degradation"]
        photo = cv2.resize(skimage.data.chelsea(), (size, size))[..., ::-1]
        png = cv2.imencode(".png", photo)[1].tobytes()
        query = urllib.parse.urlencode({"model": model, "version": version, "scale": d["scale"], "noise": d["noise"],
                                        "blur": d["blur"]})
        seconds = []
        for _ in range(requests):
            started = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(f"{base}/api/try?{query}", data=png), timeout=300) as r:
                r.read()
            seconds.append(time.perf_counter() - started)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"model": model, "version": defaults["version"], "scheme": defaults["scheme"], "size": size,
            "degradation": d, "threads": torch.get_num_threads(), "requests": requests, "load_s": round(load_s, 2),
            "seconds": [round(s, 3) for s in seconds], "median_s": round(sorted(seconds)[len(seconds) // 2], 3)}

"""``tasksweep bench overhead``: what Ray + Optuna + MLflow cost on top of the training itself.

The same trials run three times, side by side in one process: as a sweep (Ray Tune trials,
Optuna sampling, MLflow runs, checkpoints), through the stock recipe a user would otherwise
write (Ray Tune's ``Tuner`` + ``OptunaSearch`` + ``MLflowLoggerCallback``, no tasksweep), and as a
plain Python loop calling the scheme's ``train`` with the configs the sweep sampled, no Ray, no
MLflow, no checkpoints. Upstream stages are built before any timing starts. The sweep's extra
seconds are broken down by phase (``breakdown``).
"""

from __future__ import annotations

import os
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
        progress(f"stock recipe: the same {len(configs)} configs through Tuner + OptunaSearch + MLflowLoggerCallback")
        start = time.perf_counter()
        stock_recipe(spec, configs, Path(tmp) / "stock")
        stock_s = time.perf_counter() - start
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
            "stock_wall_s": round(stock_s, 3), "stock_ratio": round(stock_s / loop_s, 3),
            "overhead_per_trial_s": round((sweep_s - loop_s) / max(1, len(configs)), 2),
            "breakdown_s": breakdown(outcome.seconds, sweep_s, loop_s)}


def stock_recipe(spec, configs: list[dict], folder: Path) -> None:
    """The recipe a user would write without tasksweep: Ray Tune's ``Tuner`` with ``OptunaSearch``
    (given the same configs to evaluate) and ``MLflowLoggerCallback``, a function trainable that
    reports each epoch with a checkpoint. Same CPUs, one trial at a time, same MLflow store kind."""
    import ray
    from ray import tune
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    from ray.tune.search.optuna import OptunaSearch

    from sweeps.checkpoint import write_checkpoint
    from sweeps.launch import init_ray

    scheme, fixed = get_scheme(spec.scheme), spec.fixed
    metric, mode = spec.objectives[0].metric, spec.objectives[0].mode

    def trainable(searched: dict) -> None:
        torch.set_num_threads(max(1, int(spec.cpu_per_trial)))
        config = scheme.Config.from_dict({**fixed, **searched})
        device = compute_device()
        stages = scheme.prepare(config, device, None)

        def report(metrics: dict, state: dict | None) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                write_checkpoint(tmp, scheme, config, state)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))

        scheme.train(config, stages, device, None, report)

    folder.mkdir(parents=True, exist_ok=True)
    init_ray(None)  # loopback only, as every Ray this project starts
    # Ray's defaults, as a user's script would run: tasksweep's launch changed two of them.
    saved = {k: os.environ.pop(k, None) for k in ("TUNE_GLOBAL_CHECKPOINT_S", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")}
    try:
        tune.Tuner(
            tune.with_resources(trainable, {"cpu": spec.cpu_per_trial}),
            tune_config=tune.TuneConfig(search_alg=OptunaSearch(points_to_evaluate=configs, space=spec.search_space.to_optuna(),
                                                                metric=metric, mode=mode, seed=spec.seed),
                                        num_samples=len(configs), max_concurrent_trials=1),
            run_config=tune.RunConfig(storage_path=str(folder), name="stock", verbose=0,
                                      callbacks=[MLflowLoggerCallback(tracking_uri=f"sqlite:///{folder}/mlflow.db",
                                                                      experiment_name="stock", save_artifact=True)]),
        ).fit()
    finally:
        ray.shutdown()
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def breakdown(seconds: dict[str, float], sweep_s: float, loop_s: float) -> dict[str, float]:
    """Where the sweep's extra seconds went. ``in_trials``: the trials' own time (Ray's
    time_total_s: stage loading, training, checkpoint writes, reports) minus the loop's time for
    the same trainings; negative when they ran faster in Ray's workers than in the loop (the
    comparison's noise);
    ``between_trials``: the fit's time outside any trial (actor starts, scheduling, the
    driver's callbacks: MLflow logging, Ray's state snapshots); the rest is before and after."""
    parts = {"ray_start": seconds.get("ray_start", 0.0), "mlflow_setup": seconds.get("mlflow_setup", 0.0),
             "stages_in_driver": seconds.get("stages", 0.0),
             "in_trials": seconds.get("trials", 0.0) - loop_s,
             "between_trials": seconds.get("fit", 0.0) - seconds.get("trials", 0.0),
             "finalize": seconds.get("finalize", 0.0)}
    parts["unaccounted"] = sweep_s - loop_s - sum(parts.values())
    return {k: round(v, 2) for k, v in parts.items()}


def free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    import threading
    import urllib.parse
    import urllib.request

    import cv2
    import skimage.data
    import uvicorn

    from sweeps.ui_app import create_app

    port = free_loopback_port()
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

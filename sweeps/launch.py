"""Run a sweep: Optuna (TPE, seeded) proposes configs, Ray Tune runs them, MLflow records them.

``launch`` and ``resume`` are the only places that start Ray. Everything the user can get
wrong has been checked by ``sweeps.spec`` before they are called.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from mlflow_server._server import redact
from sweeps.console import progress, sigterm_as_ctrl_c
from sweeps.patient_client import PatientClient
from sweeps.mlflow_layout import (OBJECTIVES, OPTUNA, PROMOTE, ROLE, SCHEME, SEARCHED, SPACE, SweepState, experiment_for,
                                  flatten, param)
from sweeps.spec import SweepSpec, resolve
from trainables.contract import EPOCHS_FIELD
from trainables.device import compute_device
from trainables.errors import UserInputError
from trainables.registry import get_scheme
from trainables.threads import available_cpus, torch_threads

# A sweep folder holds our state file and Ray's experiment in ``ray/``. They must be apart: Ray
# re-uploads its experiment folder when a restored run ends, which would overwrite our file.
STATE_NAME, RAY_DIR = "tasksweep.json", "ray"


@dataclass
class Outcome:
    sweep_dir: Path
    experiment: str
    parent_run_id: str
    interrupted: bool
    # Wall seconds per phase (stages, ray_start, mlflow_setup, fit, finalize) and the sum of the
    # trials' own time (Ray's time_total_s): what ``tasksweep bench overhead`` breaks down.
    seconds: dict[str, float] = field(default_factory=dict)


def init_ray(address: str | None) -> None:
    import ray
    from ray._private import ray_constants

    # Our ProgressPrinter is the console output; Ray's new output engine ignores verbose=0.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray saves the experiment state (which trials exist, their status, the searcher) every
    # 10 s or more by default; a driver killed with SIGKILL then resumes from a stale picture:
    # finished trials run again, new ones get new ids. Save it at every controller step instead,
    # and drop Ray's JSON/CSV/TensorBoard loggers (MLflow holds the results) so each save is cheap.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        return
    # A local Ray binds every interface unless its cluster mode is off. Ray reads the switch,
    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER, once, when it is imported (here already done, by
    # ray.tune), so set the flag it was read into too; the processes Ray starts see the variable.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    # address="local": always a fresh instance; a bare ray.init() joins any cluster already
    # running on this machine (found in /tmp/ray), possibly on a non-loopback address.
    # No idle worker prestarted for this driver: trials run in actors, which get workers of their
    # own, and starting one took 1.5 s of the 2 cores' time during every launch.
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             _system_config={"prestart_worker_first_driver": False})
    node_ip = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node_ip).is_loopback:  # a Ray release that reads the switch elsewhere
        ray.shutdown()
        raise RuntimeError(f"the local Ray came up on {node_ip}, not on loopback; refusing to run on it")


def check_resources(spec: SweepSpec, can_grow: bool) -> None:
    """Can some node ever hold one trial? A local Ray cannot grow: no is one line and exit 2.
    A cluster may gain nodes (an autoscaler, a worker joining): say what the sweep waits for."""
    import ray

    need = {"CPU": spec.cpu_per_trial, "GPU": spec.gpu_per_trial}
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(all(node.get(k, 0.0) >= v for k, v in need.items() if v > 0) for node in nodes):
        return
    ask = f"{need['CPU']:g} CPU and {need['GPU']:g} GPU"
    have = "; ".join(f"{n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for n in nodes) or "none"
    if not can_grow:
        raise UserInputError(f"no node can hold a trial: each asks for {ask} (resources_per_trial), "
                             f"and this machine's Ray has {have}")
    progress(f"waiting for a node with {ask} (resources_per_trial): the cluster's nodes have {have}; "
             "trials start when one joins (Ctrl-C to stop)")


def start_ray(spec: SweepSpec, address: str | None) -> None:
    """Ray up and able to hold a trial, before anything is written to MLflow."""
    import ray

    progress("starting Ray" + (f" (joining {address})" if address else " (local, loopback only)"))
    init_ray(address)
    sigterm_as_ctrl_c()
    try:
        check_resources(spec, can_grow=address is not None)
    except BaseException:
        ray.shutdown()
        raise


def check_tracking(uri: str) -> None:
    """A tracking server that does not answer at launch is a wrong URI or a server not started:
    one line, exit 2. (Once the sweep runs, an outage is waited out: ``sweeps.patient_client``.)"""
    from mlflow_server._server import health

    if uri.startswith(("http://", "https://")) and not health(uri.rstrip("/")):
        raise UserInputError(f"MLflow at {redact(uri)} does not answer (start it with `tasksweep server start`, "
                             "or check --tracking-uri)")


def optuna_storage(url: str):
    """Optuna's RDB storage at ``url`` (tables created if new); a bad URL is one line, exit 2."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as e:  # a wrong scheme, a missing driver, a server that does not answer
        raise UserInputError(f"Optuna storage {url!r} cannot be opened: {str(e).splitlines()[0]}") from None


def _searcher(spec: SweepSpec, storage, study_name: str):
    """Seeded TPE over the search space (several objectives → multi-objective TPE), or a seeded
    grid; the study is kept in ``storage`` (Optuna's RDB storage), so optuna-dashboard opens it."""
    import optuna

    from sweeps.search import PruneAwareOptunaSearch

    metrics = [o.metric for o in spec.objectives]
    modes = [o.mode for o in spec.objectives]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return PruneAwareOptunaSearch(
        space=spec.search_space.to_optuna(),
        metric=metrics if spec.multi_objective else metrics[0],
        mode=modes if spec.multi_objective else modes[0],
        # GridSampler hands concurrent asks distinct points: it skips those of RUNNING trials.
        sampler=(optuna.samplers.GridSampler(spec.search_space.to_grid(), seed=spec.seed) if spec.sampler == "grid"
                 else optuna.samplers.TPESampler(seed=spec.seed)),
        seed=spec.seed,
        storage=storage,
        study_name=study_name,
    )


def _max_epochs(spec: SweepSpec) -> int:
    searched = spec.search_space.params.get(EPOCHS_FIELD)
    if searched:
        return int(searched["high"])
    scheme = get_scheme(spec.scheme)
    return getattr(scheme.Config.from_dict({**spec.fixed, **spec.search_space.example()}), EPOCHS_FIELD)


def _trainable(spec: SweepSpec, ended: dict[str, dict] | None = None, resume_from: dict[str, str] | None = None):
    """``ended``, ``resume_from``: what ``sweeps.recovery`` settled for a resumed sweep."""
    from ray import tune

    from sweeps.trainable import make_trainable

    return tune.with_resources(make_trainable(spec.scheme, spec.fixed, spec.cpu_per_trial, ended or {}, resume_from or {}),
                               {"cpu": spec.cpu_per_trial, "gpu": spec.gpu_per_trial})


def _tuner(spec: SweepSpec, sweep_dir: Path, storage, study_name: str):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from sweeps.progress_callback import ProgressPrinter
    from sweeps.tracking import MlflowTracker

    first = spec.objectives[0]
    if spec.scheduler == "asha":
        scheduler = ASHAScheduler(max_t=_max_epochs(spec), grace_period=1, reduction_factor=2)  # metric/mode: from TuneConfig
    else:
        scheduler = FIFOScheduler()
    single = {} if spec.multi_objective else {"metric": first.metric, "mode": first.mode}
    return tune.Tuner(
        _trainable(spec),
        tune_config=tune.TuneConfig(search_alg=_searcher(spec, storage, study_name), scheduler=scheduler, num_samples=spec.num_samples,
                                    max_concurrent_trials=spec.max_concurrent, reuse_actors=True,
                                    time_budget_s=spec.time_budget_s, **single),
        run_config=tune.RunConfig(
            name=RAY_DIR,
            storage_path=str(sweep_dir),
            verbose=0,
            callbacks=[MlflowTracker(str(sweep_dir / STATE_NAME), first.metric, first.mode, spec.keep_checkpoints),
                       ProgressPrinter([o.metric for o in spec.objectives], spec.num_samples)],
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.keep_checkpoints,
                                                    checkpoint_score_attribute=first.metric,
                                                    checkpoint_score_order=first.mode),
        ),
    )


def _incomplete(results, num_samples: int) -> bool:
    return results.num_terminated + results.num_errors < num_samples


def launch(spec: SweepSpec, tracking_uri: str, address: str | None = None, storage_path: str | None = None,
           base_dir: Path = Path("."), optuna_url: str | None = None) -> Outcome:
    """``optuna_url``: where the Optuna study lives (default ``optuna.db`` in the sweep folder)."""
    from mlflow import MlflowClient

    scheme = get_scheme(spec.scheme)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    # One Ray folder per launch; launches of the same sweep share one MLflow experiment.
    sweep_dir = Path(storage_path or "ray_results").resolve() / f"{spec.name}-{stamp}"
    if (sweep_dir / STATE_NAME).exists():
        raise UserInputError(f"{sweep_dir} already holds a sweep: resume it with `tasksweep resume {sweep_dir}`")
    check_tracking(tracking_uri)
    storage = optuna_storage(optuna_url) if optuna_url else None  # a bad URL fails before any work
    # Stages first: a missing dataset root or a wrong layout fails here, before MLflow is touched.
    # Built once here; each trial's own prepare() then finds them in the cache.
    config = scheme.Config.from_dict({**spec.fixed, **spec.search_space.example()})
    clock = time.perf_counter()
    with torch_threads(available_cpus()):  # Ray is not up yet: the stages have the machine to themselves
        stages = scheme.prepare(config, compute_device(), progress)
    seconds = {"stages": time.perf_counter() - clock}
    clock = time.perf_counter()
    # The tracking store's first answer (a new SQLite store creates its tables: ~2 s) comes while
    # Ray starts; no run is written until Ray is up and can hold a trial.
    store_ready = in_background(lambda: MlflowClient(tracking_uri).search_experiments(max_results=1))
    start_ray(spec, address)
    seconds["ray_start"] = time.perf_counter() - clock
    clock = time.perf_counter()
    store_ready.join()
    client = MlflowClient(tracking_uri)
    experiment_id = experiment_for(client, spec.name)
    # What report/promote need later, readable from MLflow alone.
    tags = {ROLE: "sweep", SCHEME: spec.scheme, SEARCHED: json.dumps(list(spec.search_space.params)),
            SPACE: json.dumps(spec.search_space.params),
            OBJECTIVES: json.dumps([vars(o) for o in spec.objectives]), PROMOTE: json.dumps(spec.promote)}
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if storage is None:
        optuna_url = f"sqlite:///{sweep_dir / 'optuna.db'}"
        storage = optuna_storage(optuna_url)
    study = {"storage": redact(optuna_url), "study_name": f"{spec.name}-{stamp}"}
    tags[OPTUNA] = json.dumps(study)
    parent = client.create_run(experiment_id, run_name=f"sweep-{stamp}", tags=tags)
    parent_id = parent.info.run_id
    raw = {k: v for k, v in spec.raw.items() if k != "smoke"}
    params = {**flatten(raw), **{f"stage.{k}": v for k, v in stages.items()}}
    client.log_batch(parent_id, params=[param(k, v) for k, v in params.items()])
    state = SweepState(sweep_dir / STATE_NAME)
    state.update(optuna=study, optuna_url=optuna_url, raw=spec.raw, base_dir=str(base_dir.resolve()), tracking_uri=tracking_uri, address=address,
                 experiment_id=experiment_id, parent_run_id=parent_id, scheme=spec.scheme,
                 fixed=spec.fixed, trial_runs={}, checkpoints={})
    seconds["mlflow_setup"] = time.perf_counter() - clock
    progress(f"sweep '{spec.name}': {spec.num_samples} trials of {spec.scheme}, MLflow {tracking_uri}, run {parent_id}")
    outcome = _run(spec, sweep_dir, PatientClient(client), parent_id,
                   tuner=lambda: _tuner(spec, sweep_dir, storage, study["study_name"]))
    outcome.seconds = {**seconds, **outcome.seconds}
    return outcome


def resume(sweep_dir: str | Path) -> Outcome:
    from mlflow import MlflowClient
    from ray import tune

    from sweeps.recovery import reconcile

    sweep_dir = Path(sweep_dir).resolve()
    if not (sweep_dir / STATE_NAME).is_file():
        raise UserInputError(f"{sweep_dir} is not a tasksweep sweep folder (no {STATE_NAME})")
    saved = SweepState(sweep_dir / STATE_NAME).read()
    spec = resolve(saved["raw"], Path(saved["base_dir"]))
    if not tune.Tuner.can_restore(str(sweep_dir / RAY_DIR)):
        raise UserInputError(f"{sweep_dir} has no Ray experiment state to resume (the sweep stopped before its first trial): launch it again")
    check_tracking(saved["tracking_uri"])
    client = PatientClient(MlflowClient(saved["tracking_uri"]))
    # A driver killed without cleanup leaves its records a step ahead of Ray's snapshot: settle them first.
    ended, resume_from = reconcile(sweep_dir, sweep_dir / RAY_DIR, sweep_dir / STATE_NAME, client,
                                   [o.metric for o in spec.objectives], spec.objectives[0].mode, spec.keep_checkpoints)
    start_ray(spec, saved.get("address"))
    client.update_run(saved["parent_run_id"], status="RUNNING")
    progress(f"resuming sweep '{spec.name}' from {sweep_dir}")
    # Ray's restored searcher holds the study (and its storage), finished trials included.
    restore = lambda: tune.Tuner.restore(str(sweep_dir / RAY_DIR), trainable=_trainable(spec, ended, resume_from),  # noqa: E731
                                         resume_unfinished=True, resume_errored=True)
    return _run(spec, sweep_dir, client, saved["parent_run_id"], tuner=restore)


def _run(spec, sweep_dir, client, parent_id, tuner) -> Outcome:
    """Fit ``tuner()`` (a new or a restored Tuner) on the Ray that ``start_ray`` started; end the runs."""
    import ray

    from sweeps.report import finalize

    interrupted, seconds = False, {}
    clock = time.perf_counter()
    # The driver idles while trials run: it imports what the closing tables and figures need then.
    in_background(_import_for_finalize)
    try:
        results = tuner().fit()
        interrupted = _incomplete(results, spec.num_samples)
        seconds["trials"] = sum(r.metrics.get("time_total_s", 0.0) for r in results if r.metrics)
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        ray.shutdown()
        finalize(client, SweepState(sweep_dir / STATE_NAME).read(), status="FAILED")
        raise
    seconds["fit"] = time.perf_counter() - clock
    clock = time.perf_counter()
    stopping = in_background(ray.shutdown)  # about a second, and the tables below do not use Ray
    try:
        finalize(client, SweepState(sweep_dir / STATE_NAME).read(), status="KILLED" if interrupted else "FINISHED")
    finally:
        stopping.join()
    seconds["finalize"] = time.perf_counter() - clock
    if interrupted:
        progress(f"interrupted; state saved. Resume with: tasksweep resume {shlex.quote(str(sweep_dir))}")
    return Outcome(sweep_dir, spec.name, parent_id, interrupted, seconds)


def in_background(work) -> threading.Thread:
    """Run ``work()`` on a daemon thread; its errors are left to the calls that follow it."""
    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - e.g. a store that does not answer: the real call says so
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _import_for_finalize() -> None:
    from sweeps.report import _pyplot

    _pyplot()  # matplotlib with its display-free backend
    import optuna.visualization.matplotlib  # noqa: F401
    from optuna.importance import FanovaImportanceEvaluator  # noqa: F401

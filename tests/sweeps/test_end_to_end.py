"""The whole stack for real: Ray Tune + Optuna + MLflow (SQLite in a temp dir), smoke-sized.

Each test drives the real console script in a subprocess from a temp working directory, as a
user would, except the two-node test, which needs a Ray cluster in this process.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

SWEEP = Path(__file__).resolve().parents[2] / "sweeps" / "qair_denoise.yaml"
CLI = [sys.executable, "-m", "sweeps.cli"]
pytestmark = pytest.mark.slow


def tasksweep(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def runs_of(uri: str, experiment: str) -> tuple:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("tasksweep.role") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("tasksweep.role") == "trial"]
    return client, parents, trials


def launch_smoke(cwd: Path, sweep_file: Path, experiment: str, trials: int = 2) -> tuple:
    """``tasksweep launch FILE --smoke`` as a user runs it: (uri, client, parent run, trial runs),
    after checking one FINISHED parent and ``trials`` FINISHED trials, progress shown."""
    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    proc = tasksweep(cwd, "launch", str(sweep_file), "--smoke")
    assert f"trial {trials}/{trials}" in proc.stderr
    client, parents, runs = runs_of(uri, experiment)
    assert len(parents) == 1 and len(runs) == trials
    assert parents[0].info.status == "FINISHED" and all(t.info.status == "FINISHED" for t in runs)
    return uri, client, parents[0], runs


def champion_check(cwd: Path, uri: str, model: str) -> dict:
    """``python -m sweeps.champion_check models:/MODEL@champion`` in a fresh process: its JSON line."""
    check = subprocess.run([sys.executable, "-m", "sweeps.champion_check", f"models:/{model}@champion"], cwd=cwd,
                           capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": uri}, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    return json.loads(check.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("smoke")
    proc = tasksweep(cwd, "launch", str(SWEEP), "--smoke")
    return cwd, f"sqlite:///{cwd / 'mlflow.db'}", proc


def test_smoke_sweep_mlflow_layout(smoke_sweep):
    cwd, uri, proc = smoke_sweep
    assert "epoch 1/2" in proc.stderr and "trial 3/3" in proc.stderr  # progress is visible
    client, parents, trials = runs_of(uri, "qair_denoise_sigma50")
    assert len(parents) == 1 and len(trials) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert all(t.info.status == "FINISHED" for t in trials)  # none left RUNNING
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent.info.run_id}
    assert len({t.data.tags["tasksweep.trial_id"] for t in trials}) == 3
    assert any(k.startswith("stage.") for k in parent.data.params)  # which cached stages were used
    for t in trials:
        assert {"lam", "lr", "sigma", "epochs", "dncnn_depth"} <= set(t.data.params)
        steps = [m.step for m in client.get_metric_history(t.info.run_id, "val_map")]
        assert steps == list(range(1, len(steps) + 1)) and steps
        best = t.data.tags["tasksweep.best_checkpoint"]
        files = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(t.info.run_id, best)}
        assert {"model.pt", "config.json", "state.pt"} <= files
    saved = json.loads(Path(client.download_artifacts(t.info.run_id, f"{best}/config.json", str(cwd))).read_text())
    assert saved["scheme"] == "qair_denoise" and saved["model_io"] == {"kind": "images", "scales": [1]}
    tables = {a.path for a in client.list_artifacts(parent.info.run_id, "tables")}
    assert {"tables/trials.json", "tables/trials.md", "tables/qair_denoise.json", "tables/qair_denoise.md"} <= tables
    # Optuna's view: which hyperparameter mattered. fANOVA needs the trials to differ, which
    # smoke-sized trials may not (test_report_figures checks the importances on varied trials).
    figures = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"optuna_history.png", "optuna_parallel.png", "slice.png"} <= figures
    varied = len({round(t.data.metrics["val_map"], 9) for t in trials}) > 1
    assert ("tables/importances.json" in tables) == ("optuna_importances.png" in figures) == varied
    table_md = client.download_artifacts(parent.info.run_id, "tables/qair_denoise.md", str(cwd))
    assert "NN-QA" in Path(table_md).read_text() and "NLM" in Path(table_md).read_text()
    # The Optuna study persists beside the Ray folder and opens with optuna.load_study (as optuna-dashboard does).
    import optuna
    study = json.loads(parent.data.tags["tasksweep.optuna"])
    assert study["storage"].startswith(f"sqlite:///{cwd}/ray_results/") and study["storage"].endswith("/optuna.db")
    loaded = optuna.load_study(study_name=study["study_name"], storage=study["storage"])
    assert len(loaded.trials) == 3 and {t.state.name for t in loaded.trials} <= {"COMPLETE", "PRUNED"}
    assert sorted(t.params["lam"] for t in loaded.trials) == sorted(float(t.data.params["lam"]) for t in trials)


def test_report_writes_markdown_and_csv(smoke_sweep):
    cwd, uri, _ = smoke_sweep
    proc = tasksweep(cwd, "report", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri)
    assert "## qair_denoise" in proc.stdout
    assert (cwd / "reports" / "qair_denoise_sigma50" / "trials.csv").is_file()


def test_promote_alias_and_fresh_process_load(smoke_sweep):
    cwd, uri, _ = smoke_sweep
    first = tasksweep(cwd, "promote", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri)
    assert "becomes champion" in first.stdout
    again = tasksweep(cwd, "promote", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri)
    assert "already champion" in again.stdout
    client = MlflowClient(uri)
    champion = client.get_model_version_by_alias("qair_denoise", "champion")
    assert str(champion.version) == "1"
    assert json.loads(champion.tags["tasksweep.model_io"]) == {"kind": "images", "scales": [1]}
    result = champion_check(cwd, uri, "qair_denoise")
    assert result["io"] == {"kind": "images", "scales": [1]} and result["problems"] == []
    assert result["shape"] == [1, 256, 256, 3] and result["dtype"] == "uint8"  # uint8 in, uint8 out, any size
    assert result["psnr_denoised"] > result["psnr_noisy"]  # the smoke DnCNN still denoises


def test_promote_without_finished_trial_is_exit_2(smoke_sweep, tmp_path):
    _, uri, _ = smoke_sweep
    before = Path(uri[len("sqlite:///"):]).read_bytes()
    proc = tasksweep(tmp_path, "promote", "--experiment", "nothing-here", "--tracking-uri", uri, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "tasksweep: error: no sweep found in MLflow experiment 'nothing-here'"
    assert Path(uri[len("sqlite:///"):]).read_bytes() == before  # nothing recorded was touched
    missing = tasksweep(tmp_path, "promote", "--experiment", "x", "--tracking-uri", f"sqlite:///{tmp_path}/none.db", check=False)
    assert missing.returncode == 2 and "no MLflow database" in missing.stderr
    assert not (tmp_path / "none.db").exists()


def test_promote_where_picks_among_the_trials_that_satisfy_it(smoke_sweep, tmp_path):
    cwd, uri, _ = smoke_sweep
    _, _, trials = runs_of(uri, "qair_denoise_sigma50")
    worst = min(trials, key=lambda r: r.data.metrics["val_map"])
    # best by val_map among those at or below the lowest val_map: the constraint, not the objective, decides
    where = f"val_map<={worst.data.metrics['val_map']}"
    picked = tasksweep(cwd, "promote", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri,
                       "--model-name", "qair_where", "--where", where)
    metrics = {r.info.run_id: r.data.metrics for r in trials}
    assert metrics[re.search(r"from trial run (\w+)", picked.stdout).group(1)]["val_map"] == worst.data.metrics["val_map"]
    # against a logged baseline: the MSE-only network's validation PSNR
    assert all("val_psnr_nn" in r.data.metrics and "val_map_nn" in r.data.metrics for r in trials)
    keep = [r for r in trials if r.data.metrics["val_psnr"] >= r.data.metrics["val_psnr_nn"]]
    before = Path(uri[len("sqlite:///"):]).read_bytes()
    proc = tasksweep(tmp_path, "promote", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri,
                     "--model-name", "qair_where_nn", "--where", "val_psnr>=val_psnr_nn", "--where", "val_map>2", check=False)
    assert proc.returncode == 2 and Path(uri[len("sqlite:///"):]).read_bytes() == before
    assert proc.stderr.strip().splitlines()[-1] == ("tasksweep: error: none of the 3 finished trials of 'qair_denoise_sigma50' "
                                                    "satisfies val_psnr>=val_psnr_nn and val_map>2.0: nothing promoted")
    proc = tasksweep(tmp_path, "promote", "--experiment", "qair_denoise_sigma50", "--tracking-uri", uri,
                     "--model-name", "qair_where_nn", "--where", "val_psnr>=val_psnr_nn", check=False)
    if keep:
        assert proc.returncode == 0, proc.stderr
        chosen = re.search(r"from trial run (\w+)", proc.stdout).group(1)
        assert chosen in {r.info.run_id for r in keep}
        assert metrics[chosen]["val_map"] == max(r.data.metrics["val_map"] for r in keep)
    else:
        assert proc.returncode == 2 and "none of the 3 finished trials" in proc.stderr


def test_multi_objective_sweep_logs_pareto_front(tmp_path):
    tasksweep(tmp_path, "launch", str(SWEEP), "--smoke", "--set", "scheduler=fifo", "--set", "num_samples=2",
              "--set", "objectives=[{metric: val_map, mode: max}, {metric: val_psnr, mode: max}]", "--set", "name=mo")
    client, parents, _ = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "mo")
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert "pareto.png" in artifacts
    assert "tables/pareto.json" in {a.path for a in client.list_artifacts(parents[0].info.run_id, "tables")}


def test_ctrl_c_then_resume_finishes_without_duplicate_runs(tmp_path):
    args = ["launch", str(SWEEP), "--smoke", "--set", "num_samples=3", "--set", "max_concurrent=1",
            "--set", "scheduler=fifo", "--set", "fixed.epochs=3", "--set", "name=interrupted"]
    proc = subprocess.Popen(CLI + args, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.time() + 300
    for line in proc.stderr:  # interrupt once the first trial is done and the second has started
        seen.append(line)
        if "trial 2/3" in line and "started" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    err = "".join(seen) + err
    assert proc.returncode == 130, err[-3000:]
    assert "tasksweep resume" in err
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _, parents, trials = runs_of(uri, "interrupted")
    assert all(r.info.status != "RUNNING" for r in parents + trials)
    sweep_dir = next((tmp_path / "ray_results").iterdir())
    assert (sweep_dir / "tasksweep.json").is_file() and (sweep_dir / "ray").is_dir()
    tasksweep(tmp_path, "resume", str(sweep_dir))
    _, parents, trials = runs_of(uri, "interrupted")
    ids = [t.data.tags["tasksweep.trial_id"] for t in trials]
    assert len(ids) == len(set(ids)) == 3  # the requested number of trials, one run each
    assert all(t.info.status == "FINISHED" for t in trials) and parents[0].info.status == "FINISHED"


def test_sigterm_stops_like_ctrl_c(tmp_path):
    """SIGTERM (a scheduler's kill, ``timeout``): a clean stop, runs closed, the resume command printed."""
    args = ["launch", str(SWEEP), "--smoke", "--set", "num_samples=2", "--set", "max_concurrent=1",
            "--set", "scheduler=fifo", "--set", "fixed.epochs=3", "--set", "name=terminated"]
    proc = subprocess.Popen(CLI + args, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "epoch 1/3" in line:  # the first trial is training
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    err = "".join(seen) + err
    assert proc.returncode == 130, err[-3000:]
    assert "Resume with: tasksweep resume" in err and "Traceback" not in err
    _, parents, trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "terminated")
    assert parents[0].info.status == "KILLED" and all(r.info.status != "RUNNING" for r in trials)


def start_until(tmp_path: Path, pattern: str, *args: str) -> tuple[subprocess.Popen, list[str]]:
    """Start a FIFO qair smoke sweep (one trial at a time, 3 epochs of 100 steps) and read its
    console until a progress line matches ``pattern``: (the running driver, the lines so far)."""
    cmd = CLI + ["launch", str(SWEEP), "--smoke", "--set", "max_concurrent=1", "--set", "scheduler=fifo",
                 "--set", "fixed.epochs=3", "--set", "fixed.steps_per_epoch=100", *args]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if re.search(pattern, line):
            break
    assert re.search(pattern, "".join(seen)), "".join(seen)[-3000:]
    return proc, seen


def launch_until(tmp_path: Path, pattern: str, *args: str) -> list[str]:
    """``start_until``, then SIGKILL the driver, so no handler runs: its console lines."""
    proc, seen = start_until(tmp_path, pattern, *args)
    proc.kill()
    proc.wait(timeout=60)
    return seen


def one_run_per_trial(client, trials: list, epochs: int = 3) -> None:
    """Every trial FINISHED in one run, each epoch logged exactly once."""
    ids = [t.data.tags["tasksweep.trial_id"] for t in trials]
    assert len(ids) == len(set(ids))
    for t in trials:
        assert t.info.status == "FINISHED"
        steps = [m.step for m in client.get_metric_history(t.info.run_id, "val_map")]
        assert steps == list(range(1, epochs + 1)), (t.data.tags["tasksweep.trial_id"], steps)


def test_sigkill_of_the_driver_then_resume(tmp_path):
    """The driver dies with no cleanup during trial 3 (its first epoch done); resume finishes the
    sweep: 4 trials, one run each, trial 3 going on from its checkpoint, Optuna's sequence intact.
    A run the dead driver had opened for a trial Ray never saved is closed KILLED and tagged."""
    launch_until(tmp_path, r"trial 3/4 \(\w+\) epoch 1/3", "--set", "num_samples=4", "--set", "name=sigkill")
    sweep_dir = next((tmp_path / "ray_results").iterdir())
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, parents, trials = runs_of(uri, "sigkill")
    assert parents[0].info.status == "RUNNING" and len(trials) == 3  # as the dead driver left them
    state_file = sweep_dir / "tasksweep.json"
    state = json.loads(state_file.read_text())
    lost = client.create_run(state["experiment_id"], tags={"mlflow.parentRunId": state["parent_run_id"],
                                                            "tasksweep.trial_id": "lost0001", "tasksweep.role": "trial"})
    state["trial_runs"]["lost0001"] = lost.info.run_id
    state_file.write_text(json.dumps(state))

    resumed = tasksweep(tmp_path, "resume", str(sweep_dir))
    assert re.search(r"trial 3/4 \(\w+\) epoch 2/3", resumed.stderr)
    assert not re.search(r"trial 3/4 \(\w+\) epoch 1/3", resumed.stderr)  # it went on from epoch 2
    _, parents, trials = runs_of(uri, "sigkill")
    assert client.get_run(lost.info.run_id).info.status == "KILLED"
    assert "tasksweep.lost" in client.get_run(lost.info.run_id).data.tags
    trials = [t for t in trials if t.info.run_id != lost.info.run_id]
    assert len(trials) == 4 and parents[0].info.status == "FINISHED"
    one_run_per_trial(client, trials)
    import optuna
    study = optuna.load_study(**json.loads(parents[0].data.tags["tasksweep.optuna"]))
    assert [t.number for t in study.trials] == [0, 1, 2, 3] and all(t.state.name == "COMPLETE" for t in study.trials)
    assert {t.user_attrs["tasksweep.trial_id"] for t in study.trials} == {t.data.tags["tasksweep.trial_id"] for t in trials}


def test_resume_settles_records_a_step_ahead_of_ray(tmp_path):
    """Optuna is told a trial ended a moment before Ray snapshots it: a kill in that moment leaves
    Ray's snapshot saying RUNNING. Resume must not train that trial again. And a checkpoint that
    a resumed trial needs, gone, is one line and exit 2 with nothing changed."""
    launch_until(tmp_path, r"trial 1/2 \(\w+\) epoch 1/3", "--set", "num_samples=2", "--set", "name=ahead")
    sweep_dir = next((tmp_path / "ray_results").iterdir())
    checkpoint = next(sweep_dir.glob("ray/*/checkpoint_000000"))
    checkpoint.rename(checkpoint.with_name("moved"))
    refused = tasksweep(tmp_path, "resume", str(sweep_dir), check=False)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert re.fullmatch(r"tasksweep: error: .* cannot be resumed: trial \w+ would go on from the checkpoint of its "
                        r"epoch 1 in .*, which no longer exists; launch the sweep again", refused.stderr.strip().splitlines()[-1])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client, _, trials = runs_of(uri, "ahead")
    assert [t.info.status for t in trials] == ["RUNNING"]  # untouched by the refused resume
    checkpoint.with_name("moved").rename(checkpoint)

    import optuna
    study_ref = json.loads(client.get_run(json.loads((sweep_dir / "tasksweep.json").read_text())["parent_run_id"])
                           .data.tags["tasksweep.optuna"])
    study = optuna.load_study(**study_ref)
    study.tell(0, 0.123)  # what the searcher wrote just before the kill
    tasksweep(tmp_path, "resume", str(sweep_dir))
    client, parents, trials = runs_of(uri, "ahead")
    first = trials[-1]  # the oldest run: search_runs lists the newest first
    assert first.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(first.info.run_id, "val_map")] == [1]  # not trained again
    assert len(trials) == 2 and parents[0].info.status == "FINISHED"
    values = [t.value for t in optuna.load_study(**study_ref).trials]
    assert len(values) == 2 and values[0] == 0.123


def test_sigkill_of_a_trial_worker_is_retried_from_its_checkpoint(tmp_path):
    """The worker process of a training trial dies; Ray retries it (``max_failures``) from its
    last checkpoint, in the same MLflow run, and the sweep completes."""
    proc, seen = start_until(tmp_path, r"trial 1/2 \(\w+\) epoch 1/3", "--set", "num_samples=2", "--set", "name=workerkill")
    worker = subprocess.run(["pgrep", "-n", "-f", "ray::ImplicitFunc"], capture_output=True, text=True).stdout.split()
    assert worker, "no trial worker found"
    os.kill(int(worker[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    err = "".join(seen) + err
    assert proc.returncode == 0, err[-3000:]
    assert "lost its worker (1 of 2 retries used)" in err
    client, parents, trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "workerkill")
    assert len(trials) == 2 and parents[0].info.status == "FINISHED"
    one_run_per_trial(client, trials)
    retried = [t for t in trials if t.data.tags.get("tasksweep.retries") == "1"]
    assert len(retried) == 1 and "retries/retry_1.txt" in {a.path for a in client.list_artifacts(retried[0].info.run_id, "retries")}


def test_tracking_server_down_for_30_s_mid_sweep(tmp_path):
    """A real ``tasksweep server`` stops during the first trial and starts again 30 s later: the
    driver says it waits, and every epoch's metrics and every checkpoint reach MLflow once."""
    from tests.mlflow_server.test_server import free_port

    port = str(free_port())
    uri = f"http://127.0.0.1:{port}"
    tasksweep(tmp_path, "server", "start", "--port", port)
    try:
        refused = tasksweep(tmp_path, "launch", str(SWEEP), "--smoke", "--tracking-uri", "http://127.0.0.1:1", check=False)
        assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
            "tasksweep: error: MLflow at http://127.0.0.1:1 does not answer (start it with `tasksweep server start`, "
            "or check --tracking-uri)")
        proc, seen = start_until(tmp_path, r"trial 1/2 \(\w+\) epoch 1/3", "--set", "num_samples=2", "--set", "name=outage",
                                 "--tracking-uri", uri)
        tasksweep(tmp_path, "server", "stop")
        time.sleep(30)
        tasksweep(tmp_path, "server", "start", "--port", port)
        _, err = proc.communicate(timeout=300)
        err = "".join(seen) + err
        assert proc.returncode == 0, err[-3000:]
        assert f"MLflow at {uri} is not answering; waiting for it" in err and "MLflow answers again after" in err
        client, parents, trials = runs_of(uri, "outage")
        assert len(trials) == 2 and parents[0].info.status == "FINISHED"
        one_run_per_trial(client, trials)
        for t in trials:
            assert len(client.list_artifacts(t.info.run_id, "checkpoints")) == 2  # keep_checkpoints, logged at the end
        assert "tables" in {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    finally:
        tasksweep(tmp_path, "server", "stop", check=False)


def test_resources_no_node_has_are_one_line_and_exit_2(tmp_path):
    proc = tasksweep(tmp_path, "launch", str(SWEEP), "--smoke", "--set", "resources_per_trial.cpu=4096", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("tasksweep: error: no node can hold a trial: each asks for 4096 CPU and 0 GPU")
    # The store may exist (its tables are created while Ray starts) but holds no experiment or run.
    if (tmp_path / "mlflow.db").exists():
        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        assert client.get_experiment_by_name("qair_denoise_sigma50") is None
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_a_diverging_trial_fails_alone_with_its_error_on_the_run(tmp_path):
    # lr 10-100 makes the DnCNN's loss NaN within two epochs; lam keeps its usual range
    space = "search_space={lam: {type: loguniform, low: 0.1, high: 100.0}, lr: {type: loguniform, low: 10.0, high: 100.0}}"
    proc = tasksweep(tmp_path, "launch", str(SWEEP), "--smoke", "--set", "num_samples=2", "--set", "scheduler=fifo",
                     "--set", space, "--set", "name=diverged", check=False)
    client, parents, trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "diverged")
    assert len(trials) == 2 and all(t.info.status == "FAILED" for t in trials), proc.stderr[-3000:]
    for t in trials:
        assert "FloatingPointError: training diverged at epoch" in t.data.tags["tasksweep.error"]
        assert "error.txt" in {a.path for a in client.list_artifacts(t.info.run_id)}
    assert parents[0].info.status == "FINISHED"  # the sweep itself ran to its end
    import optuna
    study = json.loads(parents[0].data.tags["tasksweep.optuna"])
    states = [t.state.name for t in optuna.load_study(**study).trials]
    assert states == ["FAIL", "FAIL"]


CLUSTER_SCRIPT = """
import os, socket, subprocess, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray port on loopback
from ray.cluster_utils import Cluster
with socket.socket() as s:  # a free GCS port, so no other Ray on this machine is joined by mistake
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "gcs_server_port": port})
cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
cluster.wait_for_nodes()
try:
    sys.exit(subprocess.run(sys.argv[1:] + ["--address", cluster.address]).returncode)
finally:
    cluster.shutdown()
"""


def test_two_node_cluster_places_trials_on_both_nodes(tmp_path):
    """Two Ray nodes on loopback (Ray's own multi-node test helper); the CLI joins with --address.

    Run in a fresh process, as a user's launch would be: joining a cluster from the long-lived
    pytest process hung in GCS connection in the full suite.
    """
    launch = CLI + ["launch", str(SWEEP), "--smoke", "--set", "num_samples=4", "--set", "max_concurrent=2",
                    "--set", "scheduler=fifo", "--set", "name=cluster", "--set", "time_budget_s=300",
                    # trials long enough to overlap: two 1-CPU trials at once can only share two nodes
                    "--set", "fixed.steps_per_epoch=300",
                    "--storage-path", str(tmp_path / "shared")]
    proc = subprocess.run([sys.executable, "-c", CLUSTER_SCRIPT, *launch], cwd=tmp_path, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "joining 127.0.0.1:" in proc.stderr
    _, _, trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "cluster")
    assert len(trials) == 4 and len({t.data.tags["tasksweep.node_id"] for t in trials}) == 2


def test_bench_overhead_reports_both_timings(tmp_path):
    proc = tasksweep(tmp_path, "bench", "overhead", "--trials", "1", "--json")
    result = json.loads(proc.stdout)
    assert result["trials"] == 1 and result["sweep_wall_s"] > 0 and result["loop_wall_s"] > 0 and result["stock_wall_s"] > 0
    parts = result["breakdown_s"]
    assert parts["ray_start"] > 0 and parts["finalize"] > 0 and parts["between_trials"] > 0
    # the parts add up to the sweep's extra seconds
    assert sum(parts.values()) == pytest.approx(result["sweep_wall_s"] - result["loop_wall_s"], abs=0.05)
    assert result["ratio"] == pytest.approx(result["sweep_wall_s"] / result["loop_wall_s"], rel=0.02)
    assert not (tmp_path / "mlflow.db").exists()  # the benchmark's MLflow store is temporary

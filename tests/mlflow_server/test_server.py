"""mlflow_server: a real server on loopback only; refusals are checked before any process starts.

No test binds or contacts a non-loopback address: those cases are refused before the port check.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import mlflow_server
from mlflow_server import ServerError, _server, add_cli, start, status, stop

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tasksweep")
    add_cli(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.fixture
def no_process(monkeypatch):
    """Fail the test if anything tries to start a process or touch a port."""
    def boom(*a, **k):
        raise AssertionError("a process or port check was reached")
    monkeypatch.setattr(_server.subprocess, "Popen", boom)
    monkeypatch.setattr(_server, "check_port_free", boom)


@pytest.fixture
def workdir(tmp_path):
    yield tmp_path
    stop(tmp_path, timeout_s=5)  # never leave a server behind, whatever failed


def test_public_api():
    assert sorted(mlflow_server.__all__) == ["ServerError", "ServerInfo", "add_cli", "start", "status", "stop"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert _server.is_loopback(host)
    _server.check_host(host, None, False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.5", "example.com", "localhost.example.com"])
@pytest.mark.parametrize("allowed_hosts,basic_auth", [(None, False), ("mlflow.lab.example", False), (None, True)])
def test_non_loopback_refused_before_anything_starts(tmp_path, no_process, host, allowed_hosts, basic_auth):
    with pytest.raises(ServerError, match="non-loopback"):
        start(host=host, port=5000, workdir=tmp_path, allowed_hosts=allowed_hosts, basic_auth=basic_auth)
    assert not (tmp_path / ".tasksweep").exists()


def test_non_loopback_accepted_with_both_flags():
    # Only the pure check: tests never bind a non-loopback address.
    assert not _server.is_loopback("0.0.0.0")
    _server.check_host("0.0.0.0", "mlflow.lab.example,10.0.0.5:5000", True)


def test_command_flags():
    cmd = _server.server_command("0.0.0.0", 5001, "postgresql://u:p@db/mlflow", "/data/art", "a.example,b.example", True)
    assert cmd[1:4] == ["-m", "mlflow", "server"]
    joined = " ".join(cmd)
    for flags in ("--host 0.0.0.0", "--port 5001", "--workers 1", "--backend-store-uri postgresql://u:p@db/mlflow",
                  "--serve-artifacts --artifacts-destination /data/art", "--allowed-hosts a.example,b.example",
                  "--app-name basic-auth"):
        assert flags in joined
    assert "--app-name" not in _server.server_command("127.0.0.1", 5001, "sqlite:///x.db", "/a")


def test_uri_handling(tmp_path):
    assert _server.redact("postgresql://user:s3cret@db:5432/mlflow") == "postgresql://user:***@db:5432/mlflow"
    assert _server.redact("sqlite:////abs/mlflow.db") == "sqlite:////abs/mlflow.db"
    assert _server._absolute_sqlite("sqlite:///mlflow.db", tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert _server._absolute_sqlite("sqlite:////abs/m.db", tmp_path) == "sqlite:////abs/m.db"
    assert _server._absolute_sqlite("postgresql://h/db", tmp_path) == "postgresql://h/db"


def test_backend_uri_without_scheme_refused(tmp_path, no_process):
    with pytest.raises(ServerError, match="no scheme"):
        start(backend_store_uri="mlflow.db", workdir=tmp_path)


def test_port_in_use_refused(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a process was started")
    monkeypatch.setattr(_server.subprocess, "Popen", boom)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            start(port=port, workdir=tmp_path)
    assert not (tmp_path / ".tasksweep" / "server" / "server.pid").exists()
    assert status(tmp_path) is None


def _write_state(workdir: Path, pid: int, ticks: int | None) -> Path:
    d = workdir / ".tasksweep" / "server"
    d.mkdir(parents=True)
    (d / "server.pid").write_text(f"{pid}\n")
    (d / "server.json").write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:1", "proc_start_ticks": ticks}))
    return d


def test_stale_pid_file_cleaned(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    d = _write_state(tmp_path, gone.pid, None)
    s = status(tmp_path)
    assert s["running"] is False and s["stale_pid"] == gone.pid
    assert not (d / "server.pid").exists() and not (d / "server.json").exists()
    assert status(tmp_path) is None

    _write_state(tmp_path / "again", gone.pid, None)
    r = stop(tmp_path / "again")
    assert r["stopped"] is False and "stale" in r["message"]
    assert not (tmp_path / "again" / ".tasksweep" / "server" / "server.pid").exists()


def test_reused_pid_is_not_killed(tmp_path):
    """A pid file whose pid now belongs to another process (start time differs) is stale."""
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        _write_state(tmp_path, other.pid, ticks=1)  # not its real start time
        r = stop(tmp_path, timeout_s=1)
        assert r["stopped"] is False and "stale" in r["message"]
        assert other.poll() is None  # still running: we did not signal it
    finally:
        other.kill()
        other.wait()


def test_cli_options_and_nothing_running(tmp_path, monkeypatch, capsys):
    args = cli(["server", "start", "--host", "0.0.0.0", "--port", "5055", "--backend-store-uri", "postgresql://h/db",
                "--artifacts-destination", "art", "--allowed-hosts", "a.example", "--basic-auth"])
    assert (args.host, args.port, args.backend_store_uri, args.artifacts_destination, args.allowed_hosts, args.basic_auth) == (
        "0.0.0.0", 5055, "postgresql://h/db", "art", "a.example", True)
    defaults = cli(["server", "start"])
    assert (defaults.host, defaults.port, defaults.backend_store_uri, defaults.basic_auth) == (
        "127.0.0.1", 5000, "sqlite:///mlflow.db", False)
    monkeypatch.chdir(tmp_path)
    for argv in (["server", "status"], ["server", "stop"]):
        a = cli(argv)
        a.func(a)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("no MLflow server is running" in line for line in out)
    with pytest.raises(ServerError, match="non-loopback"):
        a = cli(["server", "start", "--host", "0.0.0.0"])
        a.func(a)


@pytest.mark.slow
def test_real_server_lifecycle(workdir, monkeypatch, capsys):
    port = free_port()
    # Started by a separate process that exits: the server must outlive it (own session), and
    # must not hold that process's stdout (run() would hang).
    script = ("import argparse, mlflow_server, sys; p = argparse.ArgumentParser(); "
              "mlflow_server.add_cli(p.add_subparsers(dest='c')); a = p.parse_args(sys.argv[1:]); a.func(a)")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", script, "server", "start", "--port", str(port)],
                          check=False, cwd=workdir, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    url = f"http://127.0.0.1:{port}"
    assert f"--tracking-uri {url}" in done.stdout and f"MLFLOW_TRACKING_URI={url}" in done.stdout
    assert f"{url}/#/experiments?workflowType=machine_learning" in done.stdout  # the model-training view

    s = status(workdir)
    assert s["running"] and s["healthy"] and s["url"] == url and s["port"] == port
    assert 1 <= s["processes"] <= 3  # lean: measured 2 (mlflow launcher + one uvicorn worker)
    assert s["backend_store_uri"] == f"sqlite:///{workdir.resolve()}/mlflow.db"
    pid = s["pid"]
    with urllib.request.urlopen(url + "/health", timeout=5) as r:
        assert r.status == 200 and r.read().strip() == b"OK"

    monkeypatch.chdir(workdir)
    a = cli(["server", "status"])
    a.func(a)
    out = capsys.readouterr().out
    assert url in out and str(pid) in out and "health:  OK" in out

    # An MLflow client logs a metric and a proxied artifact.
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    client = MlflowClient(tracking_uri=url)
    exp = client.create_experiment("server-test")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "loss", 0.25, step=3)
    (workdir / "note.txt").write_text("hello")
    client.log_artifact(run.info.run_id, str(workdir / "note.txt"))
    client.set_terminated(run.info.run_id)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics["loss"] == 0.25 and got.info.status == "FINISHED"
    assert got.info.artifact_uri.startswith("mlflow-artifacts:")
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["note.txt"]
    landed = list((workdir / "mlartifacts").rglob("note.txt"))
    assert len(landed) == 1 and landed[0].read_text() == "hello"

    with pytest.raises(ServerError, match="already running"):
        start(port=port, workdir=workdir)

    r = stop(workdir)
    assert r["stopped"] is True and r["pid"] == pid
    assert status(workdir) is None
    assert not _server._alive(pid) and _server.group_processes(pid) == []
    assert not (workdir / ".tasksweep" / "server" / "server.pid").exists()
    assert stop(workdir)["stopped"] is False
    _server.check_port_free("127.0.0.1", port)  # the port is free again


@pytest.mark.slow
@pytest.mark.skipif(not __import__("importlib").util.find_spec("flask_wtf"), reason="needs mlflow[auth] (Flask-WTF)")
def test_real_server_basic_auth_on_loopback(workdir, monkeypatch):
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_AUTH_CONFIG_PATH", raising=False)
    monkeypatch.delenv("MLFLOW_FLASK_SERVER_SECRET_KEY", raising=False)
    info = start(port=free_port(), workdir=workdir, basic_auth=True)
    pw_file = Path(info.admin_password_file)
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    api = info.url + "/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(api, timeout=5)
    assert e.value.code == 401
    token = base64.b64encode(f"admin:{pw_file.read_text().strip()}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(api, headers={"Authorization": f"Basic {token}"}), timeout=5) as r:
        assert r.status == 200
    assert stop(workdir)["stopped"] is True


def test_not_healthy_in_time_is_killed_and_cleaned(tmp_path):
    with pytest.raises(ServerError, match=r"not healthy .* after 0\.5 s; end of .*server\.log") as e:
        start(port=free_port(), workdir=tmp_path, wait_s=0.5)
    assert "mlflow server --host 127.0.0.1" in str(e.value)  # the log tail is in the message
    assert status(tmp_path) is None
    assert not (tmp_path / ".tasksweep" / "server" / "server.pid").exists()
    assert (tmp_path / ".tasksweep" / "server" / "server.log").exists()  # kept for diagnosis

"""PostgreSQL as the MLflow tracking store, for real (issue 15).

A throwaway PostgreSQL server (this machine's initdb/pg_ctl, a temp data folder, 127.0.0.1 on a
free port, password auth) backs ``tasksweep server start --backend-store-uri postgresql://...``;
a smoke sweep and a promotion go through that server, as a user would run them, and the rows
are then read back from PostgreSQL itself. Skipped, with the reason, only when no PostgreSQL
server binaries are found; the driver (psycopg 3) comes with the ``test`` and ``postgres`` extras.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mlflow_server import status, stop
from tests.mlflow_server.test_server import free_port
from tests.sweeps.test_end_to_end import SWEEP, champion_check, runs_of, tasksweep

EXPERIMENT = "qair_denoise_sigma50"  # the experiment of sweeps/qair_denoise.yaml
MODEL = "qair_denoise"  # its promote.model_name
PG_USER, PG_PASSWORD, PG_DB = "tasksweep", "pg-s3cret-pw", "mlflow"


def _version(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def find_postgres_bin() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: the newest of Debian/Ubuntu's
    /usr/lib/postgresql/*/bin and RHEL's /usr/pgsql-*/bin, else the one on PATH."""
    candidates = sorted([*Path("/usr/lib/postgresql").glob("*/bin"), *Path("/usr").glob("pgsql-*/bin")],
                        key=_version, reverse=True)
    if shutil.which("pg_ctl"):
        candidates.append(Path(shutil.which("pg_ctl")).resolve().parent)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


PG_BIN = find_postgres_bin()
needs_postgres = pytest.mark.skipif(
    PG_BIN is None,
    reason="no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin or on "
           "PATH; install PostgreSQL (e.g. apt-get install postgresql) to run the PostgreSQL tracking-store test")


def _as_postgres_user() -> dict:
    """subprocess arguments that run initdb/pg_ctl as an unprivileged user: both refuse root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("nobody")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@pytest.fixture
def postgres():
    """A PostgreSQL server on 127.0.0.1 for this test: ``{"uri", "conninfo", "port"}``. Stopped
    (``pg_ctl stop -m fast``) and its folder removed afterwards, whatever happened."""
    try:
        import psycopg
    except ImportError:
        pytest.fail("the PostgreSQL driver is missing: pip install -e '.[test]' (psycopg 3, also in '.[postgres]')")
    # Not under pytest's tmp_path: its parents are 0700 root, which the unprivileged user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="tasksweep-pg-"))
    data, log, pwfile = root / "data", root / "postgres.log", root / "pwfile"
    as_user = _as_postgres_user()
    pwfile.write_text(PG_PASSWORD + "\n")
    if as_user:
        for path in (root, pwfile):
            os.chown(path, as_user["user"], as_user["group"])
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(root)}

    def pg(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(PG_BIN / args[0]), *args[1:]], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120, **as_user)
        assert not check or proc.returncode == 0, f"{' '.join(args)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return proc

    port = free_port()
    try:
        pg("initdb", "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}", "--auth-local=trust",
           "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:  # loopback only; a throwaway cluster needs no fsync
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        started = pg("pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", check=False)
        assert started.returncode == 0, f"pg_ctl start failed: {started.stderr}\n{log.read_text() if log.exists() else ''}"
        conninfo = f"host=127.0.0.1 port={port} user={PG_USER} password={PG_PASSWORD}"
        with psycopg.connect(conninfo + " dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_DB}")
        yield {"uri": f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/{PG_DB}",
               "conninfo": f"{conninfo} dbname={PG_DB}", "port": port}
    finally:
        if (data / "postmaster.pid").exists():
            stopped = pg("pg_ctl", "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30", check=False)
            if stopped.returncode != 0:
                pg("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_unreachable_postgres_is_one_line_and_exit_2_before_anything_starts(tmp_path):
    """A PostgreSQL backend that refuses connections (port 1): one line naming it, password redacted, exit 2."""
    proc = tasksweep(tmp_path, "server", "start", "--port", str(free_port()),
                     "--backend-store-uri", "postgresql://nobody:hunter2@127.0.0.1:1/x", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    if importlib.util.find_spec("psycopg"):
        assert lines[0].startswith("tasksweep: error: cannot connect to the backend store "
                                   "postgresql://nobody:***@127.0.0.1:1/x: ")
        assert "port 1 failed: Connection refused" in lines[0]
    else:  # installed without the test/postgres extra: the missing driver is the problem named
        assert lines[0].startswith("tasksweep: error: backend store postgresql://nobody:***@127.0.0.1:1/x needs "
                                   "the Python driver 'psycopg")  # psycopg, or psycopg2 before SQLAlchemy 2.1
    assert "hunter2" not in proc.stdout + proc.stderr
    # Nothing was started or written: no server log, no state, no artifacts folder.
    assert not (tmp_path / ".tasksweep").exists() and not (tmp_path / "mlartifacts").exists()


@pytest.fixture
def mlflow_on_postgres(postgres, tmp_path):
    """``tasksweep server start --backend-store-uri postgresql://...`` in ``tmp_path``: (url, its stdout).
    ``tasksweep server stop`` afterwards (and the library's stop, should the CLI fail)."""
    port = free_port()
    try:
        started = tasksweep(tmp_path, "server", "start", "--port", str(port), "--backend-store-uri", postgres["uri"])
        yield f"http://127.0.0.1:{port}", started.stdout
    finally:
        stopped = tasksweep(tmp_path, "server", "stop", check=False)
        stop(tmp_path, timeout_s=5)
        assert stopped.returncode == 0, stopped.stderr[-2000:]


@pytest.mark.slow
@needs_postgres
def test_sweep_and_promote_with_postgresql_tracking_store(postgres, mlflow_on_postgres, tmp_path):
    import psycopg
    from mlflow import MlflowClient

    url, start_out = mlflow_on_postgres
    port = postgres["port"]
    assert f"backend store: postgresql://{PG_USER}:***@127.0.0.1:{port}/{PG_DB}" in start_out
    assert PG_PASSWORD not in start_out
    state = status(tmp_path)
    assert state["running"] and state["healthy"] and PG_PASSWORD not in json.dumps(state)
    assert PG_PASSWORD not in Path(state["log_path"]).read_text()  # the server's command line is logged

    launched = tasksweep(tmp_path, "launch", str(SWEEP), "--smoke", "--set", "num_samples=2", "--tracking-uri", url)
    assert "trial 2/2" in launched.stderr
    client, parents, trials = runs_of(url, EXPERIMENT)
    assert len(parents) == 1 and len(trials) == 2
    assert parents[0].info.status == "FINISHED" and all(t.info.status == "FINISHED" for t in trials)

    promoted = tasksweep(tmp_path, "promote", "--experiment", EXPERIMENT, "--tracking-uri", url)
    assert "becomes champion" in promoted.stdout
    champion = MlflowClient(url).get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert champion.tags["tasksweep.source_run"] in {t.info.run_id for t in trials}
    result = champion_check(tmp_path, url, MODEL)  # a fresh process loads it through the server
    assert result["problems"] == [] and result["psnr_denoised"] > result["psnr_noisy"]

    # It all lives in PostgreSQL: no SQLite database appeared, the rows are in the server's tables.
    assert not list(tmp_path.glob("*.db"))
    with psycopg.connect(postgres["conninfo"]) as conn:
        rows = conn.execute("SELECT r.run_uuid, r.status FROM runs r JOIN experiments e ON e.experiment_id = "
                            "r.experiment_id WHERE e.name = %s", (EXPERIMENT,)).fetchall()
        sweep_runs = {r.info.run_id for r in [parents[0], *trials]}
        assert sweep_runs <= {run_id for run_id, _ in rows}  # the sweep's parent run and its 2 trials
        assert {run_id for run_id, _ in rows} == {r.info.run_id for r in client.search_runs([parents[0].info.experiment_id])}
        assert all(run_status == "FINISHED" for run_id, run_status in rows if run_id in sweep_runs)
        assert conn.execute("SELECT count(*) FROM registered_models WHERE name = %s", (MODEL,)).fetchone() == (1,)
        alias = conn.execute("SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'",
                             (MODEL,)).fetchone()
        assert alias == (1,)
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)  # MLflow's schema migrated

"""Start, stop and inspect one real ``mlflow server`` per working directory.

The server runs detached (its own session, so it outlives the command that started it) and
lean: ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``, ``--workers 1`` and proxied artifacts
(``--artifacts-destination``), measured at 2 processes instead of ~15. Its state lives in
``<workdir>/.tasksweep/server/``: ``server.pid`` and ``server.json`` (removed by ``stop``),
``server.log`` (kept), and for basic auth ``basic_auth.ini``/``basic_auth.db``/``secret_key``
and, when generated, ``admin_password`` (kept, mode 0600).

Everything that can be checked is checked before a process starts: the host (loopback only,
unless both ``allowed_hosts`` and ``basic_auth`` are given), the port, a server already running,
and for a PostgreSQL/MySQL/MSSQL backend store its driver and a connection to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = Path(".tasksweep") / "server"
ADMIN_USERNAME = "admin"
# MLflow 3.17's UI opens on its GenAI side (a run becomes an "Evaluation") and remembers the last
# choice in the browser; this query string on a page's hash route shows the model-training side.
MODEL_TRAINING_VIEW = "?workflowType=machine_learning"


class ServerError(Exception):
    """A server request that cannot be honoured: bad option, port taken, server failed to start."""


@dataclass(frozen=True)
class ServerInfo:
    """What ``start`` started; also what ``server.json`` holds."""

    pid: int
    host: str
    port: int
    url: str  # where this machine reaches it (a wildcard host is reached on loopback)
    backend_store_uri: str  # password redacted
    artifacts_destination: str
    log_path: str
    state_dir: str
    started_at: float  # epoch seconds
    proc_start_ticks: int | None  # /proc/<pid>/stat start time: guards against pid reuse
    seconds_to_healthy: float | None = None
    basic_auth: bool = False
    allowed_hosts: str | None = None
    admin_password_file: str | None = None  # the generated admin password (0600), if any


# ---------------------------------------------------------------- checks (before any process)


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1. Never resolves names (no DNS)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allowed_hosts: str | None, basic_auth: bool) -> None:
    if is_loopback(host):
        return
    missing = [flag for flag, ok in (("--allowed-hosts", allowed_hosts), ("--basic-auth", basic_auth)) if not ok]
    if missing:
        raise ServerError(
            f"refusing to bind non-loopback host {host!r} without {' and '.join(missing)}: a server "
            "reachable from other machines needs both an allowed-hosts list and basic auth "
            "(use 127.0.0.1 to keep it on this machine)"
        )


def _check_basic_auth_installed() -> None:
    import importlib.util

    if importlib.util.find_spec("flask_wtf") is None:
        raise ServerError("--basic-auth needs MLflow's auth extra (Flask-WTF): pip install 'mlflow[auth]'")


def _check_backend_uri(uri: str) -> None:
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", uri):
        raise ServerError(
            f"backend store URI {uri!r} has no scheme; use e.g. sqlite:///mlflow.db or "
            "postgresql://user:password@host:5432/db"
        )


# MLflow's SQL stores other than SQLite (``postgresql://``, ``mysql+pymysql://``, ...): a server is
# reached and the driver imported before ``mlflow server`` starts, so a typo is one line, not a traceback.
_SERVER_DATABASES = ("postgresql", "mysql", "mssql")
_DRIVER_HINTS = {"postgresql+psycopg": "pip install 'tasksweep[postgres]'"}  # postgresql:// on SQLAlchemy >= 2.1


def check_backend_reachable(uri: str, timeout_s: int = 5) -> None:
    """For a PostgreSQL/MySQL/MSSQL backend store: the SQLAlchemy driver imports and the database
    accepts a connection (within ``timeout_s``). Raises ``ServerError`` (one line, password
    redacted) otherwise. Other stores (SQLite, a folder) are left to MLflow, which creates them."""
    scheme = uri.split("://", 1)[0].lower()
    if scheme.split("+", 1)[0] not in _SERVER_DATABASES:
        return
    import sqlalchemy
    from sqlalchemy.engine import make_url

    shown = redact(uri)
    try:
        url = make_url(uri)
        dialect = url.get_dialect()
    except Exception as e:  # ArgumentError (unparsable), NoSuchModuleError (unknown +driver)
        raise ServerError(f"backend store URI {shown} is not a valid SQLAlchemy URL: {_one_line(e)}") from None
    try:
        dialect.import_dbapi()
    except ImportError as e:
        backend = url.get_backend_name()
        hint = _DRIVER_HINTS.get(f"{backend}+{dialect.driver}", "install it")
        raise ServerError(f"backend store {shown} needs the Python driver '{e.name or dialect.driver}' "
                          f"(SQLAlchemy's {backend}+{dialect.driver}), which is not installed: {hint}, or name "
                          f"an installed driver in the URI ({backend}+DRIVER://...)") from None
    connect_args = {"connect_timeout": timeout_s} if url.get_backend_name() in ("postgresql", "mysql") else {}
    engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect():
            pass
    except Exception as e:  # OperationalError: refused, unknown host, auth failed, no such database
        raise ServerError(f"cannot connect to the backend store {shown}: {_one_line(getattr(e, 'orig', None) or e)}") from None
    finally:
        engine.dispose()


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def redact(uri: str) -> str:
    """``postgresql://user:secret@h/db`` -> ``postgresql://user:***@h/db``."""
    return re.sub(r"^([^:/]+://[^:/@]*):[^@/]*@", r"\1:***@", uri)


def _absolute_sqlite(uri: str, workdir: Path) -> str:
    """A relative ``sqlite:///mlflow.db`` is the file in ``workdir`` (where the sweeps write it)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and not uri[len(prefix):].startswith(":memory:"):
        return prefix + str((workdir / uri[len(prefix):]).resolve())
    return uri


def _bind_family_and_addr(host: str) -> tuple[int, str]:
    if host.strip().lower() == "localhost":
        return socket.AF_INET, "127.0.0.1"
    h = host.strip("[]")
    try:
        return (socket.AF_INET6 if ipaddress.ip_address(h).version == 6 else socket.AF_INET), h
    except ValueError:  # a host name: let the OS resolve it, like the server will
        return socket.AF_INET, h


def check_port_free(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ServerError(f"port {port} is out of range 1-65535")
    family, addr = _bind_family_and_addr(host)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: ignores TIME_WAIT
        try:
            s.bind((addr, port))
        except OSError as e:
            raise ServerError(f"port {port} on {host} is already in use ({e.strerror}); pick another with --port") from None


# ---------------------------------------------------------------- processes (/proc, no psutil)


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from ``state`` on (index 0 = state), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def _start_ticks(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None  # field 22 of stat


def _alive(pid: int, start_ticks: int | None = None) -> bool:
    """Running, not a zombie, and (when known) the same process that we started."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child (tests, long-lived callers)
    if not Path("/proc").is_dir():  # no procfs: best effort
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _proc_stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or int(fields[19]) == start_ticks


def group_processes(pgid: int) -> list[tuple[int, int]]:
    """(pid, RSS bytes) of every live process in process group ``pgid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            out.append((int(entry.name), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")))
    return out


# ---------------------------------------------------------------- state files


def _paths(workdir: str | os.PathLike) -> dict[str, Path]:
    d = Path(workdir).resolve() / STATE_DIR
    return {"dir": d, "pid": d / "server.pid", "state": d / "server.json", "log": d / "server.log", "lock": d / "lock"}


def _read_state(paths: dict[str, Path]) -> dict | None:
    try:
        return json.loads(paths["state"].read_text())
    except (OSError, ValueError):
        pass
    try:  # a pid file without its JSON (e.g. interrupted write): still enough to stop it
        return {"pid": int(paths["pid"].read_text().strip()), "proc_start_ticks": None}
    except (OSError, ValueError):
        return None


def _remove_state(paths: dict[str, Path]) -> None:
    for key in ("pid", "state"):
        paths[key].unlink(missing_ok=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@contextlib.contextmanager
def _locked(paths: dict[str, Path]):
    paths["dir"].mkdir(parents=True, exist_ok=True)
    with open(paths["lock"], "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _log_tail(log: Path, n: int = 20) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines) or "    (log is empty)"


def health(url: str, timeout: float = 2.0) -> bool:
    """``GET <url>/health`` answers 200 ``OK``. /health needs neither auth nor an allowed Host."""
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout) as r:
            return r.status == 200 and r.read().strip() == b"OK"
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---------------------------------------------------------------- start / stop / status


def _local_url(host: str, port: int) -> str:
    h = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host.strip("[]"), host.strip("[]"))
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


def server_command(host, port, backend_store_uri, artifacts_destination, allowed_hosts=None, basic_auth=False) -> list[str]:
    """The exact ``mlflow server`` argv (flags checked against ``mlflow server --help``, 3.17)."""
    cmd = [sys.executable, "-m", "mlflow", "server",
           "--host", host, "--port", str(port), "--workers", "1",
           "--backend-store-uri", backend_store_uri,
           "--serve-artifacts", "--artifacts-destination", artifacts_destination]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    if basic_auth:
        cmd += ["--app-name", "basic-auth"]
    return cmd


def _basic_auth_env(paths: dict[str, Path], env: dict) -> str | None:
    """Configure MLflow's basic-auth app to keep its user DB in the state folder.

    The admin password comes from MLFLOW_AUTH_ADMIN_PASSWORD or, on the first start, is generated
    into ``admin_password`` (mode 0600). Returns that file's path when there is one.
    """
    if "MLFLOW_AUTH_CONFIG_PATH" not in env:
        db = paths["dir"] / "basic_auth.db"
        ini = paths["dir"] / "basic_auth.ini"
        ini.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = sqlite:///{db}\nadmin_username = {ADMIN_USERNAME}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
    if not env.get("MLFLOW_FLASK_SERVER_SECRET_KEY"):
        key_file = paths["dir"] / "secret_key"
        if not key_file.exists():
            _write_private(key_file, secrets.token_hex(32))
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = key_file.read_text().strip()
    pw_file = paths["dir"] / "admin_password"
    own_db = env["MLFLOW_AUTH_CONFIG_PATH"] == str(paths["dir"] / "basic_auth.ini")
    if own_db and not env.get("MLFLOW_AUTH_ADMIN_PASSWORD") and not (paths["dir"] / "basic_auth.db").exists():
        if not pw_file.exists():
            _write_private(pw_file, secrets.token_urlsafe(18))
        env["MLFLOW_AUTH_ADMIN_PASSWORD"] = pw_file.read_text().strip()
    return str(pw_file) if own_db and pw_file.exists() else None


def admin_password(workdir: str | os.PathLike = ".") -> str:
    """The basic-auth admin password the server uses: MLFLOW_AUTH_ADMIN_PASSWORD, else the generated file."""
    if os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD"):
        return os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"]
    pw_file = _paths(workdir)["dir"] / "admin_password"
    if pw_file.is_file():
        return pw_file.read_text().strip()
    raise ServerError("basic auth needs the admin password: set MLFLOW_AUTH_ADMIN_PASSWORD, or start "
                      "'tasksweep server start --basic-auth' here first (it generates one)")


def start(
    host: str = "127.0.0.1",
    port: int = 5000,
    backend_store_uri: str = "sqlite:///mlflow.db",
    artifacts_destination: str = "./mlartifacts",
    workdir: str | os.PathLike = ".",
    allowed_hosts: str | list[str] | None = None,
    basic_auth: bool = False,
    wait_s: float = 60,
) -> ServerInfo:
    """Start a detached ``mlflow server`` and wait until ``/health`` answers OK.

    Raises ``ServerError`` before starting anything for a non-loopback host without both
    ``allowed_hosts`` and ``basic_auth``, a backend URI without a scheme, a port in use, a
    server already running from ``workdir``, or a database backend whose driver is missing or
    which refuses a connection; and after starting, if it dies or is not healthy
    within ``wait_s`` seconds (the message carries the end of its log, the process is killed).
    """
    host = host.strip().strip("[]")  # "[::1]" -> "::1", as uvicorn wants it
    if isinstance(allowed_hosts, (list, tuple)):
        allowed_hosts = ",".join(allowed_hosts)
    check_host(host, allowed_hosts, basic_auth)
    if basic_auth:
        _check_basic_auth_installed()
    _check_backend_uri(backend_store_uri)
    workdir = Path(workdir).resolve()
    if not workdir.is_dir():
        raise ServerError(f"working directory {workdir} does not exist")
    backend = _absolute_sqlite(backend_store_uri, workdir)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", artifacts_destination):
        artifacts = artifacts_destination  # a remote store (s3://...) or file:// URI: as given
    else:
        artifacts = str((workdir / artifacts_destination).resolve())
    paths = _paths(workdir)
    if (s := _read_state(paths)) and _alive(s["pid"], s.get("proc_start_ticks")):
        raise ServerError(f"an MLflow server is already running from {workdir} (pid {s['pid']}, "
                          f"{s.get('url', '?')}); stop it first with 'tasksweep server stop'")
    check_port_free(host, port)
    check_backend_reachable(backend)

    with _locked(paths):
        if (s := _read_state(paths)) and _alive(s["pid"], s.get("proc_start_ticks")):
            raise ServerError(f"an MLflow server is already running from {workdir} (pid {s['pid']})")
        _remove_state(paths)  # stale files, if any
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", artifacts):
            Path(artifacts).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", PYTHONUNBUFFERED="1")
        pw_file = _basic_auth_env(paths, env) if basic_auth else None
        cmd = server_command(host, port, backend, artifacts, allowed_hosts, basic_auth)
        t0 = time.monotonic()
        with open(paths["log"], "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(redact(a) for a in cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        url = _local_url(host, port)
        info = ServerInfo(pid=proc.pid, host=host, port=port, url=url, backend_store_uri=redact(backend),
                          artifacts_destination=artifacts, log_path=str(paths["log"]), state_dir=str(paths["dir"]),
                          started_at=time.time(), proc_start_ticks=_start_ticks(proc.pid), basic_auth=basic_auth,
                          allowed_hosts=allowed_hosts, admin_password_file=pw_file)
        paths["pid"].write_text(f"{proc.pid}\n")
        paths["state"].write_text(json.dumps(asdict(info), indent=1))
        try:
            while not health(url, timeout=1.0):
                if proc.poll() is not None:
                    raise ServerError(f"mlflow server exited with code {proc.returncode} before it was healthy; "
                                      f"end of {paths['log']}:\n{_log_tail(paths['log'])}")
                if time.monotonic() - t0 > wait_s:
                    raise ServerError(f"mlflow server was not healthy at {url}/health after {wait_s:g} s; "
                                      f"end of {paths['log']}:\n{_log_tail(paths['log'])}")
                time.sleep(0.2)
        except BaseException:  # also Ctrl-C: never leave a half-started server behind
            _terminate_group(proc.pid, timeout_s=5)
            with contextlib.suppress(ChildProcessError, subprocess.TimeoutExpired):
                proc.wait(timeout=1)
            _remove_state(paths)
            raise
        info = ServerInfo(**{**asdict(info), "seconds_to_healthy": round(time.monotonic() - t0, 2)})
        paths["state"].write_text(json.dumps(asdict(info), indent=1))
        return info


def _terminate_group(pgid: int, timeout_s: float) -> bool:
    """SIGTERM the process group, SIGKILL what is left after ``timeout_s``. True if it had to kill."""
    def alive() -> bool:
        _alive(pgid)  # reaps the leader if it is our child
        return bool(group_processes(pgid)) if Path("/proc").is_dir() else _alive(pgid)

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive():
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            end = time.monotonic() + 5
            while alive() and time.monotonic() < end:
                time.sleep(0.05)
            return True
        time.sleep(0.05)
    return False


def stop(workdir: str | os.PathLike = ".", timeout_s: float = 10) -> dict:
    """Stop the server started from ``workdir``; remove its pid and state files.

    Returns ``{"stopped": bool, "pid": int | None, "message": str}``; ``stopped`` is False when
    none was running (a stale pid file is cleaned up and said so).
    """
    paths = _paths(workdir)
    if not paths["dir"].is_dir():
        return {"stopped": False, "pid": None, "message": "no MLflow server is running from here"}
    with _locked(paths):
        state = _read_state(paths)
        if state is None:
            return {"stopped": False, "pid": None, "message": "no MLflow server is running from here"}
        pid = state["pid"]
        if not _alive(pid, state.get("proc_start_ticks")):
            _remove_state(paths)
            return {"stopped": False, "pid": pid, "message": f"no MLflow server is running (removed stale pid file for pid {pid})"}
        killed = _terminate_group(pid, timeout_s)
        _remove_state(paths)
        how = "killed after SIGTERM timed out" if killed else "stopped"
        return {"stopped": True, "pid": pid, "message": f"MLflow server (pid {pid}, {state.get('url', '?')}) {how}"}


def status(workdir: str | os.PathLike = ".") -> dict | None:
    """The running server's state, or None when there is none.

    A dict with ``running`` True has ``pid``, ``url``, ``healthy``, ``uptime_s``, the URIs,
    ``processes`` and ``rss_mb`` (the whole process group). A stale pid file is removed and
    reported once as ``{"running": False, "stale_pid": pid, ...}``.
    """
    paths = _paths(workdir)
    state = _read_state(paths)
    if state is None:
        return None
    if not _alive(state["pid"], state.get("proc_start_ticks")):
        with _locked(paths):
            _remove_state(paths)
        return {"running": False, "stale_pid": state["pid"],
                "message": f"removed stale pid file: process {state['pid']} is gone"}
    procs = group_processes(state["pid"]) if Path("/proc").is_dir() else []
    return {**state, "running": True, "healthy": health(state["url"]) if "url" in state else False,
            "uptime_s": round(time.time() - state["started_at"], 1) if "started_at" in state else None,
            "processes": len(procs), "rss_mb": round(sum(r for _, r in procs) / 2**20, 1)}

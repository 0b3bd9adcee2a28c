"""``tasksweep server start|stop|status``: registered by ``add_cli(subparsers)``.

Handlers print human-readable lines; errors are ``ServerError`` (the CLI prints one line, exit 2).
"""

from __future__ import annotations

import argparse
import json

from mlflow_server._server import ADMIN_USERNAME, MODEL_TRAINING_VIEW, is_loopback, start, status, stop


def _start(args: argparse.Namespace) -> None:
    info = start(host=args.host, port=args.port, backend_store_uri=args.backend_store_uri,
                 artifacts_destination=args.artifacts_destination, allowed_hosts=args.allowed_hosts,
                 basic_auth=args.basic_auth)
    print(f"MLflow server running: {info.url}  (pid {info.pid}, healthy after {info.seconds_to_healthy:.1f} s)")
    if not is_loopback(info.host):
        print(f"  bound to {info.host}; other machines reach it as one of: {info.allowed_hosts}")
        print("  note: basic auth over plain HTTP sends passwords in clear; put a TLS proxy in front")
    print(f"  open {info.url} in a browser")
    print(f"  sweeps (model-training view): {info.url}/#/experiments{MODEL_TRAINING_VIEW}")
    print(f"  point sweeps at it: tasksweep ... --tracking-uri {info.url}")
    print(f"                  or: export MLFLOW_TRACKING_URI={info.url}")
    if info.basic_auth:
        print(f"  basic auth: user '{ADMIN_USERNAME}'; clients set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD")
        if info.admin_password_file:
            print(f"  generated admin password in {info.admin_password_file} (mode 0600)")
    print(f"  backend store: {info.backend_store_uri}")
    print(f"  artifacts:     {info.artifacts_destination}")
    print(f"  log:           {info.log_path}")
    print("  stop it with: tasksweep server stop")


def _stop(args: argparse.Namespace) -> None:
    print(stop()["message"])


def _status(args: argparse.Namespace) -> None:
    s = status()
    if args.json:
        print(json.dumps(s, indent=1))
    elif s is None:
        print("no MLflow server is running from here (start one with 'tasksweep server start')")
    elif not s["running"]:
        print(f"no MLflow server is running from here ({s['message']})")
    else:
        print(f"url:     {s.get('url')}")
        print(f"pid:     {s['pid']} ({s['processes']} processes, {s['rss_mb']:.0f} MB RSS)")
        print(f"health:  {'OK' if s['healthy'] else 'NOT OK (see the log)'}")
        if s.get("uptime_s") is not None:
            print(f"uptime:  {s['uptime_s']:.0f} s")
        print(f"backend: {s.get('backend_store_uri')}")
        print(f"artifacts: {s.get('artifacts_destination')}")
        print(f"log:     {s.get('log_path')}")


def add_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``server`` with ``start``/``stop``/``status`` on a ``add_subparsers()`` object."""
    server = subparsers.add_parser("server", help="start/stop/status of a local MLflow tracking server")
    sub = server.add_subparsers(dest="server_command", required=True)
    st = sub.add_parser("start", help="start a detached MLflow server for this folder and wait until healthy")
    st.add_argument("--host", default="127.0.0.1",
                    help="interface to bind (default 127.0.0.1); a non-loopback host needs --allowed-hosts and --basic-auth")
    st.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    st.add_argument("--backend-store-uri", default="sqlite:///mlflow.db",
                    help="runs database (default sqlite:///mlflow.db in this folder, where sweeps write by default; "
                         "or postgresql://..., mysql://...)")
    st.add_argument("--artifacts-destination", default="./mlartifacts",
                    help="folder where the server stores artifacts it proxies (default ./mlartifacts)")
    st.add_argument("--allowed-hosts", default=None,
                    help="comma-separated Host headers MLflow accepts (e.g. mlflow.lab.example,10.0.0.5:5000)")
    st.add_argument("--basic-auth", action="store_true",
                    help="MLflow's basic-auth app (user 'admin'; password from MLFLOW_AUTH_ADMIN_PASSWORD or generated)")
    st.set_defaults(func=_start)
    sub.add_parser("stop", help="stop the server started from this folder").set_defaults(func=_stop)
    ss = sub.add_parser("status", help="is it running, its URL, pid and health")
    ss.add_argument("--json", action="store_true", help="machine-readable output")
    ss.set_defaults(func=_status)
    return server

"""A real MLflow tracking server for tasksweep: ``start``, ``stop``, ``status`` and the CLI.

Stands alone: imports neither ``trainables`` nor ``sweeps``.
"""

from mlflow_server._cli import add_cli
from mlflow_server._server import ServerError, ServerInfo, start, status, stop

__all__ = ["ServerError", "ServerInfo", "add_cli", "start", "status", "stop"]

"""``tasksweep report``/``promote``, the registered model and the champion check never import Ray:
importing it costs seconds, and a machine that only reads MLflow need not have a working Ray."""

import subprocess
import sys

RAY_FREE = ["sweeps.cli", "sweeps.report", "sweeps.promote", "sweeps.pyfunc_model", "sweeps.champion_check",
            "sweeps.mlflow_layout", "sweeps.checkpoint", "sweeps.demo", "sweeps.seeds"]


def test_report_promote_and_the_model_do_not_import_ray():
    code = f"import {', '.join(RAY_FREE)}; import sys; assert 'ray' not in sys.modules, 'ray was imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]

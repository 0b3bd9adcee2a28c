"""``tasksweep demo``: the embedded default end to end, in one command.

Sweep ``sweeps/demo.yaml`` (tables logged to MLflow), promote the best trial among those at
least as good as the MSE-only network in validation mAP and PSNR (the file's ``promote.where``;
if none is, say so plainly and promote nothing), then load the champion in a fresh process (``sweeps.champion_check``, as a user would) and print what it did
on a photo it never saw, in the terms of what the model declares it returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sweeps.console import progress
from trainables.errors import UserInputError

DEMO_FILE = "demo.yaml"


def check_summary(seen: dict) -> str:
    """One line from ``sweeps.champion_check``'s JSON, by the model's io kind."""
    kind, shape = seen["io"]["kind"], "×".join(map(str, seen["shape"]))
    if kind == "images" and "psnr_denoised" in seen:
        return f"champion on a new noisy photo (sigma={seen['sigma']:g}): PSNR {seen['psnr_noisy']:.2f} dB -> {seen['psnr_denoised']:.2f} dB"
    if kind == "images":
        return (f"champion on a new photo downscaled ×{seen['scale']}: PSNR {seen['psnr_model']:.2f} dB "
                f"(bicubic {seen['psnr_bicubic']:.2f} dB), output {shape}")
    if kind == "class_scores":
        return f"champion on {seen['shape'][0]} crops of a new photo: top classes {', '.join(seen['top_classes'])}"
    if kind == "score_distribution":
        return f"champion on {seen['shape'][0]} crops of a new photo: mean scores {seen['mean_scores']}"
    if kind == "descriptors":
        return f"champion on a new photo: unit descriptors {shape}" + (
            f", cosine of the clean and the noisy photo's {seen['cosine_clean_noisy']}" if "cosine_clean_noisy" in seen else "")
    return f"champion on random features: output {shape} {seen['dtype']}"


def run_demo(tracking_uri: str) -> int:
    from sweeps.launch import launch
    from sweeps.mlflow_layout import browse_lines
    from sweeps.promote import promote
    from sweeps.spec import SWEEPS_DIR, load_sweep

    spec = load_sweep(SWEEPS_DIR / DEMO_FILE)
    progress(f"demo: a two-objective sweep of {spec.scheme} on embedded-landmarks; ~12 min on 2 CPU cores")
    outcome = launch(spec, tracking_uri, base_dir=SWEEPS_DIR)
    if outcome.interrupted:
        return 130
    try:
        result = promote(tracking_uri, spec.name)
    except UserInputError as err:
        where = " and ".join(spec.promote.get("where", []))
        print(f"no trial of this sweep is at least as good as the MSE-only network (NN) in both validation mAP and "
              f"PSNR ({where}), so nothing was promoted: {err}")
        print(f"  tables:   tasksweep report --experiment {spec.name}   # the Pareto front beside the NN row")
        print(f"  choose:   tasksweep promote --experiment {spec.name} --where 'val_psnr>=25'   # your own constraint")
        return 0
    print(result.message)
    model_uri = f"models:/{result.model_name}@champion"
    progress(f"loading {model_uri} in a fresh process and running it on a photo it never saw")
    check = subprocess.run([sys.executable, "-m", "sweeps.champion_check", model_uri], capture_output=True, text=True,
                           env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
    if check.returncode != 0:
        print(check.stdout[-2000:] + check.stderr[-2000:], file=sys.stderr)
        return 1
    print(check_summary(json.loads(check.stdout.strip().splitlines()[-1])))
    print("\n".join(browse_lines(tracking_uri, spec.name, outcome.parent_run_id, (result.model_name, result.version))))
    print(f"""
Next steps:
  browse:   tasksweep server start        # then open the links above (experiment '{spec.name}')
  try it:   tasksweep ui                  # then open http://127.0.0.1:5001: your image, champion beside baseline
  tables:   tasksweep report --experiment {spec.name}
  load it:  MLFLOW_TRACKING_URI={tracking_uri} python -c "import mlflow; m = mlflow.pyfunc.load_model('{model_uri}'); print(m.metadata.signature)"
  paper preset: tasksweep launch sweeps/qair_denoise.yaml   (or --smoke for a 1-minute run)""")
    return 0

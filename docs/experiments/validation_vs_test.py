"""Does a sweep's validation split pick the trials that hold up on test?

`tasksweep seeds` reads only each seed's best trial (by the first objective, as promote picks).
This script reads every finished trial of `<name>_seed<K>` and prints, per trial, its gain over a
baseline on validation and on test (by default the QAIR gain over the MSE-only NN: val_map −
val_map_nn and test_map − test_map_nn, with test_psnr − test_psnr_nn where logged), then per
seed the Spearman rank correlation of the two gains and how many trials beat the baseline on
test. A correlation near 0 (or below) means validation picks at random (or against test).

    python docs/experiments/validation_vs_test.py qair_denoise_sigma90 --seeds 0 1 2

The Spearman figures and trial counts in README's seed-000 section come from this script, run
against the MLflow store their `tasksweep seeds` filled (`--tracking-uri`, default
sqlite:///mlflow.db).
"""

from __future__ import annotations

import argparse
import sys
from math import isnan, nan

from mlflow import MlflowClient
from scipy.stats import spearmanr

from sweeps.mlflow_layout import finished_trials


def gains(client: MlflowClient, experiment: str, metric: str, baseline: str) -> list[dict]:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        print(f"no MLflow experiment '{experiment}' in this store", file=sys.stderr)
        raise SystemExit(2)
    runs = finished_trials(client, found.experiment_id)
    # the searched parameters are the ones that differ between trials
    searched = sorted(k for k in set().union(*(r.data.params for r in runs))
                      if len({r.data.params.get(k) for r in runs}) > 1)
    return [{"params": {k: r.data.params.get(k) for k in searched},
             "val": r.data.metrics[f"val_{metric}"] - r.data.metrics[f"val_{baseline}"],
             "test": r.data.metrics[f"test_{metric}"] - r.data.metrics[f"test_{baseline}"],
             "psnr": r.data.metrics.get("test_psnr", nan) - r.data.metrics.get("test_psnr_nn", nan)}
            for r in runs]


def _short(value: str | None) -> str:
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description="validation gain against test gain, every trial")
    parser.add_argument("name", help="the sweep name; seed K's experiment is <name>_seed<K>")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--metric", default="map", help="val_<metric> and test_<metric> (default: map)")
    parser.add_argument("--baseline", default="map_nn", help="val_<baseline> and test_<baseline> (default: map_nn)")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    args = parser.parse_args()
    client = MlflowClient(args.tracking_uri)
    above = total = 0
    for seed in args.seeds:
        rows = gains(client, f"{args.name}_seed{seed}", args.metric, args.baseline)
        for r in sorted(rows, key=lambda r: -r["val"]):
            params = " ".join(f"{k}={_short(v)}" for k, v in r["params"].items())
            psnr = "" if isnan(r["psnr"]) else f"  psnr {r['psnr']:+.2f} dB"
            print(f"seed {seed}  {params:24s} val {r['val']:+.4f}  test {r['test']:+.4f}{psnr}")
        rho = spearmanr([r["val"] for r in rows], [r["test"] for r in rows]).statistic if len(rows) > 1 else nan
        print(f"seed {seed}: Spearman(val gain, test gain) {rho:+.2f} over {len(rows)} trials")
        above += sum(r["test"] > 0 for r in rows)
        total += len(rows)
    print(f"trials above the baseline on test: {above}/{total}")


if __name__ == "__main__":
    main()

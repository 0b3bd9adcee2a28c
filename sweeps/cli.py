"""The ``tasksweep`` command line.

It only parses and dispatches: each subcommand's work lives in its own module (``launch``,
``report``, ``seeds``, ``promote``, ``demo``, ``bench``). Every subcommand validates its input
before doing any work: a ``UserInputError`` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from mlflow_server import ServerError
from mlflow_server import add_cli as add_server_cli
from sweeps.console import progress, sigterm_as_ctrl_c
from trainables.errors import UserInputError


def _print_card(card: dict) -> None:
    for key, value in card.items():
        if key == "sources":
            print("sources:")
            for s in value:
                print(f"  - {s['name']}: {s['licence']}; {s['attribution']} ({s['origin']})")
        elif isinstance(value, float):
            print(f"{key}: {value:.4f}")
        elif isinstance(value, dict):
            print(f"{key}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()))
        else:
            print(f"{key}: {value}")


def cmd_data_describe(args: argparse.Namespace) -> None:
    from trainables.data.catalog import describe

    card = describe(args.name, progress=progress)
    if args.json:
        print(json.dumps(card, indent=1))
    else:
        _print_card(card)


def cmd_data_list(args: argparse.Namespace) -> None:
    from trainables.data.catalog import EMBEDDED
    from trainables.data.real import REAL_DATASETS

    print("embedded (built offline from images inside installed wheels):")
    for name in EMBEDDED:
        print(f"  {name}")
    print("real (read from a local root, never downloaded):")
    for name in REAL_DATASETS:
        print(f"  {name}")


def cmd_data_check(args: argparse.Namespace) -> None:
    from trainables.data.real import load_real
    from trainables.data.retrieval_set import RetrievalSet

    dataset = load_real(args.name, args.root)
    if isinstance(dataset, RetrievalSet):
        print(f"{args.name}: {len(dataset.imlist)} database images, {len(dataset.qimlist)} queries in {args.root}")
    else:
        classes = getattr(dataset, "classes", None)
        extra = f", {len(classes)} classes" if classes else ""
        print(f"{args.name}: {len(dataset)} items{extra} in {args.root}")


def cmd_schemes(args: argparse.Namespace) -> None:
    import yaml

    from sweeps.search_space import SEARCH_SPACE_DIR
    from trainables.registry import SCHEMES

    for name, scheme in SCHEMES.items():
        print(f"{name}: {scheme.description}")
        space_file = SEARCH_SPACE_DIR / f"{name}.yaml"
        space = yaml.safe_load(space_file.read_text()) if space_file.is_file() else {}
        for param, dist in space.items():
            bounds = dist.get("values") if dist.get("type") == "choice" else f"[{dist.get('low')}, {dist.get('high')}]"
            print(f"  {param}: {dist.get('type')} {bounds}")


def cmd_launch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sweeps.launch import launch
    from sweeps.mlflow_layout import default_tracking_uri
    from sweeps.spec import load_sweep

    spec = load_sweep(args.sweep, smoke=args.smoke, assignments=args.set)
    outcome = launch(spec, default_tracking_uri(args.tracking_uri), address=args.address,
                     storage_path=args.storage_path, base_dir=Path(args.sweep).parent, optuna_url=args.optuna_storage)
    return _after_sweep(outcome, default_tracking_uri(args.tracking_uri))


def cmd_resume(args: argparse.Namespace) -> int:
    from sweeps.launch import resume
    from sweeps.mlflow_layout import SweepState

    outcome = resume(args.sweep_dir)
    return _after_sweep(outcome, SweepState(outcome.sweep_dir / "tasksweep.json").read()["tracking_uri"])


def _after_sweep(outcome, tracking_uri: str) -> int:
    if outcome.interrupted:
        return 130
    from sweeps.launch import STATE_NAME
    from sweeps.mlflow_layout import SweepState, browse_lines

    print(f"sweep '{outcome.experiment}' finished: MLflow experiment '{outcome.experiment}', parent run {outcome.parent_run_id}")
    print("\n".join(browse_lines(tracking_uri, outcome.experiment, outcome.parent_run_id)))
    study = SweepState(outcome.sweep_dir / STATE_NAME).read().get("optuna")
    if study:
        print(f"  optuna:   optuna-dashboard {study['storage']}   # study '{study['study_name']}' (pip install optuna-dashboard)")
    print(f"  tables:   tasksweep report --experiment {outcome.experiment} --tracking-uri {tracking_uri}")
    print(f"  promote:  tasksweep promote --experiment {outcome.experiment} --tracking-uri {tracking_uri}")
    return 0


def cmd_report(args: argparse.Namespace) -> None:
    from sweeps.mlflow_layout import default_tracking_uri
    from sweeps.report import report_experiment

    report_experiment(default_tracking_uri(args.tracking_uri), args.experiment, args.out)


def cmd_seeds(args: argparse.Namespace) -> int:
    from sweeps.mlflow_layout import default_tracking_uri
    from sweeps.seeds import report_seeds

    done = report_seeds(args.sweep, args.seeds, args.compare, args.smoke, args.set, default_tracking_uri(args.tracking_uri),
                        args.out, launch_sweeps=not args.no_launch, by=args.by)
    return 0 if done else 130


def cmd_promote(args: argparse.Namespace) -> None:
    from sweeps.mlflow_layout import browse_lines, default_tracking_uri
    from sweeps.promote import promote

    uri = default_tracking_uri(args.tracking_uri)
    result = promote(uri, args.experiment, model_name=args.model_name, select_metric=args.metric, where=args.where)
    print(result.message)
    print(f"registered: models:/{result.model_name}/{result.version} (from trial run {result.source_run_id})")
    print(f"load it:    mlflow.pyfunc.load_model('models:/{result.model_name}@champion')  # MLFLOW_TRACKING_URI={uri}")
    print(f"try it:     tasksweep ui --tracking-uri {uri}   # then open http://127.0.0.1:5001")
    print("\n".join(browse_lines(uri, args.experiment, result.source_run_id, (result.model_name, result.version))))


def cmd_bench_overhead(args: argparse.Namespace) -> None:
    from sweeps.bench import DEFAULT_SWEEP, overhead

    result = overhead(args.sweep or DEFAULT_SWEEP, trials=args.trials, smoke=not args.full, assignments=args.set)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    size = ("smoke" if result["smoke"] else "full") + "".join(f", {a}" for a in result["set"])
    print(f"{result['trials']} trials of {result['sweep_file']} ({size}), one at a time, {result['cpu_per_trial']:g} CPU each:")
    print(f"  sweep (Ray Tune + Optuna + MLflow): {result['sweep_wall_s']:8.2f} s")
    print(f"  stock recipe (Tuner + OptunaSearch + MLflowLoggerCallback, no tasksweep): {result['stock_wall_s']:8.2f} s"
          f"  (ratio {result['stock_ratio']:.3f})")
    print(f"  plain Python loop:                  {result['loop_wall_s']:8.2f} s")
    print(f"  ratio: {result['ratio']:.3f}  ({result['overhead_per_trial_s']:.2f} s overhead per trial)")
    print("  where the sweep's extra seconds went:")
    for part, value in result["breakdown_s"].items():
        print(f"    {part:18s} {value:8.2f} s")


def cmd_bench_load(args: argparse.Namespace) -> None:
    from sweeps.bench_sweeps import load

    for key in ("trials", "concurrent", "epochs"):
        if getattr(args, key) < 1:
            raise UserInputError(f"--{key} must be at least 1, got {getattr(args, key)}")
    if not 0 < args.cpu <= 64:
        raise UserInputError(f"--cpu must be in (0, 64], got {args.cpu:g}")
    result = load(args.trials, args.concurrent, args.cpu, args.epochs, tuple(args.store or ("sqlite", "server")))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['trials']} smoke trials, {result['concurrent']} at a time, {result['cpu_per_trial']:g} CPU each, "
          f"{result['epochs']} epochs:")
    for store, found in result["stores"].items():
        print(f"  {store:7s} wall {found['wall_s']:7.1f} s   driver peak RSS {found['driver_peak_rss_mb']:7.1f} MB   "
              f"complete runs {found['complete_runs']}/{result['trials']}   'database is locked' lines: {found['database_locked_lines']}")


def cmd_bench_concurrency(args: argparse.Namespace) -> None:
    from sweeps.bench_sweeps import concurrency

    if min(args.trials, args.epochs, args.steps_per_epoch) < 1:
        raise UserInputError("--trials, --epochs and --steps-per-epoch must be at least 1")
    result = concurrency(args.trials, args.epochs, args.steps_per_epoch)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{result['trials']} qair smoke trials ({result['epochs']} epochs of {result['steps_per_epoch']} steps):")
    for mode, found in result["modes"].items():
        print(f"  {mode:16s} wall {found['wall_s']:7.1f} s   mean trial {found['mean_trial_s']:6.2f} s")
    print(f"  ratio (2 at once ÷ 1 at once): {result['ratio']:.3f}; a trial on 2 threads is "
          f"{result['thread_speedup']:.2f}× as fast as on 1")


def cmd_bench_cache(args: argparse.Namespace) -> None:
    from sweeps.bench_sweeps import cache

    if args.trials < 1:
        raise UserInputError(f"--trials must be at least 1, got {args.trials}")
    result = cache(args.trials)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"qair smoke sweep, {result['trials']} trials: cold cache {result['cold_wall_s']:.1f} s, "
          f"warm cache {result['warm_wall_s']:.1f} s, ratio {result['ratio']:.2f}")


def cmd_ui(args: argparse.Namespace) -> None:
    from mlflow_server._server import admin_password, is_loopback
    from sweeps.mlflow_layout import default_tracking_uri, mlflow_ui_url
    from sweeps.ui_app import check_bind, serve

    check_bind(args.host, args.port, args.allowed_hosts, args.basic_auth)
    uri = default_tracking_uri(args.tracking_uri)
    ui = args.mlflow_ui or mlflow_ui_url(uri)
    password = admin_password() if args.basic_auth else None
    host = args.host if is_loopback(args.host) or ":" not in args.host else f"[{args.host}]"
    print(f"tasksweep ui: http://{host}:{args.port}/  (models from {uri})", flush=True)
    print(f"  MLflow UI links: {ui}" if ui else "  no MLflow UI links: start 'tasksweep server start' here, or pass --mlflow-ui URL",
          flush=True)
    print("  stop it with Ctrl-C", flush=True)
    serve(args.host, args.port, uri, ui, args.allowed_hosts, password)


def cmd_bench_ui(args: argparse.Namespace) -> None:
    from sweeps.bench import ui_latency
    from sweeps.mlflow_layout import default_tracking_uri

    result = ui_latency(default_tracking_uri(args.tracking_uri), args.model, args.version, args.size, args.requests)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"tasksweep ui, {result['model']} v{result['version']} ({result['scheme']}), a {result['size']}×{result['size']} PNG, "
          f"degradation {result['degradation']}, {result['threads']} torch threads:")
    print(f"  loading the model (first request for a version): {result['load_s']:.2f} s")
    print(f"  per request: {', '.join(f'{s:.2f}' for s in result['seconds'])} s  (median {result['median_s']:.2f} s; model already loaded)")


def cmd_demo(args: argparse.Namespace) -> int:
    from sweeps.demo import run_demo
    from sweeps.mlflow_layout import default_tracking_uri

    return run_demo(default_tracking_uri(args.tracking_uri))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasksweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="datasets: list them, describe one").add_subparsers(dest="data_command", required=True)
    describe = data.add_parser("describe", help="print a dataset's data card (builds and measures it on first use)")
    describe.add_argument("name", help="an embedded dataset, e.g. embedded-landmarks or embedded-digits")
    describe.add_argument("--json", action="store_true", help="machine-readable output")
    describe.set_defaults(func=cmd_data_describe)
    data.add_parser("list", help="list the known datasets").set_defaults(func=cmd_data_list)
    check = data.add_parser("check", help="check that a local copy of a real dataset has the expected layout")
    check.add_argument("name", help="a real dataset name (see 'tasksweep data list')")
    check.add_argument("--root", required=True, help="folder holding your local copy")
    check.set_defaults(func=cmd_data_check)

    add_server_cli(sub)

    ui = sub.add_parser("ui", help="a web page to try registered models on your own images, beside a baseline")
    ui.add_argument("--host", default="127.0.0.1",
                    help="interface to bind (default 127.0.0.1); a non-loopback host needs --allowed-hosts and --basic-auth")
    ui.add_argument("--port", type=int, default=5001, help="port (default 5001; the MLflow server's default is 5000)")
    ui.add_argument("--allowed-hosts", default=None, help="comma-separated Host headers to accept, as for 'server start'")
    ui.add_argument("--basic-auth", action="store_true",
                    help="require user 'admin' and the MLflow server's admin password (MLFLOW_AUTH_ADMIN_PASSWORD or the generated one)")
    ui.add_argument("--mlflow-ui", help="MLflow UI base URL for links (default: the tracking server, or 'tasksweep server' started here)")
    _tracking(ui)
    ui.set_defaults(func=cmd_ui)

    demo = sub.add_parser("demo", help="the embedded default end to end: sweep, tables, champion, next steps")
    _tracking(demo)
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("schemes", help="list the schemes and their search spaces").set_defaults(func=cmd_schemes)

    launch = sub.add_parser("launch", help="run a sweep file")
    launch.add_argument("sweep", help="a sweep YAML file, e.g. sweeps/qair_denoise.yaml")
    launch.add_argument("--smoke", action="store_true", help="shrink it to a CPU-minutes run (the scheme's smoke sizes, then the file's 'smoke' section)")
    launch.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field, e.g. fixed.sigma=90")
    launch.add_argument("--address", help="join an existing Ray cluster (e.g. 10.0.0.5:6379); default: a local loopback-only Ray")
    launch.add_argument("--storage-path", help="where Ray keeps trial state (shared storage for multi-node); default ./ray_results")
    launch.add_argument("--optuna-storage", metavar="URL",
                        help="Optuna RDB storage for the study (e.g. postgresql://...); default sqlite:///<sweep folder>/optuna.db")
    _tracking(launch)
    launch.set_defaults(func=cmd_launch)

    resume_p = sub.add_parser("resume", help="finish an interrupted sweep")
    resume_p.add_argument("sweep_dir", help="the sweep folder printed when it was interrupted")
    resume_p.set_defaults(func=cmd_resume)

    report = sub.add_parser("report", help="print a sweep's tables and write them as Markdown and CSV")
    report.add_argument("--experiment", required=True, help="MLflow experiment (= sweep name)")
    report.add_argument("--out", help="folder for the .md/.csv files (default reports/<experiment>)")
    _tracking(report)
    report.set_defaults(func=cmd_report)

    seeds = sub.add_parser("seeds", help="one sweep file over several seeds; compare held-out metrics of each seed's best trial")
    seeds.add_argument("sweep", help="a sweep YAML file")
    seeds.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    seeds.add_argument("--compare", action="append", default=[], required=True, metavar="A:B",
                       help="does metric A beat metric B? e.g. test_acc_avg:test_acc_recnet_multi_avg; a * in both (test_map_s*:test_map_nn_s*) pools every fold or σ of every seed as pairs (repeatable)")
    seeds.add_argument("--smoke", action="store_true", help="the scheme's smoke sizes, then the file's 'smoke' section")
    seeds.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field for every seed")
    seeds.add_argument("--by", metavar="PARAM", help="also compare every trial, per value of this searched parameter (e.g. a grid over gamma)")
    seeds.add_argument("--no-launch", action="store_true", help="only read the seeds' sweeps already in MLflow")
    seeds.add_argument("--out", help="folder for the .md/.csv files (default reports/<name>_seeds)")
    _tracking(seeds)
    seeds.set_defaults(func=cmd_seeds)

    promote = sub.add_parser("promote", help="register the best trial's model; move alias 'champion' if it beats the current one")
    promote.add_argument("--experiment", required=True, help="MLflow experiment (= sweep name)")
    promote.add_argument("--model-name", help="registered model name (default: the sweep file's promote.model_name)")
    promote.add_argument("--metric", help="metric that picks the best trial (default: the sweep's first objective)")
    promote.add_argument("--where", action="append", metavar="CONSTRAINT",
                         help="only trials with METRIC>=VALUE (or <=, >, <; VALUE a number or another metric, e.g. "
                              "val_psnr>=val_psnr_nn); repeatable; default: the sweep file's promote.where")
    _tracking(promote)
    promote.set_defaults(func=cmd_promote)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench_command", required=True)
    over = bench.add_parser("overhead", help="the same trials as a sweep and as a plain loop, side by side")
    over.add_argument("--sweep", help="sweep file (default: sweeps/qair_denoise.yaml)")
    over.add_argument("--trials", type=int, default=4)
    over.add_argument("--full", action="store_true", help="the sweep file's full size instead of its smoke size")
    over.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a sweep field")
    over.add_argument("--json", action="store_true")
    over.set_defaults(func=cmd_bench_overhead)
    load_bench = bench.add_parser("load", help="many small trials at once against SQLite and a real server, checked in MLflow after")
    load_bench.add_argument("--trials", type=int, default=200)
    load_bench.add_argument("--concurrent", type=int, default=8, help="trials at once (default 8)")
    load_bench.add_argument("--cpu", type=float, default=0.25, help="CPUs per trial (default 0.25)")
    load_bench.add_argument("--epochs", type=int, default=2)
    load_bench.add_argument("--store", action="append", choices=["sqlite", "server"],
                            help="tracking store(s) to load (default: both)")
    load_bench.add_argument("--json", action="store_true")
    load_bench.set_defaults(func=cmd_bench_load)
    conc = bench.add_parser("concurrency", help="2 trials at once on 1 CPU each vs one at a time on 2 CPUs each")
    conc.add_argument("--trials", type=int, default=4)
    conc.add_argument("--epochs", type=int, default=2)
    conc.add_argument("--steps-per-epoch", type=int, default=1000, help="training steps per epoch (default 1000: trials of about 10 s)")
    conc.add_argument("--json", action="store_true")
    conc.set_defaults(func=cmd_bench_concurrency)
    cache_bench = bench.add_parser("cache", help="the same smoke sweep from an empty stage cache, then with it")
    cache_bench.add_argument("--trials", type=int, default=2)
    cache_bench.add_argument("--json", action="store_true")
    cache_bench.set_defaults(func=cmd_bench_cache)
    ui_bench = bench.add_parser("ui", help="seconds per 'tasksweep ui' answer for a photo, through the real app")
    ui_bench.add_argument("--model", required=True, help="registered model name, e.g. qair_denoise")
    ui_bench.add_argument("--version", default="champion", help="version or alias (default champion)")
    ui_bench.add_argument("--size", type=int, default=512, help="photo side in pixels (default 512)")
    ui_bench.add_argument("--requests", type=int, default=5)
    ui_bench.add_argument("--json", action="store_true")
    _tracking(ui_bench)
    ui_bench.set_defaults(func=cmd_bench_ui)
    return parser


def _tracking(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sigterm_as_ctrl_c()  # a sweep installs it again once Ray is up: ray.init replaces it
    try:
        code = args.func(args)
    except (UserInputError, ServerError) as e:
        print(f"tasksweep: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tasksweep: interrupted", file=sys.stderr)
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``tasksweep`` command line.

Every subcommand validates its input before doing any work: a ``UserInputError`` becomes one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from trainables.errors import UserInputError

_T0 = time.monotonic()


def progress(message: str) -> None:
    """Progress lines go to stderr so that ``--json`` output on stdout stays parseable."""
    print(f"[tasksweep {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserInputError as e:
        print(f"tasksweep: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tasksweep: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

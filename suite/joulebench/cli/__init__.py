"""The `joulebench` command line.

Each command group lives in the module of the noun it acts on and exposes
`register(subparsers)`; this file only assembles them and turns a
JoulebenchError into a message and an exit code (2 for bad input).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from joulebench import __version__
from joulebench.errors import JoulebenchError

# Modules that add commands; imported lazily so `joulebench schema` never pulls torch.
COMMAND_MODULES = [
    "joulebench.cli.catalog",
    "joulebench.measure.runner",
    "joulebench.importers",
    "joulebench.certify.checks",
    "joulebench.certify.certificates",
    "joulebench.cli.score",
    "joulebench.scoring.sandbox",
    "joulebench.board",
    "joulebench.cli.launch",
    "joulebench.cli.slurm",
]


def emit_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="joulebench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"joulebench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except JoulebenchError as exc:
        sys.stderr.write(f"joulebench: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("joulebench: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())

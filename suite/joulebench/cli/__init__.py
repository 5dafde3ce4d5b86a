"""The `joulebench` command line.

All argparse code lives in this package and nothing else does: each module
here adds one group of commands with `register(subparsers)` and calls the
domain modules, which never print or parse arguments themselves. This file
assembles the groups (a registry, so a plugin package can add commands through
the `joulebench.commands` entry-point group) and turns a JoulebenchError into
a message and an exit code (2 for bad input).
"""

from __future__ import annotations

import sys

from joulebench import __version__
from joulebench.cli.arguments import Parser
from joulebench.errors import JoulebenchError
from joulebench.registry import Registry

# Each registers its commands; imported when the parser is built, and each keeps
# its heavy imports inside its handlers, so `joulebench schema` never pulls torch.
COMMANDS: Registry = Registry(
    "command group",
    {
        "catalog": "joulebench.cli.catalog:register",  # validate, schema, workloads, profiles
        "run": "joulebench.cli.run:register",
        "import": "joulebench.cli.imports:register",
        "certify": "joulebench.cli.certify:register",  # certify, verify, keygen
        "score": "joulebench.cli.score:register",  # estimators, score
        "sandbox": "joulebench.cli.sandbox:register",
        "submit": "joulebench.cli.submit:register",  # submit check, submit packages
        "leaderboard": "joulebench.cli.board:register",
        "launch": "joulebench.cli.launch:register",
        "slurm": "joulebench.cli.slurm:register",
    },
    group="joulebench.commands",
)


def build_parser() -> Parser:
    parser = Parser(prog="joulebench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"joulebench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS.entries():
        COMMANDS.load(name)(subparsers)
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

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
from joulebench.cli.output import clean
from joulebench.errors import JoulebenchError, ReportedElsewhere
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


MAX_ERROR_LINES = 30


def error_text(message: object) -> str:
    """An error for a terminal: control characters removed, at most MAX_ERROR_LINES lines of at most 500 characters."""
    lines = [clean(line) for line in str(message).splitlines()] or [""]
    lines = [line if len(line) <= 500 else line[:500] + "...(cut)" for line in lines]
    if len(lines) > MAX_ERROR_LINES:
        lines = lines[:MAX_ERROR_LINES] + [f"... and {len(lines) - MAX_ERROR_LINES} more line(s)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ReportedElsewhere as exc:
        return exc.exit_code  # another rank of the same run printed the error
    except JoulebenchError as exc:
        sys.stderr.write(f"joulebench: error: {error_text(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("joulebench: interrupted\n")
        return 130
    except OSError as exc:
        # A path the user named that the command could not use (each reader names its own problems; this
        # is the net under them): the file and the reason, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"joulebench: error: {error_text(where)}{exc.strerror or type(exc).__name__}\n")
        return 2
    except RecursionError:
        sys.stderr.write("joulebench: error: the input is nested too deeply to read\n")
        return 2

"""`joulebench import`: a published study's metered runs as a reference site."""

from __future__ import annotations

import sys
from pathlib import Path

from joulebench.cli import output
from joulebench.cli.arguments import commit, identifier
from joulebench.errors import InputError
from joulebench.files import clip
from joulebench.importers import IMPORTERS, SUMMARIES, get_importer


def _import_command(args) -> int:
    importer = get_importer(args.importer)
    source = Path(args.source)
    if not source.is_dir():
        raise InputError(f"{source}: {'not found' if not source.exists() else 'not a folder'}; expected the folder "
                         "holding the study's released files")
    try:
        outcome = importer(source, args.site, Path(args.out), commit=args.commit, replace=args.replace)
    except (ValueError, ArithmeticError, RecursionError, UnicodeError) as exc:
        # The net under an importer's own checks: a value in the study's files it could not convert
        # (an integer of thousands of digits, a number that overflows), named without a traceback.
        raise InputError(f"{source}: the study's files hold a value the {args.importer} importer cannot read "
                         f"({type(exc).__name__}: {clip(exc, 160)}); nothing was imported") from None
    sys.stdout.write(output.clean(outcome.summary()) + "\n")
    return 0


def register(subparsers) -> None:
    names = ", ".join(f"{name}: {SUMMARIES.get(name, '(a plugin)')}" for name in IMPORTERS.names())
    parser = subparsers.add_parser(
        "import",
        help="import a published study's metered runs as a reference site",
        description=f"Importers: {names}",
    )
    parser.add_argument("importer", metavar="NAME", help=f"which study ({', '.join(IMPORTERS.names())})")
    parser.add_argument("source", metavar="DIR", help="the folder holding the study's released files")
    parser.add_argument(
        "--site", required=True, type=identifier, help="site id for the imported runs (e.g. fischer2025-desktop)"
    )
    parser.add_argument("--out", default="results", help="results folder (records go to OUT/SITE/)")
    parser.add_argument(
        "--commit",
        type=commit,
        default=None,
        help="the study repository's commit you downloaded (recorded in provenance; "
        "read from the checkout's .git when DIR is inside one)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="swap OUT/SITE/ for this import whole, removing records an earlier import wrote that this one "
        "does not (without it, such a folder is refused, never mixed)",
    )
    parser.set_defaults(handler=_import_command)

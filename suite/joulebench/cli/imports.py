"""`joulebench import`: a published study's metered runs as a reference site."""

from __future__ import annotations

import sys
from pathlib import Path

from joulebench.cli.arguments import commit, identifier
from joulebench.importers import IMPORTERS, SUMMARIES, get_importer


def _import_command(args) -> int:
    importer = get_importer(args.importer)
    outcome = importer(Path(args.source), args.site, Path(args.out), commit=args.commit, replace=args.replace)
    sys.stdout.write(outcome.summary() + "\n")
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

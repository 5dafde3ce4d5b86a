"""Importers of published ground-truth studies, one module per study.

`joulebench import NAME DIR --site SITE [--out results]` reads a study's
released files from DIR (downloaded by the user: joulebench does not
redistribute them) and writes one RunRecord per usable run, with provenance,
under OUT/SITE/, plus an import report that counts every skipped run.

The registry holds lazy "module:function" strings, so an importer's parsing
code loads only when chosen. Adding a study is one more file here and one
line below. Every importer function has the signature

    import_study(source: Path, site: str, out_dir: Path, commit: str | None, replace: bool) -> ImportOutcome
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

from joulebench.errors import InputError
from joulebench.formats import ID_PATTERN

IMPORTERS: dict[str, str] = {
    "fischer2025": "joulebench.importers.fischer2025:import_study",
}

SUMMARIES: dict[str, str] = {
    "fischer2025": (
        "Fischer 2025, 'Ground-Truthing AI Energy Consumption' (arXiv:2509.22092): wall-meter readings "
        "and CodeCarbon estimates for Keras vision and Ollama LLM runs on an RTX 4090 + i9-13900K desktop; "
        "DIR is the results/ folder of github.com/raphischer/ai-energy-validation"
    ),
}


def get_importer(name: str) -> Callable:
    """The import function registered under `name`; an unknown name lists the valid ones."""
    if name not in IMPORTERS:
        import difflib

        close = difflib.get_close_matches(name, list(IMPORTERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown importer {name!r}.{hint} Valid: {', '.join(sorted(IMPORTERS))}")
    module_name, _, function = IMPORTERS[name].partition(":")
    return getattr(importlib.import_module(module_name), function)


def _site_id(text: str) -> str:
    import argparse

    if not re.match(ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"expected lowercase letters, digits, '.', '_' or '-', got {text!r}")
    return text


def _commit(text: str) -> str:
    import argparse

    if not re.fullmatch(r"[0-9a-f]{7,40}", text):
        raise argparse.ArgumentTypeError(f"expected a git commit (7 to 40 lowercase hex digits), got {text!r}")
    return text


def _import_command(args) -> int:
    importer = get_importer(args.importer)
    outcome = importer(Path(args.source), args.site, Path(args.out), commit=args.commit, replace=args.replace)
    sys.stdout.write(outcome.summary() + "\n")
    return 0


def register(subparsers) -> None:
    names = ", ".join(f"{name}: {SUMMARIES[name]}" for name in sorted(IMPORTERS))
    parser = subparsers.add_parser(
        "import",
        help="import a published study's metered runs as a reference site",
        description=f"Importers: {names}",
    )
    parser.add_argument("importer", metavar="NAME", help=f"which study ({', '.join(sorted(IMPORTERS))})")
    parser.add_argument("source", metavar="DIR", help="the folder holding the study's released files")
    parser.add_argument(
        "--site", required=True, type=_site_id, help="site id for the imported runs (e.g. fischer2025-desktop)"
    )
    parser.add_argument("--out", default="results", help="results folder (records go to OUT/SITE/)")
    parser.add_argument(
        "--commit",
        type=_commit,
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

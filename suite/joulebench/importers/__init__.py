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
    "jay2023": "joulebench.importers.jay2023:import_study",
    "mlperf-inference-v3.0": "joulebench.importers.mlperf_inference:import_v3_0",
    "mlperf-inference-v4.1": "joulebench.importers.mlperf_inference:import_v4_1",
    "mlenergy-v2": "joulebench.importers.mlenergy_v2:import_study",
}

SUMMARIES: dict[str, str] = {
    "fischer2025": (
        "Fischer 2025, 'Ground-Truthing AI Energy Consumption' (arXiv:2509.22092): wall-meter readings "
        "and CodeCarbon estimates for Keras vision and Ollama LLM runs on an RTX 4090 + i9-13900K desktop; "
        "DIR is the results/ folder of github.com/raphischer/ai-energy-validation (no licence: not redistributed)"
    ),
    "jay2023": (
        "Jay, Ostapenco et al., CCGrid 2023: OmegaWatt wall-wattmeter truth (BMC as cross-check) and the "
        "CodeCarbon, carbontracker, experiment-impact-tracker and Energy Scope totals for NAS Parallel Benchmarks "
        "on a DGX-1; DIR is the root of github.com/vladostp/an-experimental-comparison-of-software-based-power-meters "
        "(CC BY-SA 4.0)"
    ),
    "mlperf-inference-v3.0": (
        "MLPerf Inference v3.0 closed-division power results: wall-analyser (PTDaemon) node energy over LoadGen's "
        "window, one record per measurement; DIR is the root of github.com/mlcommons/inference_results_v3.0 "
        "(Apache-2.0; derived from MLPerf Inference v3.0 results, not verified by MLCommons)"
    ),
    "mlperf-inference-v4.1": (
        "MLPerf Inference v4.1 closed-division power results, as v3.0; DIR is the root of "
        "github.com/mlcommons/inference_results_v4.1 (Apache-2.0; derived from MLPerf Inference v4.1 results, "
        "not verified by MLCommons)"
    ),
    "mlenergy-v2": (
        "ML.ENERGY leaderboard v2: Zeus (NVML) GPU energy of vLLM serving LLMs on A100 and H100, per "
        "configuration; DIR is the root of github.com/ml-energy/leaderboard-v2 (Apache-2.0)"
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

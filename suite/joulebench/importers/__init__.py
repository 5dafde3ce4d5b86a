"""Importers of published ground-truth studies, one module per study.

`joulebench import NAME DIR --site SITE [--out results]` reads a study's
released files from DIR (downloaded by the user: joulebench does not
redistribute them) and writes one RunRecord per usable run, with provenance,
under OUT/SITE/, plus an import report that counts every skipped run.

The registry holds lazy "module:function" strings, so an importer's parsing
code loads only when chosen. Adding a study is one more file here and one
line below (a package of its own declares an entry point in the
`joulebench.importers` group instead). Every importer function has the signature

    import_study(source: Path, site: str, out_dir: Path, commit: str | None) -> ImportOutcome
"""

from __future__ import annotations

from collections.abc import Callable

from joulebench.registry import Registry

IMPORTERS: Registry[Callable] = Registry(
    "importer",
    {"fischer2025": "joulebench.importers.fischer2025:import_study"},
    group="joulebench.importers",
)

SUMMARIES: dict[str, str] = {
    "fischer2025": (
        "Fischer 2025, 'Ground-Truthing AI Energy Consumption' (arXiv:2509.22092): wall-meter readings "
        "and CodeCarbon estimates for Keras vision and Ollama LLM runs on an RTX 4090 + i9-13900K desktop; "
        "DIR is the results/ folder of github.com/raphischer/ai-energy-validation"
    ),
}


def get_importer(name: str) -> Callable:
    """The import function registered under `name`; an unknown name lists the valid ones."""
    return IMPORTERS.load(name)

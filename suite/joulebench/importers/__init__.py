"""Importers of published ground-truth studies, one module per study.

`joulebench import NAME DIR --site SITE [--out results]` reads a study's
released files from DIR (downloaded by the user: joulebench does not
redistribute them) and writes one RunRecord per usable run, with provenance,
under OUT/SITE/, plus an import report that counts every skipped run.

The registry holds lazy "module:function" strings, so an importer's parsing
code loads only when chosen. Adding a study is one more file here and one
line below (a package of its own declares an entry point in the
`joulebench.importers` group instead). Every importer function has the signature

    import_study(source: Path, site: str, out_dir: Path, commit: str | None, replace: bool) -> ImportOutcome
"""

from __future__ import annotations

from collections.abc import Callable

from joulebench.registry import Registry

IMPORTERS: Registry[Callable] = Registry(
    "importer",
    {
        "fischer2025": "joulebench.importers.fischer2025:import_study",
        "jay2023": "joulebench.importers.jay2023:import_study",
        "mlperf-inference-v3.0": "joulebench.importers.mlperf_inference:import_v3_0",
        "mlperf-inference-v4.1": "joulebench.importers.mlperf_inference:import_v4_1",
        "mlenergy-v2": "joulebench.importers.mlenergy_v2:import_study",
    },
    group="joulebench.importers",
)

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
    return IMPORTERS.load(name)

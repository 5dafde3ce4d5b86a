"""Import Jay, Ostapenco et al., CCGrid 2023: software power meters against a wall wattmeter on a DGX-1.

The release (github.com/vladostp/an-experimental-comparison-of-software-based-power-meters,
CC BY-SA 4.0) holds, for its GPU framework, one table per measurement campaign:
GPU_Benchmarks/results/<campaign>/processed_table.csv, with <campaign> one of
CPU_08_11 (NPB-OMP on the CPUs, no NVIDIA driver loaded), GPU_19_04 and
GPU_20_04 (NPB-GPU, one CUDA process on each of the 8 GPUs). DIR is the root of
a checkout of that repository (it must hold LICENSE, which travels with the
records). All runs are on one node, gemini-1 of Grid'5000 Lyon: an NVIDIA DGX-1
(8x Tesla V100-SXM2-32GB, 2x Xeon E5-2698 v4, 512 GiB), GPU_Benchmarks/README.md.

One row is one benchmark execution (a NAS kernel, or `idle.sh` = sleep 60)
watched by one tool instance (or none: tool_name NoTool, the study's overhead
baseline). What the importer takes from a row:

- Window: gpu_0_start_benchmark to gpu_0_stop_benchmark (epoch seconds, the
  `date` printed around GPU 0's binary); duration = their difference.
- Node truth: wattmetre_power_watt_energy_consumption(kWh) x 3,600,000 J/kWh,
  the OmegaWatt wall wattmeter (1 Hz, Grid'5000 kwollect) integrated by the
  study's process_results.py over that window. The release does not state the
  wattmeter's accuracy class; the uncertainty bound covers the window edges.
- Cross-check: bmc_node_power_watt_energy_consumption(kWh), the node's BMC
  (about one sample per 5 s, integer watts, values in steps of 0.00005 kWh),
  over the same window: a second node meter, never the truth.
- Live estimate: tool_energy_consumption(kWh) x 3,600,000, the tool's total as
  the study recorded it, with its own settings kept: carbontracker 1.1.6
  multiplies by a PUE of 1.59 (its log says so), experiment-impact-tracker by
  its tool_PUE (1.58); CodeCarbon 2.0.0 and Energy Scope apply none. Versions
  are the ones GPU_Benchmarks/code/install_scripts/installation.sh pins (Energy
  Scope: the acquisition archive the README names). Energy Scope's figure is
  the study's own per-benchmark integration of its power series. A tool value
  that is empty (two experiment-impact-tracker idle rows with error
  'timestamp') or negative (five CodeCarbon rows: its CPU component went
  negative) is no estimate; the record says so.
- A run is skipped (counted in the report, never repaired) when the wall
  wattmeter reads less than the BMC for the same window: in every other run of
  the release it reads 4% to 58% more, so a gap in its series is the likely
  cause (GPU_19_04 23_0_3; the raw series of that campaign is not in the
  release to check).

The workloads are NAS Parallel Benchmarks, not ML: their specs have the `hpc`
domain, task `compute` (or `idle` for sleep 60), dtype float64 and no parameter
count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from joulebench import SUITE_VERSION, __version__
from joulebench.errors import InputError
from joulebench.files import format_validation_error
from joulebench.formats import (
    ID_PATTERN,
    AcceleratorSpec,
    BoundaryEnergy,
    CpuSpec,
    DetectedGpu,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    MemorySpec,
    MissingBoundary,
    ModelConfig,
    Provenance,
    RunRecord,
    SourceLine,
    TruthUncertainty,
    WorkloadSpec,
)
from joulebench.importers.base import (
    ImportOutcome,
    ImportReport,
    RowRegistry,
    Skip,
    SkippedRun,
    checkout_commit,
    read_csv_rows,
    require_columns,
    write_import,
)
from joulebench.importers.datasheets import accelerator_sheet, cpu_sheet

IMPORTER = "jay2023"
TRACK = "jay2023"
REPOSITORY = "https://github.com/vladostp/an-experimental-comparison-of-software-based-power-meters"
SOURCE = "Jay, Ostapenco et al., CCGrid 2023"
CITATION = (
    "M. Jay, V. Ostapenco, L. Lefevre, D. Trystram, A.-C. Orgerie, B. Fichel. An experimental comparison of "
    "software-based power meters: focus on CPU and GPU. CCGrid 2023, pp. 106-118, "
    "doi:10.1109/CCGrid57682.2023.00020 (HAL: hal-04030223)."
)
LICENSE_ID = "CC-BY-SA-4.0"
NOTICE = (
    "Data from Jay, Ostapenco, Lefevre, Trystram, Orgerie and Fichel, 'An experimental comparison of "
    "software-based power meters: focus on CPU and GPU' (CCGrid 2023), "
    "github.com/vladostp/an-experimental-comparison-of-software-based-power-meters, licensed CC BY-SA 4.0; "
    "converted by joulebench into run records, which are shared under the same licence (CC BY-SA 4.0)."
)
PROFILE_ID = "jay2023-gemini-1"
CAMPAIGNS = ("CPU_08_11", "GPU_19_04", "GPU_20_04")
TABLE = "GPU_Benchmarks/results/{campaign}/processed_table.csv"
LICENSE_FILE = "LICENSE"

J_PER_KWH = 3_600_000
WATTMETER_ID = "omegawatt-wattmeter"
WATTMETER_PERIOD_S = 1.0
BMC_ID = "bmc"
BMC_PERIOD_S = 5.0
BMC_STEP_KWH = 0.00005  # the BMC column moves in steps of 0.00005 kWh (180 J) in the release
GPUS = 8

# tool_name -> (estimator id, version, what the tool adds on top of its measurement)
TOOLS = {
    "codecarbon": ("codecarbon", "2.0.0"),
    "carbon_tracker": ("carbontracker", "1.1.6"),
    "experiment_impact_tracker": ("experiment-impact-tracker", "0.1.9+c1b0fcb4"),
    "energy scope": ("energy-scope", "2022-03-24"),
}
NO_TOOL = "NoTool"
CARBONTRACKER_PUE = 1.59  # "multiplied by a PUE coefficient of 1.59" in every carbontracker 1.1.6 log

REQUIRED = (
    "tool_name",
    "tool_on_one_process",
    "gpu_0_benchmark_id",
    "gpu_0_start_benchmark",
    "gpu_0_stop_benchmark",
    "gpu_0_appli",
    "gpu_0_appli_class",
    "wattmetre_power_watt_energy_consumption(kWh)",
    "bmc_node_power_watt_energy_consumption(kWh)",
    "tool_energy_consumption(kWh)",
    "tool_PUE",
    "tool_duration(seconds)",
    "host_name",
    "cpu_name",
    "gpu_name",
    "gpu_count",
)
CODECARBON_PARTS = ("tool_cpu_energy", "tool_gpu_energy", "tool_ram_energy")


# --------------------------------------------------------------------------- hardware


def gemini_profile() -> HardwareProfile:
    """gemini-1 as GPU_Benchmarks/README.md describes it, with datasheet TDPs and peaks (datasheets.yaml)."""
    gpu = accelerator_sheet("Tesla V100-SXM2-32GB")
    cpu = cpu_sheet("Intel Xeon E5-2698 v4")
    return HardwareProfile(
        id=PROFILE_ID,
        name="Grid'5000 Lyon gemini-1: NVIDIA DGX-1, 8x Tesla V100-SXM2-32GB, 2x Xeon E5-2698 v4",
        kind="gpu",
        accelerator=AcceleratorSpec(
            vendor="nvidia",
            model=gpu.model,
            match=["V100-SXM2-32GB"],
            count=GPUS,
            memory_gib=gpu.memory_gib,
            tdp_w=gpu.tdp_w,
            peak_tflops=gpu.peak_tflops,
        ),
        cpu=CpuSpec(
            model=cpu.model,
            match=["E5-2698 v4"],
            sockets=2,
            cores_per_socket=cpu.cores_per_socket,
            threads_per_core=1,  # SMT switched off for every run (code/install_scripts/get_env_ready.sh)
            tdp_w=cpu.tdp_w,
        ),
        memory=MemorySpec(total_gib=512.0),
        sources=[
            f"{REPOSITORY}/blob/main/GPU_Benchmarks/README.md (system model, CPUs, memory, GPUs)",
            gpu.source,
            cpu.source,
        ],
    )


# --------------------------------------------------------------------------- one row


@dataclass
class Row:
    campaign: str
    file: str  # relative to the study's repository
    line: int
    cells: dict[str, str]

    @property
    def benchmark_id(self) -> str:
        return self.cells["gpu_0_benchmark_id"].strip()

    def number(self, column: str, *, optional: bool = False) -> float | None:
        text = self.cells.get(column, "").strip()
        if not text:
            if optional:
                return None
            raise InputError(f"{self.file}: line {self.line}: column {column!r}: expected a number, got an empty cell")
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{self.file}: line {self.line}: column {column!r}: expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise InputError(f"{self.file}: line {self.line}: column {column!r}: expected a finite number, got {text!r}")
        return value

    def flag(self, column: str) -> bool:
        text = self.cells[column].strip()
        if text in ("True", "False"):
            return text == "True"
        raise InputError(f"{self.file}: line {self.line}: column {column!r}: expected True or False, got {text!r}")


def _workload(row: Row) -> WorkloadSpec:
    appli = row.cells["gpu_0_appli"].strip().lower()
    cls = row.cells["gpu_0_appli_class"].strip()
    on_gpus = row.campaign.startswith("GPU")
    processes = GPUS if on_gpus else 1
    if appli == "idle":
        if cls != "sh":
            raise InputError(f"{row.file}: line {row.line}: column 'gpu_0_appli_class': expected 'sh' for idle, got {cls!r}")
        workload_id = "idle-60s-gpu-set" if on_gpus else "idle-60s-cpu-set"
        description = (
            f"Jay et al. 2023: `sleep 60` (idle.sh) launched as {processes} process(es), the study's idle baseline, "
            + ("in the GPU campaigns (NVIDIA driver loaded, GPUs idle)." if on_gpus else
               "in the CPU campaign (no NVIDIA driver loaded; the 8 GPUs stay in the node).")
        )
        config = {"script": "idle.sh", "command": "sleep 60", "processes": processes}
        task = "idle"
    else:
        if appli not in ("mg", "lu", "ep", "cg") or not re.fullmatch(r"[A-F]", cls):
            raise InputError(
                f"{row.file}: line {row.line}: columns 'gpu_0_appli', 'gpu_0_appli_class': expected a NAS kernel "
                f"(mg, lu, ep, cg) and class (A-F), got {appli!r} {cls!r}"
            )
        suite = "NPB-GPU (CUDA)" if on_gpus else "NPB3.4-OMP"
        workload_id = f"npb-cuda-{appli}-{cls.lower()}-x{processes}" if on_gpus else f"npb-omp-{appli}-{cls.lower()}"
        description = (
            f"Jay et al. 2023: NAS Parallel Benchmark {appli.upper()} class {cls} ({suite}), "
            + (f"one CUDA process per GPU on all {processes} GPUs at once." if on_gpus else
               "one OpenMP process on the two CPUs (threads not set by the framework).")
            + " An HPC kernel, not ML."
        )
        config = {"suite": suite, "kernel": appli, "class": cls, "processes": processes}
        task = "compute"
    return WorkloadSpec(
        id=workload_id,
        track=TRACK,
        domain="hpc",
        task=task,
        description=description
        + " Imported: one measured window per record; seed 0 and repeats 1 are placeholders.",
        model=ModelConfig(library="external", architecture="npb_" + appli if appli != "idle" else "idle", config=config),
        dtype="float64",  # NPB computes in double precision (idle: nothing runs; the field is required)
        batch_size=processes,
        warmup_iterations=0,
        measured_iterations=1,
        repeats=1,
        seed=0,
        params=None,
        flops_per_iteration=None,
        flops_method="not available: the tables do not carry NPB's own operation counts",
    )


@dataclass
class Candidate:
    row: Row
    spec: WorkloadSpec
    started: float
    stopped: float
    wattmeter_j: float
    bmc_j: float
    estimate: LiveEstimate | None
    warnings: list[str]


def _kwh(row: Row, column: str) -> float:
    value = row.number(column)
    if value < 0:
        raise InputError(f"{row.file}: line {row.line}: column {column!r}: expected energy >= 0 kWh, got {value}")
    return value


def _estimate(row: Row, duration_s: float) -> tuple[LiveEstimate | None, list[str]]:
    tool = row.cells["tool_name"].strip()
    if tool == NO_TOOL:
        return None, ["no software meter ran in this window: the study's baseline run without a tool"]
    if tool not in TOOLS:
        raise InputError(
            f"{row.file}: line {row.line}: column 'tool_name': expected one of "
            f"{', '.join(sorted([*TOOLS, NO_TOOL]))}, got {tool!r}"
        )
    estimator_id, version = TOOLS[tool]
    kwh = row.number("tool_energy_consumption(kWh)", optional=True)
    one_process = row.flag("tool_on_one_process")
    if kwh is None:
        error = row.cells.get("error", "").strip()
        return None, [f"{estimator_id} reported nothing for this window (tool_energy_consumption empty"
                      + (f"; the study's error column says {error}" if error else "") + "): no estimate"]
    if kwh < 0:
        return None, [f"{estimator_id} reported {kwh!r} kWh, a negative energy (its CPU component went negative), "
                      "so it is not recorded as an estimate; the study dropped these rows too"]
    raw: dict = {
        "tool_name": tool,
        "tool_energy_consumption(kWh)": kwh,
        "tool_on_one_process": one_process,
        "study_benchmark_id": row.benchmark_id,
    }
    duration = row.number("tool_duration(seconds)", optional=True)
    if duration is not None:
        raw["tool_duration(seconds)"] = duration
    scope = "only GPU 0's benchmark process (--monitor_one_process; the other 7 ran untracked)" if one_process else \
        "the whole run (all benchmark processes)"
    if tool == "codecarbon":
        for part in CODECARBON_PARTS:
            value = row.number(part, optional=True)
            if value is not None:
                raw[f"{part}(kWh)"] = value
        mode = ("CodeCarbon 2.0.0 EmissionsTracker (machine mode) as the study ran it, its total CPU (RAPL) + GPU "
                "(NVML) + RAM (a 3 W per 8 GB heuristic); no PUE")
    elif tool == "carbon_tracker":
        raw["pue"] = CARBONTRACKER_PUE
        raw["energy_kwh_without_pue"] = kwh / CARBONTRACKER_PUE
        mode = ("carbontracker 1.1.6 as the study ran it (one epoch around the run), its total CPU (RAPL) + GPU "
                f"(NVML), multiplied by its own PUE of {CARBONTRACKER_PUE} (kept, as the tool reports it)")
    elif tool == "experiment_impact_tracker":
        pue = row.number("tool_PUE")
        raw["pue"] = pue
        raw["energy_kwh_without_pue"] = kwh / pue
        mode = ("experiment-impact-tracker (git c1b0fcb4, 0.1.9) as the study ran it: RAPL and NVML power "
                f"attributed to the tracked process, multiplied by its own PUE of {pue:g} (kept, as the tool reports it)")
    else:
        mode = ("Energy Scope (acquisition v2022-03-24) as the study ran it: CPU package + DRAM (RAPL) + the GPUs "
                "(NVML), its power series integrated by the study over this window; no PUE")
    mode += f"; recorded by the study, not run by joulebench; watched {scope}"
    estimate = LiveEstimate(
        estimator_id=estimator_id,
        estimator_version=version,
        boundary="node",
        energy_j=kwh * J_PER_KWH,
        mode=mode,
        raw=raw,
    )
    warnings = []
    if one_process:
        warnings.append(f"{estimator_id} watched only GPU 0's process while the other GPUs' processes, started up "
                        "to about 10 s earlier, ran untracked")
    return estimate, warnings


def judge_row(row: Row) -> Candidate:
    spec = _workload(row)
    started = row.number("gpu_0_start_benchmark")
    stopped = row.number("gpu_0_stop_benchmark")
    if stopped <= started:
        raise InputError(
            f"{row.file}: line {row.line}: columns 'gpu_0_start_benchmark', 'gpu_0_stop_benchmark': "
            f"expected the stop after the start, got {started} and {stopped}"
        )
    duration = stopped - started
    wattmeter_j = _kwh(row, "wattmetre_power_watt_energy_consumption(kWh)") * J_PER_KWH
    bmc_j = _kwh(row, "bmc_node_power_watt_energy_consumption(kWh)") * J_PER_KWH
    if wattmeter_j <= 0:
        raise Skip("no_truth", "the wattmeter column is 0 kWh")
    if wattmeter_j < bmc_j:
        raise Skip(
            "meters_disagree",
            f"the wall wattmeter reads {wattmeter_j:.0f} J, less than the BMC's {bmc_j:.0f} J for the same window "
            f"({100 * (wattmeter_j / bmc_j - 1):+.1f}%); in every other run of the release it reads more, so a gap "
            "in its series is likely, and the campaign's raw series is not in the release to check",
        )
    estimate, warnings = _estimate(row, duration)
    # The other GPUs' processes: how far their runs reach outside GPU 0's window.
    if row.campaign.startswith("GPU"):
        starts = [row.number(f"gpu_{k}_start_benchmark", optional=True) for k in range(GPUS)]
        stops = [row.number(f"gpu_{k}_stop_benchmark", optional=True) for k in range(GPUS)]
        starts = [s for s in starts if s is not None]
        stops = [s for s in stops if s is not None]
        early = started - min(starts)
        late = max(stops) - stopped
        if len(starts) < GPUS:
            warnings.append("the table has GPU 0's window only (Energy Scope launches all 8 processes from one "
                            "script); how far the other GPUs' runs reach outside it is not known")
        elif early > 1.0 or late > 1.0:
            warnings.append(f"the other GPUs' processes started up to {early:.1f} s before and ended up to "
                            f"{late:.1f} s after GPU 0's window, which is the metered one")
    return Candidate(row, spec, started, stopped, wattmeter_j, bmc_j, estimate, warnings)


# --------------------------------------------------------------------------- the record


def _edge_uncertainty(energy_j: float, mean_w: float, period_s: float, step_j: float, what: str) -> TruthUncertainty:
    edges_j = 2 * period_s * mean_w
    return TruthUncertainty(
        bound_pct=100 * (edges_j + step_j) / energy_j,
        covers_meter_accuracy=False,
        basis=(
            f"window edges: the study sums sample x interval over the samples inside the window, so each edge can "
            f"add or miss up to one {period_s:g} s sample period ({edges_j:.0f} J at the run's mean power)"
            + (f", plus the values' step of {step_j:.0f} J" if step_j else "")
            + f"; the {what}'s accuracy class is not stated in the release, so it is not included"
        ),
    )


def provenance(files: list[str], commit: str | None, lines: list[SourceLine] | None = None) -> Provenance:
    return Provenance(
        source=SOURCE,
        citation=CITATION,
        repository=REPOSITORY,
        files=files,
        commit=commit,
        note=(
            "Node truth: the OmegaWatt wall wattmeter of Grid'5000 Lyon, integrated by the study over GPU 0's "
            "benchmark window (processed_table.csv); the BMC reading of the same window is kept as a cross-check. "
            "The workloads are NAS Parallel Benchmarks (HPC), not ML."
        ),
        study=IMPORTER,
        license=LICENSE_ID,
        notice=NOTICE,
        lines=lines or [],
    )


def build_record(c: Candidate, site: str, repeat: int, profile: HardwareProfile, commit: str | None) -> RunRecord:
    row = c.row
    duration = c.stopped - c.started
    watt_w = c.wattmeter_j / duration
    bmc_w = c.bmc_j / duration
    on_gpus = row.campaign.startswith("GPU")
    gpu_name = row.cells.get("gpu_name", "").strip()
    warnings = list(c.warnings)
    warnings.append(
        f"{BMC_ID} (cross-check) reads {100 * (c.bmc_j / c.wattmeter_j - 1):+.1f}% against the wall wattmeter "
        "over the same window"
    )
    if on_gpus:
        warnings.append("the stored truth comes from the study's integration, which for the GPU campaigns also "
                        "counts the interval from the last sample before the window (about 1 s of power)")
    else:
        warnings.append("CPU campaign: no NVIDIA driver was loaded, so the tools saw no GPU; the 8 idle GPUs "
                        "still drew power inside the wattmeter's reading")
    cells = row.cells
    return RunRecord(
        run_id=f"{site}.{row.campaign.lower()}.{row.benchmark_id}",
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=c.spec,
        spec_hash=c.spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=DetectedHardware(
            gpus=[DetectedGpu(index=k, name=gpu_name) for k in range(int(float(cells["gpu_count"])))]
            if on_gpus and gpu_name and cells.get("gpu_count", "").strip() else [],
            cpu_model=cells["cpu_name"].strip() or None,
            cpu_cores=int(float(cells["cpu_phyical_core_count"])) if cells.get("cpu_phyical_core_count", "").strip() else None,
        ),
        hardware_check=HardwareCheck(
            profile_id=profile.id,
            warnings=[f"not detected by joulebench: imported; the study logged host {cells['host_name'].strip()!r}"],
        ),
        environment=Environment(python="unknown", platform="unknown", joulebench=__version__),
        started_at=datetime.fromtimestamp(c.started, tz=timezone.utc),
        ended_at=datetime.fromtimestamp(c.stopped, tz=timezone.utc),
        duration_s=duration,
        iterations=1,
        items=c.spec.batch_size,
        device_count=GPUS if on_gpus else 0,
        idle_window_s=0.0,
        energy=[
            BoundaryEnergy(
                boundary="node",
                meter_id=WATTMETER_ID,
                method="integrated",
                update_period_s=WATTMETER_PERIOD_S,
                energy_j=c.wattmeter_j,
                mean_power_w=watt_w,
                uncertainty=_edge_uncertainty(c.wattmeter_j, watt_w, WATTMETER_PERIOD_S, 0.0, "wattmeter"),
            )
        ],
        cross_checks=[
            BoundaryEnergy(
                boundary="node",
                meter_id=BMC_ID,
                method="integrated",
                update_period_s=BMC_PERIOD_S,
                energy_j=c.bmc_j,
                mean_power_w=bmc_w,
                resolution_j=BMC_STEP_KWH * J_PER_KWH,
                uncertainty=_edge_uncertainty(c.bmc_j, bmc_w, BMC_PERIOD_S, BMC_STEP_KWH * J_PER_KWH, "BMC")
                if c.bmc_j > 0 else None,
            )
        ],
        missing_boundaries=[
            MissingBoundary(boundary=b, reason="the study metered the node only (wall wattmeter, BMC)")
            for b in ("gpu", "cpu", "dram")
        ],
        live_estimates=[c.estimate] if c.estimate else [],
        warnings=warnings,
        provenance=provenance(
            [row.file], commit, lines=[SourceLine(file=row.file, line=row.line, what=f"the row of run {row.benchmark_id}")]
        ),
    )


# --------------------------------------------------------------------------- SOURCE.md


def source_markdown(commit: str | None, report: ImportReport) -> str:
    commit_text = commit or "not given (pass --commit)"
    counts = report.summary.get("runs_per_campaign", {})
    return f"""# Jay, Ostapenco et al., CCGrid 2023: imported runs

**Licence: CC BY-SA 4.0** (the study's `LICENSE`, copied here verbatim). These run
records are an adaptation of the study's data and are shared under the same
licence, CC BY-SA 4.0, whatever the licence of the rest of joulebench.

- Paper: {CITATION}
- Repository: {REPOSITORY}
- Commit read: `{commit_text}`
- Files read: {", ".join(f"`{f}`" for f in report.files_read)}
- Authors of the data: Mathilde Jay, Vladimir Ostapenco (and co-authors of the paper).

## What was changed

Each row of `processed_table.csv` (campaigns {", ".join(f"{k}: {v} rows" for k, v in counts.items())})
became one joulebench run record (`joulebench import jay2023`), with the file
and line it came from in `provenance.lines`, unless it was skipped ({len(report.skipped)} row(s), each
with its reason in `_import-{IMPORTER}.json`). Nothing was re-measured or edited:

- node truth = the wattmeter column (kWh) x 3,600,000 J/kWh; the BMC column is
  kept as a cross-check (`cross_checks`), never as truth;
- each tool's total (CodeCarbon 2.0.0, carbontracker 1.1.6, experiment-impact-tracker
  0.1.9/c1b0fcb4, Energy Scope 2022-03-24) became a live estimate at the node
  boundary, as the tool reported it (carbontracker's PUE 1.59 and
  experiment-impact-tracker's 1.58 kept; the PUE-free figure is in `raw`);
- the workloads are NAS Parallel Benchmarks (HPC), described by specs of the
  `hpc` domain; the machine is profile `{PROFILE_ID}` (NVIDIA DGX-1), with datasheet
  TDPs (V100 SXM2 300 W, Xeon E5-2698 v4 135 W) the study does not state itself.

The wattmeter's accuracy class is not stated in the release: each record's
truth uncertainty covers only the window edges (`covers_meter_accuracy: false`).
"""


# --------------------------------------------------------------------------- the import


def import_study(
    source: Path,
    site: str,
    out_dir: Path,
    commit: str | None = None,
    replace: bool = False,
) -> ImportOutcome:
    if not re.match(ID_PATTERN, site):
        raise InputError(f"site {site!r}: expected lowercase letters, digits, '.', '_' or '-'")
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; expected the root of the study's repository")
    license_path = root / LICENSE_FILE
    if not license_path.is_file():
        raise InputError(
            f"{root}: no {LICENSE_FILE}; expected the root of a checkout of {REPOSITORY} "
            "(its CC BY-SA 4.0 licence travels with the imported records)"
        )
    license_text = license_path.read_bytes()
    commit = commit or checkout_commit(root, "an-experimental-comparison-of-software-based-power-meters")
    if b"Attribution-ShareAlike 4.0" not in license_text:
        raise InputError(f"{LICENSE_FILE}: expected the CC BY-SA 4.0 licence text of the release")

    # Read and check every table before deciding anything, so bad input writes nothing.
    tables: list[tuple[str, str, list[tuple[int, dict[str, str]]]]] = []
    for campaign in CAMPAIGNS:
        shown = TABLE.format(campaign=campaign)
        path = root / shown
        if not path.is_file():
            raise InputError(f"{shown}: not found under {root}; expected the release's {len(CAMPAIGNS)} campaign tables")
        header, rows = read_csv_rows(path, shown)
        require_columns(shown, header, REQUIRED, "a processed_table.csv of the study")
        if campaign.startswith("GPU"):
            require_columns(shown, header, tuple(f"gpu_{k}_{e}_benchmark" for k in range(GPUS) for e in ("start", "stop")),
                            "a GPU campaign table")
        tables.append((campaign, shown, rows))

    files_read = [LICENSE_FILE] + [shown for _, shown, _ in tables]
    report = ImportReport(
        importer=IMPORTER,
        site=site,
        source_dir=".",
        provenance=provenance(files_read, commit),
        files_read=files_read,
    )
    profile = gemini_profile()
    candidates: list[Candidate] = []
    seen = RowRegistry()
    per_campaign: dict[str, int] = {}
    for campaign, shown, rows in tables:
        per_campaign[campaign] = len(rows)
        for line, cells in rows:
            report.runs_seen += 1
            row = Row(campaign, shown, line, cells)
            key = f"{campaign}/{row.benchmark_id or f'(line {line})'}"
            try:
                if not row.benchmark_id:
                    raise InputError(f"{shown}: line {line}: column 'gpu_0_benchmark_id': expected a run id, got an empty cell")
                seen.check(key, shown, line, cells)
                candidates.append(judge_row(row))
            except Skip as skip:
                report.skipped.append(SkippedRun(file=shown, run_id=key, reason=skip.reason, detail=skip.detail, line=line))
            except ValidationError as exc:
                raise InputError(format_validation_error(f"{shown}: line {line}", exc)) from None

    records = []
    by_workload: dict[str, int] = {}
    for c in sorted(candidates, key=lambda c: (c.spec.id, c.started, c.row.benchmark_id)):
        by_workload[c.spec.id] = by_workload.get(c.spec.id, 0) + 1
        try:
            records.append(build_record(c, site, by_workload[c.spec.id], profile, commit))
        except ValidationError as exc:
            raise InputError(format_validation_error(f"{c.row.file}: line {c.row.line}", exc)) from None

    report.summary = {
        "runs_per_campaign": per_campaign,
        "bmc_vs_wattmeter": _bmc_summary(candidates),
    }
    extra = {
        "LICENSE": license_text,
        "SOURCE.md": source_markdown(commit, report),
    }
    result = write_import(records, report, Path(out_dir), extra_files=extra, replace=replace)
    return ImportOutcome(report=report, result=result, out_dir=Path(out_dir), source=root)


def _bmc_summary(candidates: list[Candidate]) -> dict:
    """(BMC - wattmeter) / wattmeter per campaign: how far the second node meter is from the truth."""
    out = {}
    for campaign in CAMPAIGNS:
        diffs = sorted(100 * (c.bmc_j / c.wattmeter_j - 1) for c in candidates if c.row.campaign == campaign)
        if not diffs:
            continue
        out[campaign] = {
            "runs": len(diffs),
            "mean_signed_pct": round(sum(diffs) / len(diffs), 2),
            "median_signed_pct": round(diffs[len(diffs) // 2] if len(diffs) % 2 else
                                       (diffs[len(diffs) // 2 - 1] + diffs[len(diffs) // 2]) / 2, 2),
            "min_pct": round(diffs[0], 2),
            "max_pct": round(diffs[-1], 2),
        }
    return out

"""Import MLPerf Inference power results (closed division), v3.0 and v4.1: wall-analyser truth per measurement.

Derived from MLPerf Inference results; not verified by MLCommons (a condition
of using the MLPerf name: every record and the site say so).

The releases (github.com/mlcommons/inference_results_v3.0 and _v4.1,
Apache-2.0) hold, for every closed-division result with power,
closed/<submitter>/results/<system>/<benchmark>/<scenario>/performance/ with
- run_1/spl.txt: SPEC PTDaemon's samples of the wall analyser, one line a
  second, `Time,<UTC %m-%d-%Y %H:%M:%S.%f>,Watts,<W>,...` (the first Watts
  field sums every channel of a multi-channel analyser);
- run_1/mlperf_log_detail.txt: LoadGen's `:::MLLOG {json}` lines, among them
  power_begin and power_end (UTC, the timed test's window), effective_scenario,
  result_query_count, effective_samples_per_query and the token rates;
- ranging/: the range-finding run that sets the analyser's ranges. It is not
  a measurement of the result and is never read.
and closed/<submitter>/systems/<system>.json (the system) and
closed/<submitter>/measurements/<system>/<benchmark>/<scenario>/*.json (the
weights' numeric type the submitter declares). DIR is the root of a checkout
(it must hold LICENSE.md, which travels with the records).

Truth, by the rule of MLCommons' submission checker
(tools/submission/submission_checker.py of mlcommons/inference at tag v3.0,
check_power_dir(); at tag v4.1, get_power_metric()): the spl.txt samples with
power_begin < t < power_end (strict; both UTC, no offset correction), in v4.1
only those with W > 0 and only lines starting with "Time"; their unweighted
mean x (power_end - power_begin) is the node's energy. From it the checker's
published figure follows: the mean itself (Offline, Server: W), or the energy
x 1000 / result_query_count (SingleStream, MultiStream: mJ per query; x 8 for
a MultiStream result inferred from a SingleStream run). tests check that
figure against the published ones.

Results that share one spl.txt (the -99 and -99.9 twins of one run; Offline
and MultiStream results inferred from one SingleStream run) are one
measurement: one record, listing every published result it backs. Two results
that share a spl.txt but disagree on the window or the work are an error.

Each system becomes a hardware profile (accelerator, count, host CPU, memory,
node count; a per-accelerator power cap where its hw_notes state one). TDPs
and peaks come from datasheets.yaml where it lists the part; otherwise they
stay unknown. Each benchmark family becomes a workload spec per scenario and
declared weight type, with the parameters and FLOPs per sample that
mlperf_models.yaml pins (unknown where joulebench cannot build the model).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from joulebench import SUITE_VERSION, __version__
from joulebench.errors import InputError
from joulebench.files import format_validation_error
from joulebench.formats import (
    ID_PATTERN,
    AcceleratorSpec,
    BoundaryEnergy,
    CpuSpec,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
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
    Skip,
    SkippedRun,
    checkout_commit,
    write_import,
)
from joulebench.importers.datasheets import accelerator_sheet, cpu_sheet
from joulebench.importers.mlperf_models import family_of, load_models

SPL_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"
SCENARIOS = {"offline": "Offline", "server": "Server", "singlestream": "SingleStream", "multistream": "MultiStream"}
LICENSE_FILE = "LICENSE.md"
# PTDaemon's uncertainty checking is on in every compliant run, and mlcommons/power-dev's
# compliance/check.py treats "Uncertainty N%, which is above 1.00% limit" in the testing
# phase as an error: each accepted sample is within 1% as PTDaemon evaluates the analyser.
ANALYSER_UNCERTAINTY_PCT = 1.0
WEIGHT_TYPES = {
    "fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16", "bf16": "bfloat16",
    "bfloat16": "bfloat16", "int8": "int8", "fp8": "float8", "float8": "float8",
}  # fmt: skip
VENDORS = (
    ("nvidia", "nvidia"), ("qualcomm", "qualcomm"), ("arm mali", "arm"), ("mlsoc", "sima"),
    ("recaccel", "neuchips"), ("untether", "untether"), ("amd", "amd"), ("intel", "intel"),
)  # fmt: skip
NO_ACCELERATOR = ("", "-", "n/a", "none")
CAP_NOTE = re.compile(r"with (\d+(?:\.\d+)?)\s*w accelerator tdp constraints?", re.IGNORECASE)


@dataclass(frozen=True)
class Release:
    version: str  # "v3.0"
    repository: str
    # The checker's rule differs: v4.1 skips lines not starting with "Time" and samples with W <= 0.
    skips_non_time_lines: bool
    keeps_positive_watts_only: bool

    @property
    def importer(self) -> str:
        return f"mlperf-inference-{self.version}"

    @property
    def label(self) -> str:
        return f"derived from MLPerf Inference {self.version} results; not verified by MLCommons"


V3_0 = Release("v3.0", "https://github.com/mlcommons/inference_results_v3.0", False, False)
V4_1 = Release("v4.1", "https://github.com/mlcommons/inference_results_v4.1", True, True)


# --------------------------------------------------------------------------- reading the files


@dataclass
class Detail:
    """The LoadGen keys joulebench needs, each with the line it is on."""

    file: str
    values: dict[str, Any]
    lines: dict[str, int]
    sha256: str

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.values:
            raise InputError(f"{self.file}: no {key!r} entry; expected LoadGen's detail log of a power run")
        return self.values[key]

    def timestamp(self, key: str) -> datetime:
        text = self.require(key)
        try:
            return datetime.strptime(str(text), SPL_TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(
                f"{self.file}: line {self.lines[key]}: {key}: expected a UTC time like '07-11-2024 23:36:17.787', "
                f"got {text!r}"
            ) from None

    def integer(self, key: str) -> int:
        value = self.require(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{self.file}: line {self.lines[key]}: {key}: expected a count, got {value!r}")
        return value


def read_detail(path: Path, shown: str) -> Detail:
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    data = _read_bytes(path, shown)
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not raw.startswith(":::MLLOG"):
            continue
        try:
            entry = json.loads(raw[len(":::MLLOG"):].strip())
            key = entry["key"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{shown}: line {number}: expected ':::MLLOG' followed by a JSON object with a key") from None
        # A key logged twice keeps its last value, as the checker's MLPerfLog reader does.
        values[key] = entry.get("value")
        lines[key] = number
    return Detail(shown, values, lines, hashlib.sha256(data).hexdigest())


def _read_bytes(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror}") from None


@dataclass
class Window:
    samples: int
    mean_w: float
    period_s: float
    first_line: int
    last_line: int


def read_window(path: Path, shown: str, begin: datetime, end: datetime, release: Release) -> tuple[Window, str]:
    """The checker's samples inside (begin, end) and the file's sha256."""
    data = _read_bytes(path, shown)
    watts: list[float] = []
    times: list[datetime] = []
    first = last = 0
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not raw.startswith("Time"):
            if release.skips_non_time_lines or not raw.strip():
                continue
            raise InputError(f"{shown}: line {number}: expected a 'Time,...' sample line (the {release.version} "
                             "checker reads every line as one)")
        cells = raw.split(",")
        try:
            t = datetime.strptime(cells[1], SPL_TIME_FORMAT).replace(tzinfo=timezone.utc)
            w = float(cells[3])
        except (IndexError, ValueError):
            raise InputError(
                f"{shown}: line {number}: expected 'Time,<%m-%d-%Y %H:%M:%S.%f>,Watts,<number>,...', got {raw[:80]!r}"
            ) from None
        if not begin < t < end:
            continue
        if release.keeps_positive_watts_only and w <= 0:
            continue
        watts.append(w)
        times.append(t)
        first = first or number
        last = number
    if not watts:
        raise Skip("no_samples_in_window", f"{shown}: no sample between power_begin and power_end")
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    period = statistics.median(gaps) if gaps else (end - begin).total_seconds()
    return Window(len(watts), sum(watts) / len(watts), period, first, last), hashlib.sha256(data).hexdigest()


def _count(value: Any, shown: str, field_name: str) -> int:
    """A systems-JSON count that may be a string ("6") or hold several counts ("4 (big); 4 (LITTLE)")."""
    if isinstance(value, bool):
        raise InputError(f"{shown}: field {field_name!r}: expected a count, got {value!r}")
    if isinstance(value, int):
        return value
    numbers = re.findall(r"\d+", str(value))
    if not numbers:
        raise InputError(f"{shown}: field {field_name!r}: expected a count, got {value!r}")
    return sum(int(n) for n in numbers)


_MEMORY = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(\d+(?:\.\d+)?)\s*(GB|GiB|G|TB|TiB|T)\b", re.IGNORECASE)


def memory_gib(text: Any) -> float | None:
    """'2 TB', '16x 64 GB', '63G', '16 GiB' -> GiB. Memory sizes are binary (a '64 GB' DIMM holds 64 GiB)."""
    match = _MEMORY.match(str(text or ""))
    if not match:
        return None
    count, number, unit = match.groups()
    gib = float(number) * (1024 if unit.upper().startswith("T") else 1)
    return gib * (int(count) if count else 1)


# --------------------------------------------------------------------------- systems -> profiles


def _identifier(text: str) -> str:
    """A name as ModelConfig.architecture: mlperf_3d-unet -> mlperf_3d_unet."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")


def build_profile(release: Release, submitter: str, system: str, data: dict, shown: str) -> HardwareProfile:
    accelerator_name = str(data.get("accelerator_model_name") or "").strip()
    per_node = _count(data.get("accelerators_per_node", 0), shown, "accelerators_per_node")
    nodes = _count(data.get("number_of_nodes", 1), shown, "number_of_nodes")
    if nodes < 1:
        raise InputError(f"{shown}: field 'number_of_nodes': expected at least 1, got {nodes}")
    sources = [f"{release.repository} {shown}"]
    accelerator = None
    if accelerator_name.lower() not in NO_ACCELERATOR and per_node > 0:
        lowered = accelerator_name.lower()
        vendor = next((v for key, v in VENDORS if key in lowered), None)
        if vendor is None:
            raise Skip("unknown_accelerator", f"{shown}: accelerator {accelerator_name!r} is of no vendor joulebench knows")
        sheet = accelerator_sheet(accelerator_name)
        notes = str(data.get("hw_notes") or "")
        cap = CAP_NOTE.search(notes)
        if sheet:
            sources.append(sheet.source)
        accelerator = AcceleratorSpec(
            vendor=vendor,
            model=accelerator_name,
            match=[accelerator_name],
            count=per_node,
            memory_gib=sheet.memory_gib if sheet else memory_gib(data.get("accelerator_memory_capacity")),
            tdp_w=sheet.tdp_w if sheet else None,
            peak_tflops=sheet.peak_tflops if sheet else None,
            power_limit_w=float(cap.group(1)) if cap else None,
        )
    cpu_name = str(data.get("host_processor_model_name") or "").strip()
    cpu = None
    if cpu_name:
        sheet = cpu_sheet(cpu_name)
        if sheet:
            sources.append(sheet.source)
        cpu = CpuSpec(
            model=cpu_name,
            match=[cpu_name],
            sockets=max(1, _count(data.get("host_processors_per_node", 1), shown, "host_processors_per_node")),
            cores_per_socket=max(1, _count(data.get("host_processor_core_count", 1), shown, "host_processor_core_count")),
            threads_per_core=None,
            tdp_w=sheet.tdp_w if sheet else None,
        )
    memory = memory_gib(data.get("host_memory_capacity"))
    if accelerator is None and cpu is None:
        raise InputError(f"{shown}: neither an accelerator nor a host processor is named")
    return HardwareProfile(
        id=_slug(f"mlperf-{release.version}-{submitter}-{system}")[:120],
        name=str(data.get("system_name") or system),
        kind="gpu" if accelerator else "cpu",
        accelerator=accelerator,
        cpu=cpu,
        memory=MemorySpec(total_gib=memory) if memory else None,
        node_count=nodes,
        sources=sources,
    )


# --------------------------------------------------------------------------- one result


@dataclass
class Result:
    """One published result directory with power."""

    location: str  # closed/<submitter>/results/<system>/<benchmark>/<scenario>
    submitter: str
    system: str
    benchmark: str
    scenario: str  # as the checker normalises the directory name
    detail: Detail
    spl_file: str
    window: Window
    spl_sha256: str
    published_value: float = 0.0
    published_units: str = ""

    @property
    def effective(self) -> str:
        return str(self.detail.get("effective_scenario") or self.scenario)


def checker_figure(result: Result, energy_j: float, duration_s: float) -> tuple[float, str]:
    """The figure the submission checker publishes for this result (W, or mJ per query)."""
    if result.scenario in ("Offline", "Server"):
        return result.window.mean_w, "Watts"
    queries = result.detail.integer("result_query_count")
    if queries == 0:
        raise InputError(f"{result.detail.file}: result_query_count is 0; expected the queries of the timed run")
    per_query = energy_j * 1000 / queries
    if result.scenario == "MultiStream" and result.effective == "SingleStream":
        per_query *= 8  # the checker: a MultiStream query is 8 samples
    return per_query, "millijoules"


@dataclass
class Measurement:
    """One spl.txt: every published result that reads it."""

    results: list[Result] = field(default_factory=list)

    @property
    def primary(self) -> Result:
        # The result whose scenario is the one that ran, then the shortest benchmark name (-99 before -99.9).
        return sorted(self.results, key=lambda r: (r.scenario != r.effective, len(r.benchmark), r.benchmark, r.location))[0]


def _same_run_values(result: Result) -> dict[str, Any]:
    d = result.detail
    return {
        "power_begin": d.get("power_begin"),
        "power_end": d.get("power_end"),
        "effective_scenario": d.get("effective_scenario"),
        "result_query_count": d.get("result_query_count"),
        "effective_samples_per_query": d.get("effective_samples_per_query"),
        "system": (result.submitter, result.system),
        "family": family_of(result.benchmark),
    }


# --------------------------------------------------------------------------- the record


def _weights(root: Path, result: Result) -> tuple[str, str, str]:
    """(declared weight type verbatim, joulebench dtype, the measurements file) of a result."""
    folder = root / result.location.replace("/results/", "/measurements/", 1)
    shown_folder = result.location.replace("/results/", "/measurements/", 1)
    files = sorted(p for p in folder.glob("*.json")) if folder.is_dir() else []
    if len(files) > 1:
        wanted = [p for p in files if p.stem.lower().endswith("_" + result.scenario.lower())]
        files = wanted or files[:1]
    if not files:
        raise Skip("no_measurements_file", f"{shown_folder}/ has no *.json stating the weights' numeric type")
    shown = f"{shown_folder}/{files[0].name}"
    try:
        data = json.loads(_read_bytes(files[0], shown))
    except ValueError:
        raise InputError(f"{shown}: not valid JSON") from None
    declared = str(data.get("weight_data_types") or "").strip()
    first = re.split(r"[,;/ ]+", declared.lower())[0] if declared else ""
    if first not in WEIGHT_TYPES:
        raise InputError(
            f"{shown}: field 'weight_data_types': expected one of {', '.join(sorted(WEIGHT_TYPES))} "
            f"(a list is read by its first entry), got {declared!r}"
        )
    return declared, WEIGHT_TYPES[first], shown


def build_spec(release: Release, family: str, entry: dict, scenario: str, declared: str, dtype: str) -> WorkloadSpec:
    weights = _slug(declared.replace(",", "-").replace(" ", ""))
    config: dict[str, Any] = {
        "benchmark": family,
        "scenario": scenario,
        "weight_data_types": declared,
        "reference": entry["reference"],
    }
    if entry.get("reference_model"):
        config["reference_model"] = entry["reference_model"]
    language = entry["domain"] == "language"
    return WorkloadSpec(
        id=_slug(f"{family}-{scenario}-{weights}"),
        track=release.importer,
        domain=entry["domain"],
        task=entry["task"],
        description=(
            f"{entry['description']}, LoadGen scenario {scenario}, weights declared {declared!r} by the submitter. "
            f"Imported ({release.label}): one sample per iteration; measured_iterations 1, repeats 1 and seed 0 are "
            "placeholders (MLPerf sets a minimum duration, not an iteration count; each record's iterations hold the "
            "samples it ran)."
        ),
        model=ModelConfig(library="external", architecture=_identifier(f"mlperf_{family}"), config=config),
        dtype=dtype,
        batch_size=1,
        image_size=entry.get("image_size"),
        seq_len=entry.get("seq_len") if language else None,
        new_tokens=entry.get("new_tokens") if language and entry["task"] == "generate" else None,
        warmup_iterations=0,
        measured_iterations=1,
        repeats=1,
        seed=0,
        params=entry.get("params"),
        flops_per_iteration=float(entry["flops_per_sample"]) if entry.get("flops_per_sample") else None,
        flops_method=entry.get("flops_method", ""),
        pinned_with=dict(entry.get("pinned_with") or {}),
    )


def _tokens(detail: Detail, duration_s: float) -> tuple[int | None, str | None]:
    """Output tokens in the window from LoadGen's measured token rate; never from an inferred one."""
    for key in ("result_tokens_per_second", "result_completed_tokens_per_second"):
        value = detail.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return round(value * duration_s), None
    for key in ("result_inferred_tokens_per_second", "result_inferred_completed_tokens_per_second"):
        if detail.get(key) is not None:
            return None, (f"LoadGen's {key} is samples x a fixed tokens-per-sample constant, not a count, so the "
                          "record states no tokens")
    return None, None


def build_record(
    release: Release,
    root: Path,
    site: str,
    measurement: Measurement,
    profile: HardwareProfile,
    spec: WorkloadSpec,
    declared: str,
    measurements_file: str,
    system_file: str,
    analyser: str | None,
    commit: str | None,
) -> RunRecord:
    r = measurement.primary
    d = r.detail
    begin, end = d.timestamp("power_begin"), d.timestamp("power_end")
    duration = (end - begin).total_seconds()
    energy = r.window.mean_w * duration
    queries = d.integer("result_query_count")
    samples = queries * max(1, d.integer("effective_samples_per_query"))
    tokens, token_note = _tokens(d, duration)
    backs = []
    for other in sorted(measurement.results, key=lambda x: x.location):
        value, units = checker_figure(other, energy, duration)
        other.published_value, other.published_units = value, units
        note = " (inferred from this run)" if other.scenario != other.effective else ""
        backs.append(f"{other.location}: {value:.10g} {units}{note}")
    warnings = [
        release.label,
        f"one measurement backing {len(backs)} published result(s) by the checker's rule: " + "; ".join(backs),
        f"the submitter declares the weights as {declared!r} ({measurements_file})",
    ]
    if token_note:
        warnings.append(token_note)
    if profile.accelerator is not None and profile.accelerator.tdp_w is None:
        warnings.append(f"no datasheet TDP joulebench can cite for {profile.accelerator.model}: estimators that need one "
                        "do not answer for this run")
    per_sample = energy / samples if samples else None
    run_id = _slug(f"{site}.{r.submitter}.{r.system}.{r.benchmark}.{r.effective}")
    lines = [
        SourceLine(file=r.spl_file, line=r.window.first_line, what="the first analyser sample inside the window"),
        SourceLine(file=r.spl_file, line=r.window.last_line, what="the last analyser sample inside the window"),
        SourceLine(file=d.file, line=d.lines["power_begin"], what="power_begin"),
        SourceLine(file=d.file, line=d.lines["power_end"], what="power_end"),
        SourceLine(file=d.file, line=d.lines["result_query_count"], what="result_query_count"),
        SourceLine(file=system_file, what="the system"),
        SourceLine(file=measurements_file, what="the declared weight type"),
    ]
    files = sorted({r.spl_file, d.file, system_file, measurements_file} | {o.detail.file for o in measurement.results})
    return RunRecord(
        run_id=run_id,
        suite_version=SUITE_VERSION,
        site=site,
        repeat=1,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=DetectedHardware(cpu_model=profile.cpu.model if profile.cpu else None),
        hardware_check=HardwareCheck(
            profile_id=profile.id,
            warnings=["not detected by joulebench: imported; the hardware is the submitter's system description"],
        ),
        environment=Environment(python="unknown", platform="unknown", joulebench=__version__),
        started_at=begin,
        ended_at=end,
        duration_s=duration,
        iterations=max(samples, 1),
        items=samples,
        tokens=tokens,
        device_count=(profile.accelerator.count * profile.node_count) if profile.accelerator else 0,
        idle_window_s=0.0,
        energy=[
            BoundaryEnergy(
                boundary="node",
                meter_id=analyser or "ptdaemon-analyser",
                method="integrated",
                update_period_s=r.window.period_s,
                energy_j=energy,
                mean_power_w=r.window.mean_w,
                uncertainty=TruthUncertainty(
                    bound_pct=ANALYSER_UNCERTAINTY_PCT + 100 * r.window.period_s / duration,
                    covers_meter_accuracy=True,
                    basis=(
                        f"analyser: {ANALYSER_UNCERTAINTY_PCT:g}% per sample, the limit above which PTDaemon's "
                        "uncertainty check (on in every compliant run) makes a testing sample an error "
                        "(mlcommons/power-dev compliance/check.py); sampling: the unweighted mean of "
                        f"{r.window.samples} samples about {r.window.period_s:g} s apart, up to one sample period "
                        f"at the window's edges ({100 * r.window.period_s / duration:.2f}% of this window)"
                    ),
                ),
            )
        ],
        missing_boundaries=[
            MissingBoundary(boundary=b, reason="MLPerf Power meters the whole system's wall (AC) power only")
            for b in ("gpu", "cpu", "dram")
        ],
        warnings=warnings + ([f"{per_sample:.6g} J per sample"] if per_sample else []),
        provenance=Provenance(
            source=f"MLPerf Inference {release.version}, closed division, power",
            citation=(
                f"MLCommons, MLPerf Inference {release.version} results, {release.repository}; "
                f"{release.label}."
            ),
            repository=release.repository,
            files=files,
            commit=commit,
            note=(
                f"{release.label[0].upper()}{release.label[1:]}. Node truth: the mean of the wall analyser's samples "
                "between LoadGen's power_begin and power_end (the submission checker's rule) x that duration."
            ),
            study=release.importer,
            license="Apache-2.0",
            notice=(
                f"{release.label[0].upper()}{release.label[1:]}. Data from {release.repository} (Apache-2.0), "
                "converted by joulebench into run records. MLPerf and MLCommons are trademarks of MLCommons Association."
            ),
            lines=lines,
        ),
    )


# --------------------------------------------------------------------------- SOURCE.md


def source_markdown(release: Release, commit: str | None, report: ImportReport) -> str:
    s = report.summary
    return f"""# MLPerf Inference {release.version}, closed division, power: imported runs

**{release.label[0].upper()}{release.label[1:]}.** MLPerf and MLCommons are
trademarks of MLCommons Association; this folder is not an MLPerf result and
joulebench's scores are not MLPerf scores.

**Licence: Apache-2.0** (the release's `LICENSE.md`, copied here verbatim).

- Source: MLCommons, MLPerf Inference {release.version} results
- Repository: {release.repository}
- Commit read: `{commit or "not given (pass --commit)"}`
- Files read: `{LICENSE_FILE}` and, per power result, `performance/run_1/spl.txt`,
  `performance/run_1/mlperf_log_detail.txt`, the system's `systems/<system>.json` and the
  result's `measurements/.../*.json` ({len(report.files_read)} files in all, listed in
  `_import-{release.importer}.json`). `ranging/` (the range-finding run) is never read.

## What was changed

Nothing was re-measured or edited. Each physical measurement (one `spl.txt`)
became one joulebench run record (`joulebench import {release.importer}`):
{s.get("published_results", 0)} published power results read, {s.get("measurements", 0)} distinct
measurements imported ({s.get("shared", 0)} results share a measurement with another: the -99/-99.9
twins of one run, and Offline or MultiStream results inferred from a SingleStream
run); every record lists the published results it backs and the checker's figure
for each.

- Node truth = the mean of the analyser samples strictly inside LoadGen's
  power_begin..power_end x that duration (the submission checker's rule for
  {release.version}); it reproduces the published power figures (W, or mJ per query).
- Each system became a hardware profile ({s.get("systems", 0)} systems, {s.get("distinct_hardware", 0)}
  distinct by accelerator, count, host CPU and memory); TDPs and peaks only where
  joulebench's datasheet table lists the part, otherwise unknown; per-accelerator
  power caps from `hw_notes` ("With N W Accelerator TDP constraints"). NVIDIA's
  MaxQ power limits are set in the submitters' code, which was not read.
- Each benchmark became a workload spec per scenario and declared weight type,
  with parameters and FLOPs per sample counted by joulebench where it can build
  the model (see `suite/joulebench/importers/mlperf_models.yaml`).
- Truth uncertainty: 1% (PTDaemon's per-sample uncertainty limit) plus one sample
  period over the window.
- Skipped results, each with its reason, are listed in `_import-{release.importer}.json`.
"""


# --------------------------------------------------------------------------- the import


def _results(root: Path) -> list[tuple[str, Path]]:
    """(location, performance folder) of every closed result that carries power."""
    found = []
    closed = root / "closed"
    for performance in sorted(closed.glob("*/results/*/*/*/performance")):
        if (performance / "power").is_dir() or (performance / "run_1" / "spl.txt").is_file():
            found.append((performance.parent.relative_to(root).as_posix(), performance))
    return found


def import_release(
    release: Release, source: Path, site: str, out_dir: Path, commit: str | None = None, replace: bool = False
) -> ImportOutcome:
    if not re.match(ID_PATTERN, site):
        raise InputError(f"site {site!r}: expected lowercase letters, digits, '.', '_' or '-'")
    root = Path(source)
    if not (root / "closed").is_dir():
        raise InputError(f"{root}: no closed/ folder; expected the root of a checkout of {release.repository}")
    license_path = root / LICENSE_FILE
    if not license_path.is_file():
        raise InputError(f"{root}: no {LICENSE_FILE}; expected the root of a checkout of {release.repository} "
                         "(its Apache-2.0 licence travels with the imported records)")
    license_text = license_path.read_bytes()
    commit = commit or checkout_commit(root, release.repository.rsplit("/", 1)[-1])
    if b"Apache License" not in license_text:
        raise InputError(f"{LICENSE_FILE}: expected the Apache License text of the release")
    families = load_models()

    report = ImportReport(
        importer=release.importer,
        site=site,
        source_dir=".",
        provenance=Provenance(source=f"MLPerf Inference {release.version}, closed division, power",
                              citation=f"MLCommons, MLPerf Inference {release.version} results; {release.label}.",
                              repository=release.repository, commit=commit, study=release.importer,
                              license="Apache-2.0", notice=release.label),
    )  # fmt: skip
    files_read = {LICENSE_FILE}
    groups: dict[str, Measurement] = {}
    for location, performance in _results(root):
        report.runs_seen += 1
        _, submitter, _, system, benchmark, scenario_dir = location.split("/")
        try:
            scenario = SCENARIOS.get(scenario_dir.lower())
            if scenario is None:
                raise InputError(f"{location}: scenario folder {scenario_dir!r}: expected one of {', '.join(SCENARIOS.values())}")
            detail_shown = f"{location}/performance/run_1/mlperf_log_detail.txt"
            spl_shown = f"{location}/performance/run_1/spl.txt"
            if not (performance / "run_1" / "spl.txt").is_file():
                raise Skip("no_power_samples", f"{spl_shown} is not in the folder read (a power result without its "
                                               "analyser samples cannot be reproduced)")
            detail = read_detail(performance / "run_1" / "mlperf_log_detail.txt", detail_shown)
            begin, end = detail.timestamp("power_begin"), detail.timestamp("power_end")
            if end <= begin:
                raise InputError(f"{detail_shown}: line {detail.lines['power_end']}: power_end {detail.get('power_end')!r} "
                                 f"is not after power_begin {detail.get('power_begin')!r}")
            if detail.get("result_validity") not in (None, "VALID"):
                raise Skip("invalid_result", f"{detail_shown}: result_validity is {detail.get('result_validity')!r}")
            window, sha = read_window(performance / "run_1" / "spl.txt", spl_shown, begin, end, release)
            files_read |= {detail_shown, spl_shown}
            result = Result(location, submitter, system, benchmark, scenario, detail, spl_shown, window, sha)
            group = groups.setdefault(sha, Measurement())
            if group.results:
                mine, theirs = _same_run_values(result), _same_run_values(group.results[0])
                if mine != theirs:
                    differing = sorted(k for k in mine if mine[k] != theirs[k])
                    raise InputError(
                        f"{spl_shown}: the same analyser samples as {group.results[0].spl_file}, but the results "
                        f"disagree on {', '.join(differing)}; expected one run behind one spl.txt"
                    )
            group.results.append(result)
        except Skip as skip:
            report.skipped.append(SkippedRun(file=f"{location}/performance/run_1", run_id=location,
                                             reason=skip.reason, detail=skip.detail))

    profiles: dict[tuple[str, str], HardwareProfile | Skip] = {}
    records = []
    hardware_keys = set()
    for sha, measurement in sorted(groups.items(), key=lambda item: item[1].primary.location):
        r = measurement.primary
        try:
            system_shown = f"closed/{r.submitter}/systems/{r.system}.json"
            if (r.submitter, r.system) not in profiles:
                path = root / system_shown
                if not path.is_file():
                    raise Skip("no_system_file", f"{system_shown} is not in the folder read")
                try:
                    data = json.loads(_read_bytes(path, system_shown))
                except ValueError:
                    raise InputError(f"{system_shown}: not valid JSON") from None
                try:
                    profiles[(r.submitter, r.system)] = build_profile(release, r.submitter, r.system, data, system_shown)
                except Skip as skip:
                    profiles[(r.submitter, r.system)] = skip
                files_read.add(system_shown)
            profile = profiles[(r.submitter, r.system)]
            if isinstance(profile, Skip):
                raise profile
            family = family_of(r.benchmark)
            if family not in families:
                raise Skip("unknown_benchmark", f"benchmark {r.benchmark!r} is not in mlperf_models.yaml")
            declared, dtype, measurements_file = _weights(root, r)
            files_read.add(measurements_file)
            spec = build_spec(release, family, families[family], r.effective, declared, dtype)
            analyser = _analyser(root, r)
            records.append(build_record(release, root, site, measurement, profile, spec, declared, measurements_file,
                                        system_shown, analyser, commit))
            hardware_keys.add(_hardware_key(profile))
        except Skip as skip:
            for other in measurement.results:
                report.skipped.append(SkippedRun(file=f"{other.location}/performance/run_1", run_id=other.location,
                                                 reason=skip.reason, detail=skip.detail))
        except ValidationError as exc:
            raise InputError(format_validation_error(f"{r.location}", exc)) from None

    # Repeats number the records of one workload on one system in time order.
    counter: dict[tuple[str, str], int] = {}
    numbered = []
    for record in sorted(records, key=lambda x: (x.workload.id, x.profile.id, x.started_at, x.run_id)):
        key = (record.workload.id, record.profile.id)
        counter[key] = counter.get(key, 0) + 1
        numbered.append(record.model_copy(update={"repeat": counter[key]}))

    published = sum(len(m.results) for m in groups.values())
    report.files_read = sorted(files_read)
    report.provenance = report.provenance.model_copy(update={"files": []})
    report.summary = {
        "label": release.label,
        "published_results": published,
        "measurements": len(numbered),
        "shared": published - len(groups),
        "systems": len({r.profile.id for r in numbered}),
        "distinct_hardware": len(hardware_keys),
        "published_figures": {
            res.location: {"value": res.published_value, "units": res.published_units}
            for m in groups.values() for res in m.results if res.published_units
        },
    }
    extra = {"LICENSE.md": license_text, "SOURCE.md": source_markdown(release, commit, report)}
    result = write_import(numbered, report, Path(out_dir), extra_files=extra, replace=replace)
    return ImportOutcome(report=report, result=result, out_dir=Path(out_dir), source=root)


def _hardware_key(profile: HardwareProfile) -> tuple:
    acc = profile.accelerator
    return (
        (acc.model, acc.count) if acc else None,
        (profile.cpu.model, profile.cpu.sockets) if profile.cpu else None,
        profile.memory.total_gib if profile.memory else None,
        profile.node_count,
    )


def _analyser(root: Path, result: Result) -> str | None:
    """`ptdaemon-<vendor>-<model>` from the result's analyzer_table.csv, when the release has one."""
    table = root / result.location.replace("/results/", "/measurements/", 1) / "analyzer_table.csv"
    if not table.is_file():
        return None
    rows = table.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(rows) < 2:
        return None
    cells = [c.strip() for c in rows[1].split(",")]
    if len(cells) < 2 or not cells[0] or not cells[1]:
        return None
    return _slug(f"ptdaemon-{cells[0]}-{cells[1]}")


def import_v3_0(source: Path, site: str, out_dir: Path, commit: str | None = None, replace: bool = False) -> ImportOutcome:
    return import_release(V3_0, source, site, out_dir, commit, replace)


def import_v4_1(source: Path, site: str, out_dir: Path, commit: str | None = None, replace: bool = False) -> ImportOutcome:
    return import_release(V4_1, source, site, out_dir, commit, replace)

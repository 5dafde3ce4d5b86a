"""The leaderboard's view: everything the templates show, computed once from the records and the scores.

`aggregate(inputs, scored)` turns run records, each site's tier and
certificate, and the scorer's summary into plain view rows: rankings per
boundary, per-workload errors (one object per estimator x workload x
boundary, shown on both pages), energy groups with their CV, site details
and provenance, the SVG charts, the downloads and the citation. Templates read
only this view; they never open a record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import operator
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup

from joulebench import SUITE_VERSION
from joulebench.board.format import markdown_html
from joulebench.formats import BOUNDARIES, Certificate, RunRecord, Score, ScoreSummary
from joulebench.scoring.summary import csv_text

BOUNDARY_TEXT = {
    "gpu": "the accelerators (GPU boards), from their own energy counters",
    "cpu": "the CPU packages (RAPL package domain)",
    "dram": "the memory (RAPL DRAM domain)",
    "node": "the whole machine at the wall or the BMC: power supply, fans, disks and board included",
}


# --------------------------------------------------------------------------- what the read and score steps hand over


@dataclass
class SiteCertificate:
    """What the site page says about a certificate: the verified tier and, when one exists, its details."""

    tier: str
    present: bool = False
    certificate: Certificate | None = None
    problems: list[str] = field(default_factory=list)
    signed: bool = False
    key_id: str | None = None
    reason: str = ""  # why the site has its tier (what it lacks, when uncertified)
    uncovered: list[str] = field(default_factory=list)  # record files in its folder the certificate does not cover


@dataclass
class Inputs:
    records: list[RunRecord]
    tiers: dict[str, str]  # site -> the tier its certificate grants (to the records it covers)
    certificates: dict[str, SiteCertificate]
    import_reports: dict[str, list[dict[str, Any]]]
    manifest: list[tuple[str, str]]  # (path relative to the runs folder, sha256), sorted by path
    min_tier: str | None = None
    excluded: dict[str, str] = field(default_factory=dict)  # site -> tier, left out by --min-tier
    n_excluded_runs: int = 0
    trust: Any = None  # joulebench.certify.trust.Trust: each run's tier and reason
    unmetered: list[str] = field(default_factory=list)  # run ids refused: no primary meter measured them
    unmetered_sites: set[str] = field(default_factory=set)  # sites whose every record was refused as unmetered
    trusted_keys: str = ""
    trusted_keys_sha256: str = ""
    all_run_ids: set[str] = field(default_factory=set)  # every record's run id, before --min-tier

    def run_tier(self, run_id: str) -> tuple[str, str]:
        """(tier, reason) of one run; uncertified when nothing vouches for it."""
        if self.trust is None:
            return "uncertified", ""
        return self.trust.runs.get(run_id, ("uncertified", ""))

    @property
    def data_sha256(self) -> str:
        return hashlib.sha256(manifest_text(self.manifest).encode()).hexdigest()


def manifest_text(manifest: list[tuple[str, str]]) -> str:
    """`sha256sum` format, so `cd results && sha256sum -c inputs.sha256` checks it."""
    return "".join(f"{digest}  {path}\n" for path, digest in manifest)


@dataclass
class Runs:
    """The scorer's runs, in its order (by workload, then run id), with what the pages group them by."""

    run_ids: list[str]
    workloads: list[str]  # sorted "track/id" keys
    workload_index: np.ndarray  # per run, into `workloads`; non-decreasing
    domains: np.ndarray  # per run
    sites: np.ndarray  # per run
    truth: dict[str, np.ndarray]  # boundary -> joules per run, NaN where none

    @property
    def n(self) -> int:
        return len(self.run_ids)

    @classmethod
    def of(cls, summary: ScoreSummary, by_id: dict[str, RunRecord]) -> Runs:
        per_run = summary.per_run
        run_ids = list(per_run.run_ids) if per_run else []
        keys = [f"{by_id[r].workload.track}/{by_id[r].workload.id}" for r in run_ids]
        workloads = sorted(set(keys))
        position = {w: i for i, w in enumerate(workloads)}
        n = len(run_ids)
        truth = {b: _array(per_run.truth_j.get(b), n) for b in BOUNDARIES} if per_run else {}
        return cls(
            run_ids=run_ids,
            workloads=workloads,
            workload_index=np.array([position[k] for k in keys], dtype=np.int64),
            domains=np.array([by_id[r].workload.domain for r in run_ids], dtype=object),
            sites=np.array([by_id[r].site for r in run_ids], dtype=object),
            truth=truth,
        )


def _array(values: list[float | None] | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclass
class Column:
    """One estimator's answers from the summary, per boundary, aligned with `Runs`."""

    key: str
    id: str
    version: str
    source: str
    boundaries: tuple[str, ...]
    failures: int
    description: str
    values: dict[str, np.ndarray]
    submission: Any = None
    node_total_of: tuple[str, ...] = ()  # it gives no node figure: scored at node on the sum of these


def columns_of(summary: ScoreSummary, n: int) -> list[Column]:
    answers: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
    for a in summary.per_run.answers if summary.per_run else []:
        answers[f"{a.estimator_id}@{a.estimator_version}"][a.boundary] = _array(a.energy_j, n)
    return [
        Column(f"{e.id}@{e.version}", e.id, e.version, e.source, tuple(e.boundaries), e.failures, e.description,
               answers.get(f"{e.id}@{e.version}", {}), e.submission, tuple(e.node_total_of))
        for e in summary.estimators
        if e.available
    ]


# --------------------------------------------------------------------------- aggregate: the view the templates read


def slug(text: str) -> str:
    """A safe, unique file name stem for any id: lowercase [a-z0-9-] plus a hash of the exact id."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-") or "id"
    return f"{base}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


@dataclass
class EstimatorRef:
    key: str
    id: str
    version: str
    source: str
    href: str  # relative to the site root
    badge: str = ""  # a submission's badge: reproduced, self-reported, not-reproduced
    in_sample: int = 0  # scored runs that are in the data it was fitted on
    node_total_of: tuple[str, ...] = ()  # scored at node on the total of these boundaries' figures


@dataclass
class WorkloadRef:
    key: str  # track/id
    track: str
    id: str
    href: str


@dataclass
class SiteRef:
    id: str
    tier: str
    href: str


@dataclass
class RankRow:
    score: Score
    estimator: EstimatorRef


@dataclass
class BoundaryView:
    name: str
    text: str
    n_truth: int  # runs metered here whose truth is within the headline's bound
    rows: list[RankRow]  # one per estimator claiming the boundary, in ranking order
    sites: list[SiteRef]  # where this boundary's truth comes from
    n_metered: int = 0  # every run metered here, the ones scored apart included
    apart: list[RankRow] = field(default_factory=list)  # scores on the runs whose truth is looser or states no bound


@dataclass
class WorkloadError:
    """One estimator on one workload at one boundary: plain means over the runs both have."""

    boundary: str
    n: int
    mape_pct: float
    bias_pct: float
    workload: WorkloadRef
    estimator: EstimatorRef


@dataclass
class Chart:
    boundary: str
    n: int
    scatter: Markup
    histogram: Markup


@dataclass
class Movement:
    """One score of this build next to the same estimator's score in the previous summary."""

    boundary: str
    slice: str
    slice_value: str
    before: Score | None  # None: not scored there in the previous summary
    after: Score

    @property
    def delta_mape_pct(self) -> float | None:
        if self.before is None or self.before.mape_pct is None or self.after.mape_pct is None:
            return None
        return self.after.mape_pct - self.before.mape_pct


@dataclass
class EstimatorView:
    ref: EstimatorRef
    boundaries: list[str]
    failures: int
    description: Markup | None
    summary_line: str
    slices: dict[str, list[Score]]  # boundary -> every slice's score
    by_workload: dict[str, list[WorkloadError]]
    charts: list[Chart]
    submission: Any = None  # SubmissionProvenance of an entry of submissions/
    not_scored: str = ""  # why it has no scores here (a submission that could not run, a live one with no outputs)
    worst: dict[str, list[Score]] = field(default_factory=dict)  # boundary -> slices with the largest MAPE
    best: dict[str, list[Score]] = field(default_factory=dict)  # boundary -> slices with the smallest MAPE
    movement: list[Movement] = field(default_factory=list)
    in_previous: bool = False  # the previous summary scored this estimator (any version)


@dataclass
class RunRow:
    run_id: str
    site: SiteRef
    workload: WorkloadRef
    profile_id: str
    repeat: int
    started_at: str
    duration_s: float
    iterations: int
    energy: dict[str, Any]  # boundary -> BoundaryEnergy
    warnings: int
    provenance: str
    tier: str = "uncertified"  # the tier this run counts at
    tier_reason: str = ""


@dataclass
class EnergyGroup:
    """The repeats of one workload at one site and profile, at one boundary."""

    site: SiteRef
    profile_id: str
    n: int
    mean_j_per_iteration: float
    cv_pct: float | None  # of J/iteration; sample standard deviation, needs 2 runs
    static_share_pct: float | None  # mean E_static / E_total where idle power was measured


@dataclass
class WorkloadEnergy:
    boundary: str
    groups: list[EnergyGroup]


@dataclass
class WorkloadView:
    ref: WorkloadRef
    specs: list[list[tuple[str, str]]]  # one key/value table per distinct spec hash
    domain: str
    task: str
    params: int
    n_runs: int
    energy: list[WorkloadEnergy]
    boundaries: list[str]  # those metered in any of its runs
    runs: list[RunRow]
    errors: list[WorkloadError]


@dataclass
class SiteView:
    ref: SiteRef
    certificate: SiteCertificate
    profiles: list[list[tuple[str, str]]]
    detected: list[list[tuple[str, str]]]
    checks: list[str]
    meters: list[tuple[str, str, str, str, str, int]]  # role, boundary, meter, method, update period, runs
    uncertainty: list[UncertaintyRow]
    missing: list[tuple[str, str, int]]
    environments: list[tuple[str, int]]
    provenance: list[dict[str, Any]]
    import_reports: list[dict[str, Any]]
    runs: list[RunRow]
    hardware: str
    boundaries: list[str]
    detected_hardware: str = ""  # what the runs detected, beside the declared `hardware`
    uncertified_runs: list[tuple[str, str]] = field(default_factory=list)  # (run id, reason) below the site's tier


@dataclass
class Download:
    name: str
    description: str
    data: bytes

    @property
    def size(self) -> str:
        return human_bytes(len(self.data))


@dataclass
class View:
    suite_version: str
    data_sha256: str
    n_runs: int
    n_workloads: int
    min_tier: str | None
    excluded: dict[str, str]
    n_excluded_runs: int
    boundaries: list[BoundaryView]
    estimators: list[EstimatorView]
    workloads: list[WorkloadView]
    sites: list[SiteView]
    unavailable: list[Any]
    problems: list[str]
    summary: ScoreSummary | None
    submissions: list[EstimatorView]  # every entry of the submissions registry, scored or not, by id
    previous_suite_version: str | None  # of the --previous summary; None when none was given
    methodology: dict[str, Any]
    downloads: list[Download]
    bibtex: str
    example_citation: str
    unmetered: list[str] = field(default_factory=list)  # run ids refused: no meter measured them
    trusted_keys: str = ""
    trusted_keys_sha256: str = ""


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} MB"


def _kv_spec(spec) -> list[tuple[str, str]]:
    rows = [
        ("id", spec.id), ("track", spec.track), ("domain", spec.domain), ("task", spec.task),
        ("model", f"{spec.model.library}: {spec.model.architecture}"),
        ("parameters", _stated(spec.params, "{:,}")), ("dtype", spec.dtype), ("batch size", str(spec.batch_size)),
    ]  # fmt: skip
    for label, value in (("image size", spec.image_size), ("sequence length", spec.seq_len),
                         ("new tokens per iteration", spec.new_tokens), ("optimizer", spec.optimizer)):
        if value is not None:
            rows.append((label, str(value)))
    if spec.flops_per_iteration is not None:
        method = f" ({spec.flops_method})" if spec.flops_method else ""
        rows.append(("FLOPs per iteration", f"{spec.flops_per_iteration:.4g}{method}"))
    rows += [
        ("warm-up iterations", str(spec.warmup_iterations)), ("measured iterations", str(spec.measured_iterations)),
        ("repeats", str(spec.repeats)), ("seed", str(spec.seed)),
    ]  # fmt: skip
    if spec.model.config:
        rows.append(("model config", json.dumps(spec.model.config, sort_keys=True)))
    if spec.pinned_with:
        rows.append(("pinned with", ", ".join(f"{k} {v}" for k, v in sorted(spec.pinned_with.items()))))
    if spec.description:
        rows.append(("description", spec.description))
    rows.append(("spec sha256", spec.spec_hash))
    return rows


def _stated(value, fmt: str) -> str:
    """A profile or spec number as text; None (not stated by the source) says so."""
    return "not stated" if value is None else fmt.format(value)


def _kv_profile(profile) -> list[tuple[str, str]]:
    rows = [("id", profile.id), ("name", profile.name), ("kind", profile.kind)]
    if profile.node_count > 1:
        rows.append(("nodes", str(profile.node_count)))
    acc = profile.accelerator
    if acc is not None:
        peak = acc.peak_tflops.model_dump().items() if acc.peak_tflops is not None else ()
        rows += [
            ("accelerator", f"{acc.count} x {acc.model}"), ("accelerator memory", _stated(acc.memory_gib, "{:g} GiB each")),
            ("accelerator TDP", _stated(acc.tdp_w, "{:g} W each")),
            ("dense peak", ", ".join(f"{k} {v:g} TFLOPS" for k, v in peak if v) or "not stated"),
        ]  # fmt: skip
        if acc.power_limit_w is not None:
            rows.append(("accelerator power limit", f"{acc.power_limit_w:g} W each"))
    cpu, memory = profile.cpu, profile.memory
    if cpu is None:
        rows.append(("CPU", "not stated"))
    else:
        rows += [
            ("CPU", f"{cpu.sockets} x {cpu.model}"),
            ("cores", f"{cpu.sockets} sockets x {cpu.cores_per_socket} cores x "
                      + _stated(cpu.threads_per_core, "{} threads")),
            ("CPU TDP", _stated(cpu.tdp_w, "{:g} W per socket")),
        ]  # fmt: skip
    rows += [
        ("memory", "not stated" if memory is None else
         f"{memory.total_gib:g} GiB" + (f" in {memory.dimms} DIMMs" if memory.dimms else "")),
        ("PUE (default)", f"{profile.pue:g}"), ("grid intensity (default)", f"{profile.grid_gco2_per_kwh:g} gCO2/kWh"),
        ("declared meters", ", ".join(f"{m.meter} ({m.boundary})" for m in profile.meters) or "none"),
        ("sources", "; ".join(profile.sources)), ("profile sha256", profile.profile_hash),
    ]  # fmt: skip
    return rows


def _kv_detected(hw) -> list[tuple[str, str]]:
    rows = []
    for gpu in hw.gpus:
        parts = [gpu.name]
        if gpu.memory_gib is not None:
            parts.append(f"{gpu.memory_gib:g} GiB")
        if gpu.power_limit_w is not None:
            parts.append(f"power limit {gpu.power_limit_w:g} W")
        if gpu.uuid_hash:
            parts.append(f"board {gpu.uuid_hash}")
        rows.append((f"GPU {gpu.index}", ", ".join(parts)))
    for label, value in (("GPU driver", hw.gpu_driver), ("CPU", hw.cpu_model), ("sockets", hw.cpu_sockets),
                         ("cores", hw.cpu_cores), ("threads", hw.cpu_threads), ("memory GiB", hw.memory_gib)):
        if value is not None:
            rows.append((label, f"{value:g}" if isinstance(value, float) else str(value)))
    return rows or [("detected", "nothing recorded")]


def _hardware_line(profile) -> str:
    cpu = f"{profile.cpu.sockets} x {profile.cpu.model}" if profile.cpu is not None else "CPU not stated"
    nodes = f"{profile.node_count} nodes of " if profile.node_count > 1 else ""
    if profile.accelerator is not None:
        return f"{nodes}{profile.accelerator.count} x {profile.accelerator.model}, {cpu}"
    return f"{nodes}{cpu}"


def _detected_line(hw) -> str:
    """What the run saw of its machine, in one line (as _hardware_line says what was declared)."""
    parts = []
    if hw.gpus:
        names = Counter(g.name for g in hw.gpus)
        parts.append(", ".join(f"{n} x {name}" for name, n in sorted(names.items())))
    if hw.cpu_model or hw.cpu_cores:
        cores = f" ({hw.cpu_cores} cores)" if hw.cpu_cores else ""
        parts.append(f"{hw.cpu_sockets or '?'} x {hw.cpu_model or 'unknown CPU'}{cores}")
    if hw.memory_gib is not None:
        parts.append(f"{hw.memory_gib:g} GiB RAM")
    return ", ".join(parts) or "nothing detected"


def _provenance_line(record: RunRecord) -> str:
    return f"imported: {record.provenance.source}" if record.provenance else "measured with joulebench"


class _ErrorMatrix:
    """One boundary: every estimator's errors on every run, and their means per workload (estimators x workloads)."""

    def __init__(self, table: Runs, columns: list[Column], boundary: str):
        n, w = table.n, len(table.workloads)  # every workload has at least one run
        truth = table.truth.get(boundary, np.full(n, np.nan))
        self.truth = truth
        self.columns = [c for c in columns if boundary in c.boundaries]
        nan = np.full(n, np.nan)
        self.estimates = np.vstack([c.values.get(boundary, nan) for c in self.columns]) if self.columns else np.empty((0, n))
        self.valid = ~np.isnan(self.estimates) & ~np.isnan(truth)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.rel = np.where(self.valid, (self.estimates - truth) / np.where(np.isnan(truth), 1.0, truth), 0.0)
        # Runs are sorted by workload, so each workload's runs are one contiguous stretch.
        idx = table.workload_index
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]]) if n else np.zeros(0, dtype=np.int64)
        if self.columns and n:
            self.n_w = np.add.reduceat(self.valid.astype(np.int64), starts, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.mape_w = np.add.reduceat(np.abs(self.rel), starts, axis=1) / self.n_w * 100
                self.bias_w = np.add.reduceat(self.rel, starts, axis=1) / self.n_w * 100
        else:
            self.n_w = self.mape_w = self.bias_w = np.zeros((len(self.columns), w))

    def workload_errors(self, boundary: str, estimator_refs: list, workload_refs: list) -> list[list[WorkloadError]]:
        """[estimator][workload] -> the WorkloadError, or None where it has no scored run there."""
        n_w, mape, bias = self.n_w.tolist(), self.mape_w.tolist(), self.bias_w.tolist()
        return [
            [WorkloadError(boundary, n, mape[i][w], bias[i][w], workload_refs[w], estimator_refs[i]) if n else None
             for w, n in enumerate(n_w[i])]
            for i in range(len(self.columns))
        ]


def _description_html(text: str) -> tuple[Markup | None, str]:
    if not text:
        return None, ""
    return markdown_html(text), text.splitlines()[0]


def aggregate(inputs: Inputs, summary: ScoreSummary | None, previous: ScoreSummary | None = None) -> View:
    """Everything the templates show, computed once from the score summary and the records.

    Every number comes from the summary (scores, comparisons, the per-run
    truth and answers); records give only what they alone hold (hardware,
    meters, provenance). Templates never open records.
    """

    records = inputs.records
    by_id = {r.run_id: r for r in records}
    site_refs = {
        site: SiteRef(site, inputs.tiers.get(site, "uncertified"), f"sites/{slug(site)}.html")
        for site in sorted({r.site for r in records} | set(inputs.certificates) - set(inputs.excluded) - inputs.unmetered_sites)
    }
    workload_refs: dict[str, WorkloadRef] = {}
    for r in records:
        key = f"{r.workload.track}/{r.workload.id}"
        if key not in workload_refs:
            workload_refs[key] = WorkloadRef(key, r.workload.track, r.workload.id, f"workloads/{slug(key)}.html")
    run_rows = {r.run_id: _run_row(r, site_refs, workload_refs, *inputs.run_tier(r.run_id)) for r in records}

    boundaries: list[BoundaryView] = []
    estimators: list[EstimatorView] = []
    workloads: list[WorkloadView] = []
    docs: dict[str, tuple[Markup | None, str, str]] = {}
    if summary is not None:
        table = Runs.of(summary, by_id)
        columns = columns_of(summary, table.n)
        docs = {c.id: (*_description_html(c.description), c.source) for c in columns if c.description}
        refs = {c.key: EstimatorRef(c.key, c.id, c.version, c.source, f"estimators/{slug(c.key)}.html",
                                    c.submission.badge if c.submission is not None else "",
                                    max((f.n_runs for f in c.submission.fitted_on), default=0) if c.submission else 0,
                                    c.node_total_of)
                for c in columns}
        matrices = {b: _ErrorMatrix(table, columns, b) for b in BOUNDARIES}
        wl = [workload_refs[k] for k in table.workloads]
        # One WorkloadError per estimator x workload x boundary, shown on both the estimator's and the workload's page.
        errors = {b: m.workload_errors(b, [refs[c.key] for c in m.columns], wl) for b, m in matrices.items()}
        boundaries = _boundary_views(summary, refs, table, site_refs)
        estimators = _estimator_views(summary, columns, refs, matrices, errors, table)
        estimators += _not_scored_views(summary)
        _judge(estimators, summary, previous)
        workloads = _workload_views(table, by_id, run_rows, workload_refs, errors)
    sites = _site_views(inputs, site_refs, run_rows)
    from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED, METRICS, settings

    methodology = {
        # An empty site still explains the metrics and settings a first run would be scored with.
        "metrics": summary.metrics if summary else METRICS,
        "settings": summary.settings if summary else settings(DEFAULT_RESAMPLES, DEFAULT_SEED),
        "estimators": [(eid, *docs[eid]) for eid in sorted(docs)],
        "boundaries": [(b, BOUNDARY_TEXT[b]) for b in BOUNDARIES],
        "tiers": markdown_html(_tier_definitions()),
    }
    view = View(
        suite_version=SUITE_VERSION,
        data_sha256=inputs.data_sha256,
        n_runs=len(records),
        n_workloads=len(workload_refs),
        min_tier=inputs.min_tier,
        excluded=dict(sorted(inputs.excluded.items())),
        n_excluded_runs=inputs.n_excluded_runs,
        boundaries=boundaries,
        estimators=estimators,
        workloads=workloads,
        sites=sites,
        unavailable=[e for e in summary.estimators if not e.available] if summary else [],
        problems=list(summary.problems) if summary else [],
        summary=summary,
        submissions=sorted((e for e in estimators if e.submission is not None), key=lambda e: (e.ref.id, e.ref.version)),
        previous_suite_version=previous.suite_version if previous is not None else None,
        methodology=methodology,
        downloads=[],
        bibtex="",
        example_citation="",
        unmetered=list(inputs.unmetered),
        trusted_keys=inputs.trusted_keys,
        trusted_keys_sha256=inputs.trusted_keys_sha256,
    )
    view.downloads = downloads(inputs, summary, list(run_rows.values()))
    view.bibtex = bibtex(view, records)
    view.example_citation = example_citation(view)
    return view


def _tier_definitions() -> str:
    from joulebench.certify.tiers import TIER_DEFINITIONS_MD

    return TIER_DEFINITIONS_MD


def _run_row(r: RunRecord, site_refs, workload_refs, tier: str = "uncertified", tier_reason: str = "") -> RunRow:
    return RunRow(
        tier=tier,
        tier_reason=tier_reason,
        run_id=r.run_id,
        site=site_refs[r.site],
        workload=workload_refs[f"{r.workload.track}/{r.workload.id}"],
        profile_id=r.profile.id,
        repeat=r.repeat,
        started_at=r.started_at.isoformat(sep=" ", timespec="seconds"),
        duration_s=r.duration_s,
        iterations=r.iterations,
        energy={e.boundary: e for e in r.energy},
        warnings=len(r.warnings),
        provenance=_provenance_line(r),
    )


def _boundary_views(summary, refs, table, site_refs) -> list[BoundaryView]:
    rows_by_boundary: dict[str, list[RankRow]] = defaultdict(list)
    apart_by_boundary: dict[str, list[RankRow]] = defaultdict(list)
    for s in summary.scores:
        if s.slice == "all":
            rows_by_boundary[s.boundary].append(RankRow(s, refs[f"{s.estimator_id}@{s.estimator_version}"]))
        elif s.slice == "truth" and s.n > 0:
            apart_by_boundary[s.boundary].append(RankRow(s, refs[f"{s.estimator_id}@{s.estimator_version}"]))
    for rows in [*rows_by_boundary.values(), *apart_by_boundary.values()]:
        # The scorer's ranking order, (MAPE, id@version), so a '=' row always follows the row it ties with.
        rows.sort(key=lambda row: (row.score.rank is None, row.score.mape_pct if row.score.mape_pct is not None
                                   else math.inf, row.estimator.key))
    views = []
    for b in BOUNDARIES:
        metered = ~np.isnan(table.truth[b]) if b in table.truth else np.zeros(table.n, dtype=bool)
        truth_sites = sorted(set(table.sites[metered].tolist()))
        headline = summary.runs.headline_truth_runs
        views.append(BoundaryView(
            name=b, text=BOUNDARY_TEXT[b], rows=rows_by_boundary[b], sites=[site_refs[s] for s in truth_sites],
            n_truth=(headline or summary.runs.truth_runs).get(b, 0), n_metered=summary.runs.truth_runs.get(b, 0),
            apart=apart_by_boundary[b],
        ))  # fmt: skip
    return views


def _estimator_views(summary, columns, refs, matrices, errors, table) -> list[EstimatorView]:
    slices: dict[str, dict[str, list[Score]]] = defaultdict(lambda: defaultdict(list))
    for s in summary.scores:
        slices[f"{s.estimator_id}@{s.estimator_version}"][s.boundary].append(s)
    domains = table.domains
    views = []
    for column in sorted(columns, key=lambda c: c.key):
        by_workload: dict[str, list[WorkloadError]] = {}
        charts = []
        for b in column.boundaries:
            m = matrices[b]
            i = next(k for k, c in enumerate(m.columns) if c is column)
            by_workload[b] = sorted((e for e in errors[b][i] if e is not None), key=lambda e: (-e.mape_pct, e.workload.key))
            valid = m.valid[i]
            if valid.any():
                title = f"{column.id} {column.version}, {b}"
                charts.append(Chart(
                    boundary=b, n=int(valid.sum()),
                    scatter=_scatter(m.truth[valid], m.estimates[i][valid], domains[valid], f"{title}: estimated vs metered energy"),
                    histogram=_histogram(m.rel[i][valid] * 100, f"{title}: signed errors"),
                ))  # fmt: skip
        html, first_line = _description_html(column.description)
        views.append(EstimatorView(
            ref=refs[column.key], boundaries=list(column.boundaries), failures=column.failures,
            description=html, summary_line=first_line,
            slices={b: slices[column.key].get(b, []) for b in column.boundaries},
            by_workload=by_workload, charts=charts, submission=column.submission,
        ))  # fmt: skip
    return views


def _not_scored_views(summary: ScoreSummary) -> list[EstimatorView]:
    """A page for each submission that has no scores here, saying why (never a silent absence)."""
    views = []
    for e in summary.estimators:
        if e.available or e.submission is None:
            continue
        key = f"{e.id}@{e.version}"
        html, first_line = _description_html(e.description)
        views.append(EstimatorView(
            ref=EstimatorRef(key, e.id, e.version, e.source, f"estimators/{slug(key)}.html", e.submission.badge),
            boundaries=list(e.boundaries),
            failures=0, description=html, summary_line=first_line, slices={}, by_workload={}, charts=[],
            submission=e.submission, not_scored=e.reason,
        ))  # fmt: skip
    return views


# Where an estimator is good and where it fails: the slices that tell hardware, task and size apart.
JUDGED_DIMENSIONS = ("profile", "task", "size", "domain", "site")
EXTREMES_SHOWN = 5


def _judge(views: list[EstimatorView], summary: ScoreSummary, previous: ScoreSummary | None) -> None:
    """Each estimator's worst and best slices per boundary, and its movement against the previous summary."""
    before: dict[tuple[str, str, str, str], list[Score]] = defaultdict(list)
    scored_before: set[str] = set()
    if previous is not None:
        for s in previous.scores:
            before[(s.estimator_id, s.boundary, s.slice, s.slice_value)].append(s)
            scored_before.add(s.estimator_id)
    for view in views:
        for b, scores in view.slices.items():
            whole = next((s.n for s in scores if s.slice == "all"), None)
            # A slice that holds every scored run says nothing the overall score does not.
            judged = [s for s in scores if s.slice in JUDGED_DIMENSIONS and 0 < s.n != whole and s.mape_pct is not None]
            if len({(s.slice, s.slice_value) for s in judged}) < 2:
                continue  # one slice value is the whole: nothing to tell apart
            ordered = sorted(judged, key=lambda s: (-s.mape_pct, s.slice, s.slice_value))
            view.worst[b] = ordered[:EXTREMES_SHOWN]
            # The best are the smallest errors not already listed among the worst (by identity: cheap).
            view.best[b] = ordered[EXTREMES_SHOWN:][::-1][:EXTREMES_SHOWN]
        if previous is None:
            continue
        view.in_previous = view.ref.id in scored_before
        for b, scores in view.slices.items():
            for s in scores:
                if s.slice != "all" and s.slice not in JUDGED_DIMENSIONS[:3]:
                    continue
                found = before.get((s.estimator_id, b, s.slice, s.slice_value), [])
                # The same version when the previous summary has it, else the one it scored.
                match = next((x for x in found if x.estimator_version == s.estimator_version), found[0] if found else None)
                if match is not None or s.slice == "all":
                    view.movement.append(Movement(b, s.slice, s.slice_value, match, s))


def _scatter(truth, estimate, domains, title):
    from joulebench.board.plots import scatter_loglog

    return scatter_loglog(truth, estimate, domains, title)


def _histogram(values, title):
    from joulebench.board.plots import histogram

    return histogram(values, title)


def _workload_views(table, by_id, run_rows, workload_refs, errors_by_boundary) -> list[WorkloadView]:
    views = []
    starts = np.flatnonzero(np.r_[True, table.workload_index[1:] != table.workload_index[:-1]]).tolist() + [table.n]
    for w, key in enumerate(table.workloads):
        run_ids = table.run_ids[starts[w] : starts[w + 1]]
        recs = [by_id[rid] for rid in run_ids]
        specs = {}
        for r in recs:
            specs.setdefault(r.spec_hash, r.workload)
        rows = sorted((run_rows[r.run_id] for r in recs), key=lambda row: (row.site.id, row.profile_id, row.repeat, row.run_id))
        energy = []
        for b in BOUNDARIES:
            grouped: dict[tuple[str, str], list[RunRow]] = defaultdict(list)
            for row in rows:
                if b in row.energy:
                    grouped[(row.site.id, row.profile_id)].append(row)
            if grouped:
                energy.append(WorkloadEnergy(b, [_energy_group(b, members) for _, members in sorted(grouped.items())]))
        errors = []
        for b in BOUNDARIES:
            found = [per_workload[w] for per_workload in errors_by_boundary[b] if per_workload[w] is not None]
            errors += sorted(found, key=lambda e: (e.mape_pct, e.estimator.key))
        spec0 = recs[0].workload
        views.append(WorkloadView(
            ref=workload_refs[key], specs=[_kv_spec(s) for _, s in sorted(specs.items())], domain=spec0.domain,
            task=spec0.task, params=spec0.params, n_runs=len(recs), energy=energy,
            boundaries=[e.boundary for e in energy], runs=rows, errors=errors,
        ))  # fmt: skip
    return sorted(views, key=lambda v: v.ref.key)


def _energy_group(boundary: str, rows: list[RunRow]) -> EnergyGroup:
    per_iteration = np.array([row.energy[boundary].energy_j / row.iterations for row in rows])
    mean = float(per_iteration.mean())
    cv = float(per_iteration.std(ddof=1) / mean * 100) if len(rows) >= 2 and mean > 0 else None
    shares = [row.energy[boundary].static_energy_j / row.energy[boundary].energy_j for row in rows
              if row.energy[boundary].static_energy_j is not None and row.energy[boundary].energy_j > 0]
    share = float(np.mean(shares) * 100) if shares else None
    return EnergyGroup(rows[0].site, rows[0].profile_id, len(rows), mean, cv, share)


@dataclass
class UncertaintyRow:
    """How good one meter's truth is on a site's runs: the spread of the stated bounds, and what they are made of."""

    role: str
    boundary: str
    meter_id: str
    n: int
    low_pct: float
    median_pct: float
    high_pct: float
    covers_meter_accuracy: bool
    within_bound: int  # runs whose bound is within the headline's
    basis: str  # an example, from the run with the median bound


def _uncertainty_row(key: tuple, found: list) -> UncertaintyRow:
    from joulebench.scoring import TRUTH_BOUND_PCT

    ordered = sorted(found, key=lambda u: u.bound_pct)
    middle = ordered[len(ordered) // 2]
    return UncertaintyRow(*key, n=len(ordered), low_pct=ordered[0].bound_pct, median_pct=middle.bound_pct,
                          high_pct=ordered[-1].bound_pct, covers_meter_accuracy=all(u.covers_meter_accuracy for u in ordered),
                          within_bound=sum(u.bound_pct <= TRUTH_BOUND_PCT for u in ordered), basis=middle.basis)


def _site_views(inputs: Inputs, site_refs, run_rows) -> list[SiteView]:
    by_site: dict[str, list[RunRecord]] = defaultdict(list)
    for r in inputs.records:
        by_site[r.site].append(r)
    views = []
    for site, ref in site_refs.items():
        recs = sorted(by_site.get(site, []), key=lambda r: (r.workload.track, r.workload.id, r.repeat, r.run_id))
        profiles = {r.profile_hash: r.profile for r in recs}
        detected = {r.hardware.model_dump_json(): r.hardware for r in recs}
        checks = sorted({f"{r.hardware_check.profile_id}: error: {e}" for r in recs for e in r.hardware_check.errors}
                        | {f"{r.hardware_check.profile_id}: warning: {w}" for r in recs for w in r.hardware_check.warnings})
        meters: Counter = Counter()
        bounds: dict[tuple, list] = defaultdict(list)
        for r in recs:
            for role, entries in (("primary", r.energy), ("cross-check", r.cross_checks)):
                for e in entries:
                    resolution = f", resolution {e.resolution_j:g} J" if e.resolution_j else ""
                    key = (role, e.boundary, e.meter_id, e.method, f"{e.update_period_s:g} s{resolution}")
                    meters[key] += 1
                    if e.uncertainty is not None:
                        bounds[(role, e.boundary, e.meter_id)].append(e.uncertainty)
        missing = Counter((m.boundary, m.reason) for r in recs for m in r.missing_boundaries)
        envs = Counter(_environment_line(r.environment) for r in recs)
        provenance: dict[tuple, dict[str, Any]] = {}
        for r in recs:
            p = r.provenance
            if p is None:
                continue
            entry = provenance.setdefault((p.source, p.citation, p.repository, p.commit, p.note), {
                "source": p.source, "citation": p.citation, "repository": p.repository, "commit": p.commit,
                "note": p.note, "files": set(), "runs": 0, "license": p.license, "notice": p.notice,
            })  # fmt: skip
            entry["files"].update(p.files)
            entry["runs"] += 1
        for entry in provenance.values():
            entry["files"] = sorted(entry["files"])
        views.append(SiteView(
            ref=ref,
            certificate=inputs.certificates.get(site, SiteCertificate(tier=ref.tier)),
            profiles=[_kv_profile(p) for _, p in sorted(profiles.items())],
            detected=[_kv_detected(h) for _, h in sorted(detected.items())],
            checks=checks,
            meters=[(*k, n) for k, n in sorted(meters.items(), key=lambda kv: (kv[0][0] != "primary", BOUNDARIES.index(kv[0][1]), kv[0][2:]))],
            uncertainty=[_uncertainty_row(key, found) for key, found in sorted(
                bounds.items(), key=lambda kv: (kv[0][0] != "primary", BOUNDARIES.index(kv[0][1]), kv[0][2]))],
            missing=[(b, reason, n) for (b, reason), n in sorted(missing.items())],
            environments=sorted(envs.items()),
            provenance=[provenance[k] for k in sorted(provenance, key=lambda k: tuple(str(x) for x in k))],
            import_reports=inputs.import_reports.get(site, []),
            runs=[run_rows[r.run_id] for r in recs],
            hardware="; ".join(sorted({_hardware_line(p) for p in profiles.values()})) or "no runs",
            boundaries=[b for b in BOUNDARIES if any(r.truth_j(b) is not None for r in recs)],
            detected_hardware="; ".join(sorted({_detected_line(r.hardware) for r in recs})) or "nothing recorded",
            uncertified_runs=[(r.run_id, run_rows[r.run_id].tier_reason) for r in recs
                              if ref.tier != "uncertified" and run_rows[r.run_id].tier == "uncertified"],
        ))  # fmt: skip
    return views


def _environment_line(env) -> str:
    parts = [f"python {env.python}", f"joulebench {env.joulebench}"]
    if env.joulebench_source_sha256:
        parts.append(f"source sha256 {env.joulebench_source_sha256[:12]}")
    for label in ("torch", "cuda", "cudnn", "gpu_driver", "transformers", "torchvision", "nvidia_ml_py"):
        value = getattr(env, label)
        if value:
            parts.append(f"{label.replace('_', '-')} {value}")
    if env.container_image_digest:
        parts.append(f"image {env.container_image_digest}")
    parts.append(env.platform)
    return ", ".join(parts)


# --------------------------------------------------------------------------- downloads and citation

RUN_CSV_COLUMNS = ["run_id", "site", "tier", "tier_reason", "profile_id", "track", "workload_id", "domain", "task",
                   "params", "repeat", "duration_s", "iterations", "provenance",
                   *[f"{b}_{k}" for b in BOUNDARIES for k in ("energy_j", "meter_id", "static_energy_j", "dynamic_energy_j")]]


def _csv_num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def downloads(inputs: Inputs, summary: ScoreSummary | None, rows: list[RunRow]) -> list[Download]:
    """Scores and runs as CSV and JSON, and the sha256 listing of every input file.

    Per-run estimates are not listed separately: live ones are in runs.json
    (they are part of the record), static ones are recomputed from the
    records by `joulebench score`.
    """
    from joulebench.scoring import scores_csv

    out = []
    if summary is not None:
        out.append(Download("scores.csv", "every score: estimator x boundary x slice, with CIs and ranks",
                            scores_csv(summary).encode()))
        out.append(Download("scores.json", "the scorer's summary, as `joulebench score --format json` writes it "
                            "(settings, metrics, scores, paired comparisons, per-run truth and answers)",
                            (summary.model_dump_json() + "\n").encode()))
    by_id = {r.run_id: r for r in inputs.records}
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(RUN_CSV_COLUMNS)
    lines = []
    for row in sorted(rows, key=lambda row: row.run_id):
        r = by_id[row.run_id]
        cells = [csv_text(r.run_id), csv_text(r.site), row.tier, csv_text(row.tier_reason), csv_text(r.profile.id),
                 csv_text(r.workload.track), csv_text(r.workload.id), r.workload.domain, r.workload.task,
                 r.workload.params, r.repeat, _csv_num(r.duration_s), r.iterations, csv_text(row.provenance)]
        for b in BOUNDARIES:
            e = row.energy.get(b)
            cells += ["", "", "", ""] if e is None else [_csv_num(e.energy_j), csv_text(e.meter_id),
                                                         _csv_num(e.static_energy_j), _csv_num(e.dynamic_energy_j)]
        writer.writerow(cells)
        run = {
            "run_id": r.run_id, "site": r.site, "tier": row.tier, "tier_reason": row.tier_reason,
            "profile_id": r.profile.id,
            "track": r.workload.track, "workload_id": r.workload.id, "spec_sha256": r.spec_hash,
            "domain": r.workload.domain, "task": r.workload.task, "params": r.workload.params, "repeat": r.repeat,
            "duration_s": r.duration_s, "iterations": r.iterations, "provenance": row.provenance,
            "energy": {e.boundary: dict(zip(_ENERGY_FIELDS, _energy_values(e))) for e in r.energy},
            "live_estimates": [dict(zip(_LIVE_FIELDS, _live_values(x))) for x in r.live_estimates],
        }  # fmt: skip
        # One run per line, compact: the C encoder, and a diff shows which runs changed.
        lines.append(_RUN_JSON.encode(run))
    out.append(Download("runs.csv", "one row per run: site, tier, workload, metered energy per boundary",
                        text.getvalue().encode()))
    out.append(Download("runs.json", "the same runs, one per line, with each boundary's meter reading and the live "
                        "estimates recorded during the run", ("[\n" + ",\n".join(lines) + "\n]\n").encode()))
    out.append(Download("inputs.sha256", "sha256 of every file the build read (check with sha256sum -c inside the "
                        "results folder); the data sha256 is the sha256 of this file",
                        manifest_text(inputs.manifest).encode()))
    return out


_ENERGY_FIELDS = ("meter_id", "method", "update_period_s", "energy_j", "mean_power_w", "idle_power_w",
                  "static_energy_j", "dynamic_energy_j", "resolution_j")
_LIVE_FIELDS = ("estimator_id", "estimator_version", "boundary", "energy_j", "mode")
_energy_values, _live_values = operator.attrgetter(*_ENERGY_FIELDS), operator.attrgetter(*_LIVE_FIELDS)
# One encoder for every run line: json.dumps with options builds a new one per call.
_RUN_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def bibtex(view: View, records: list[RunRecord]) -> str:
    year = max((r.ended_at.year for r in records), default=None)
    key = re.sub(r"[^a-z0-9]+", "_", view.suite_version.lower()) + "_" + view.data_sha256[:8]
    fields = [
        ("title", f"{{joulebench leaderboard: energy estimators scored against metered truth ({view.suite_version})}}"),
        ("author", "{{joulebench contributors}}"),
        ("version", f"{{{view.suite_version}}}"),
    ]
    if year is not None:
        fields.append(("year", f"{{{year}}}"))
    fields.append(("note", f"{{Suite version {view.suite_version}; {view.n_runs} runs, {view.n_workloads} workloads, "
                           f"{len([s for s in view.sites if s.runs])} sites; data sha256 {view.data_sha256}}}"))
    body = ",\n".join(f"  {name:<8} = {value}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def example_citation(view: View) -> str:
    for boundary in view.boundaries:
        for row in boundary.rows:
            s = row.score
            if s.mape_pct is not None:
                ci = f" [95% CI {s.mape_ci_pct.low:.1f}, {s.mape_ci_pct.high:.1f}]" if s.mape_ci_pct else ""
                return (f"{s.estimator_id} {s.estimator_version} {boundary.name}-level MAPE on {view.suite_version} "
                        f"({s.n} runs, {s.n_workloads} workloads; data sha256 {view.data_sha256[:12]}) = "
                        f"{s.mape_pct:.1f}%{ci}")
    return ""



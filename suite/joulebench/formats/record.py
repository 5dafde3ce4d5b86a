"""The run record: one measured window of one workload on one site (results/<site>/<run_id>.json)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import Field, model_validator

from joulebench.formats.profile import HardwareProfile
from joulebench.formats.vocabulary import (
    MAX_COUNT,
    MAX_DURATION_S,
    MAX_ENERGY_J,
    Boundary,
    Count,
    Identifier,
    Joules,
    JsonObject,
    Line,
    MeterId,
    MeterMethod,
    Percent,
    RunId,
    Sha256,
    Strict,
    Text,
    Version,
    omit_empty,
    omit_none,
)
from joulebench.formats.workload import WorkloadSpec

RECORD_SCHEMA_VERSION = 1

# A timestamp outside these years is a clock or a file gone wrong, not a measurement.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
# duration_s may be shorter than ended_at - started_at (an imported study's bounds include model
# loading), never longer than it by more than this (clock rounding).
DURATION_SLACK_S = 1.0
DURATION_SLACK_FRACTION = 0.01
# No workload iterates faster than this per accelerator (or per CPU machine), however small: an iteration is at
# least one kernel launch or one pass through a model. Generous, so an importer that counts one sample per
# iteration on a large inference system still fits.
MAX_ITERATIONS_PER_S = 10_000_000
MAX_TOKENS_PER_S = 1e9
MAX_TRACE_POINTS = 100_000
Watts = Annotated[float, Field(ge=0, le=10_000_000)]


class DetectedGpu(Strict):
    index: int = Field(ge=0, le=4096)
    name: Line
    memory_gib: float | None = Field(default=None, ge=0, le=1_048_576)
    power_limit_w: float | None = Field(default=None, ge=0, le=100_000)
    uuid_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{1,64}$")  # identifies a board without its UUID


class DetectedHardware(Strict):
    gpus: list[DetectedGpu] = Field(default_factory=list, max_length=4096)
    gpu_driver: Line | None = None
    cpu_model: Line | None = None
    cpu_sockets: int | None = Field(default=None, ge=0, le=64)
    cpu_cores: int | None = Field(default=None, ge=0, le=1_000_000)
    cpu_threads: int | None = Field(default=None, ge=0, le=1_000_000)
    memory_gib: float | None = Field(default=None, ge=0, le=1_048_576)


class HardwareCheck(Strict):
    profile_id: Identifier
    errors: list[Line] = Field(default_factory=list, max_length=1000)
    warnings: list[Line] = Field(default_factory=list, max_length=1000)

    @property
    def ok(self) -> bool:
        return not self.errors


class Environment(Strict):
    python: Line
    platform: Line
    joulebench: Line
    # sha256 over the joulebench package's files (code, workloads, profiles, templates), as MLPerf
    # checksums its source: two runs with the same version but different code tell themselves apart.
    joulebench_source_sha256: Sha256 | None = None
    torch: Line | None = None
    cuda: Line | None = None
    cudnn: Line | None = None
    gpu_driver: Line | None = None
    torchvision: Line | None = None
    transformers: Line | None = None
    nvidia_ml_py: Line | None = None
    container_image_digest: Line | None = None


class TruthUncertainty(Strict):
    """How far a metered energy can be from what the boundary really drew over the window.

    Added with the imported studies (issue 11): truth is only as good as its meter,
    and a ranking should use only runs whose truth is tighter than the differences
    it ranks.
    """

    bound_pct: float = Field(
        ge=0,
        description=(
            "half-width, in percent of energy_j, of an interval around energy_j that holds the energy "
            "the boundary drew over the window, from the sources named in basis: a worst-case bound "
            "(each source at its limit, added), not a standard deviation"
        ),
    )
    covers_meter_accuracy: bool = Field(
        description=(
            "True: the bound includes the meter's own accuracy (an analyser's class, a counter's known "
            "per-board error). False: the source does not state it, and the bound covers only what can "
            "be derived from the data (display steps, sampling, window edges)"
        )
    )
    basis: str = Field(description="what the bound is made of, with where each number comes from")


class BoundaryEnergy(Strict):
    """What one meter measured over one window."""

    boundary: Boundary
    meter_id: MeterId
    method: MeterMethod
    update_period_s: float = Field(gt=0, le=MAX_DURATION_S)
    energy_j: Joules
    mean_power_w: Watts
    idle_power_w: Watts | None = None
    # idle_power_w x duration: what the boundary draws doing nothing.
    static_energy_j: Joules | None = None
    # energy_j - static_energy_j; can be slightly negative on a noisy idle.
    dynamic_energy_j: float | None = Field(default=None, ge=-MAX_ENERGY_J, le=MAX_ENERGY_J)
    per_device_j: dict[Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_.:@/+-]+$")],
                       Annotated[float, Field(ge=-MAX_ENERGY_J, le=MAX_ENERGY_J)]] = Field(default_factory=dict, max_length=4096)
    # The smallest step the meter can show (1 Wh = 3600 J for a kWh display).
    resolution_j: float | None = Field(default=None, gt=0, le=MAX_ENERGY_J)
    # None: not stated (every record measured before issue 11).
    uncertainty: TruthUncertainty | None = Field(default=None, exclude_if=omit_none)


class MissingBoundary(Strict):
    boundary: Boundary
    reason: Text


class PowerTrace(Strict):
    """Downsampled samples taken in the background during the window."""

    period_s: float = Field(gt=0, le=MAX_DURATION_S)
    t_s: list[Annotated[float, Field(ge=-MAX_DURATION_S, le=MAX_DURATION_S)]] = Field(max_length=MAX_TRACE_POINTS)
    # A plug meter may show a small negative power (reverse flow, calibration offset): finite is the bound here.
    power_w: dict[MeterId, list[Annotated[float, Field(ge=-10_000_000, le=10_000_000)] | None]] = Field(
        default_factory=dict, max_length=64)
    gpu_util_pct: list[Percent | None] = Field(default_factory=list, max_length=MAX_TRACE_POINTS)
    cpu_util_pct: list[Percent | None] = Field(default_factory=list, max_length=MAX_TRACE_POINTS)

    @model_validator(mode="after")
    def _aligned(self) -> PowerTrace:
        n = len(self.t_s)
        for name, values in [*((f"power_w.{k}", v) for k, v in self.power_w.items()),
                             ("gpu_util_pct", self.gpu_util_pct), ("cpu_util_pct", self.cpu_util_pct)]:
            if values and len(values) != n:
                raise ValueError(f"{name}: {len(values)} samples for {n} times in t_s (expected one per time)")
        return self

    @property
    def mean_gpu_util_pct(self) -> float | None:
        values = [v for v in self.gpu_util_pct if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def mean_cpu_util_pct(self) -> float | None:
        values = [v for v in self.cpu_util_pct if v is not None]
        return sum(values) / len(values) if values else None


class LiveEstimate(Strict):
    """What a live estimator said about the same window, raw output kept."""

    estimator_id: Identifier
    estimator_version: Version
    boundary: Boundary
    energy_j: Joules
    mode: Text = ""
    raw: JsonObject = Field(default_factory=dict)


class SourceLine(Strict):
    """One place in a study's released files that a record's numbers were read from."""

    file: str = Field(description="path relative to the root of the study's repository")
    line: int | None = Field(default=None, ge=1, description="1-based line where the row or entry starts")
    what: str = Field(default="", description="what was read there")


class Provenance(Strict):
    """Where a record that joulebench did not measure itself comes from.

    study, license, notice and lines came with issue 11 (studies shipped in results/);
    they are left out of the JSON while empty, so older records are unchanged.
    """

    source: Line
    citation: Text
    repository: Line | None = None
    files: list[Line] = Field(default_factory=list, max_length=10_000)
    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,64}$")] | None = None
    note: Text = ""
    study: Identifier | None = Field(
        default=None, exclude_if=omit_none, description="the importer that wrote it: one slice per study"
    )
    license: Line | None = Field(
        default=None, exclude_if=omit_none, description="SPDX id of the data's licence (CC-BY-SA-4.0, Apache-2.0)"
    )
    notice: Text | None = Field(
        default=None,
        exclude_if=omit_none,
        description="text that must be shown wherever this record's numbers are (attribution, a trademark condition)",
    )
    lines: list[SourceLine] = Field(default_factory=list, max_length=10_000, exclude_if=omit_empty)


class Topology(Strict):
    """Where one window ran: how many nodes and ranks, and what started and joined them."""

    nodes: int = Field(ge=1, le=100_000)
    world_size: int = Field(ge=1, le=10_000_000)
    ranks_per_node: int = Field(ge=1, le=4096)
    gpus_per_node: int = Field(ge=0, le=4096, description="GPUs metered per node: exactly those its ranks used")
    launcher: Literal["single", "torchrun"]
    backend: Literal["nccl", "gloo"] | None = None
    rendezvous: str | None = None


class NodeEnergy(Strict):
    """What one node's meter owner (its local rank 0) measured over the window."""

    node: Line = Field(min_length=1, description="the scheduler's node name, or the host name")
    node_rank: int = Field(ge=0, le=100_000)
    global_ranks: list[Annotated[int, Field(ge=0, le=10_000_000)]] = Field(min_length=1)
    energy: list[BoundaryEnergy] = Field(default_factory=list)
    missing_boundaries: list[MissingBoundary] = Field(default_factory=list)


class WindowSync(Strict):
    """How well the ranks agreed on the window's edges (a device synchronise, then a barrier)."""

    barrier: Literal["gloo"] = "gloo"
    # Spread of the wall-clock times at which the ranks left each edge's barrier.
    start_skew_s: float = Field(ge=0, le=MAX_DURATION_S)
    end_skew_s: float = Field(ge=0, le=MAX_DURATION_S)

    @property
    def edge_skew_s(self) -> float:
        return max(self.start_skew_s, self.end_skew_s)


class SchedulerInfo(Strict):
    """The batch scheduler's ids for the job a window ran in: provenance, and the key to its accounting."""

    kind: Literal["slurm"]
    cluster: Line | None = None
    job_id: Line
    array_job_id: Line | None = None
    array_task_id: int | None = Field(default=None, ge=0, le=10_000_000)
    step_id: Line | None = None
    nodelist: Line | None = None
    partition: Line | None = None
    exclusive: bool | None = None
    restart_count: int = Field(default=0, ge=0, description="how often the job was requeued before this run")
    acct_gather_energy: Line | None = Field(default=None, description="the cluster's AcctGatherEnergyType")


class RunRecord(Strict):
    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    run_id: RunId
    suite_version: Line
    site: Identifier
    repeat: int = Field(ge=1, le=100_000)
    workload: WorkloadSpec
    spec_hash: Sha256
    profile: HardwareProfile
    profile_hash: Sha256
    hardware: DetectedHardware
    hardware_check: HardwareCheck
    environment: Environment
    started_at: datetime
    ended_at: datetime
    duration_s: float = Field(gt=0, le=MAX_DURATION_S)
    iterations: int = Field(gt=0, le=MAX_COUNT)
    items: Count
    tokens: Count | None = None
    device_count: int = Field(ge=0, le=4096)
    # Mean requests in flight during the window (a serving study's measured batch);
    # None: one at a time, or not stated. Static estimators see it (RunFacts).
    concurrency: float | None = Field(default=None, gt=0, le=1e6, exclude_if=omit_none)
    idle_window_s: float = Field(ge=0, le=MAX_DURATION_S)
    energy: list[BoundaryEnergy] = Field(description="primary meter per boundary: the truth", max_length=4)
    cross_checks: list[BoundaryEnergy] = Field(default_factory=list, max_length=64)
    missing_boundaries: list[MissingBoundary] = Field(default_factory=list, max_length=4)
    trace: PowerTrace | None = None
    live_estimates: list[LiveEstimate] = Field(default_factory=list, max_length=1000)
    warnings: list[Text] = Field(default_factory=list, max_length=1000)
    provenance: Provenance | None = None
    # Multi-rank windows: `energy` is then the sum over `nodes`, per boundary. Added for multi-node
    # windows and batch schedulers; left out of the dump when unset, so older records re-dump unchanged.
    topology: Topology | None = Field(default=None, exclude_if=omit_none)
    nodes: list[NodeEnergy] | None = Field(default=None, exclude_if=omit_none)
    window_sync: WindowSync | None = Field(default=None, exclude_if=omit_none)
    scheduler: SchedulerInfo | None = Field(default=None, exclude_if=omit_none)

    @model_validator(mode="after")
    def _consistent(self) -> RunRecord:
        if self.spec_hash != self.workload.spec_hash:
            raise ValueError("spec_hash does not match the embedded workload spec")
        if self.profile_hash != self.profile.profile_hash:
            raise ValueError("profile_hash does not match the embedded hardware profile")
        seen = [e.boundary for e in self.energy]
        if len(seen) != len(set(seen)):
            raise ValueError(f"more than one primary meter for a boundary: {seen}")
        live: set[tuple[str, str, str]] = set()
        for i, entry in enumerate(self.live_estimates):
            key = (entry.estimator_id, entry.estimator_version, entry.boundary)
            if key in live:
                raise ValueError(f"live_estimates.{i}: a second {entry.estimator_id} {entry.estimator_version} "
                                 f"estimate for boundary {entry.boundary}")
            live.add(key)
        problems = plausibility_problems(self)
        if problems:
            raise ValueError("; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else ""))
        return self._nodes_sum_to_energy()

    def _nodes_sum_to_energy(self) -> RunRecord:
        """A boundary's job energy is the sum of every node's; a boundary some node lacks has none."""
        if self.nodes is None:
            return self
        if self.topology is None or self.topology.nodes != len(self.nodes):
            raise ValueError("nodes needs a topology whose node count is the number of nodes listed")
        ranks = sorted(r for n in self.nodes for r in n.global_ranks)
        if ranks != list(range(self.topology.world_size)):
            raise ValueError(f"the nodes' global_ranks must be 0..{self.topology.world_size - 1} once each")
        for entry in self.energy:
            parts = [e.energy_j for n in self.nodes for e in n.energy if e.boundary == entry.boundary]
            if len(parts) != len(self.nodes):
                raise ValueError(f"boundary {entry.boundary} is in energy but not metered on every node")
            if abs(sum(parts) - entry.energy_j) > 1e-6 * max(1.0, entry.energy_j):
                raise ValueError(f"boundary {entry.boundary}: energy_j {entry.energy_j} is not the sum of the "
                                 f"nodes' {sum(parts)}")
        return self

    @property
    def metered(self) -> bool:
        """Whether any primary meter measured this window (an --allow-unmetered record has none)."""
        return bool(self.energy)

    def truth_j(self, boundary: str) -> float | None:
        """Metered energy for a boundary, or None when no meter covered it."""
        for entry in self.energy:
            if entry.boundary == boundary:
                return entry.energy_j
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def plausibility_problems(record: RunRecord) -> list[str]:
    """What in a record physics or the record itself rules out: each names the field and the bound.

    Bounds are generous on purpose (imported studies are real, and messy): they
    refuse what no machine could do, never what a machine merely rarely does.
    """
    problems: list[str] = []
    started, ended = _aware(record.started_at), _aware(record.ended_at)
    for name, moment in (("started_at", started), ("ended_at", ended)):
        if not EARLIEST <= moment <= LATEST:
            problems.append(f"{name}: {moment.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}")
    if problems:
        return problems
    span = (ended - started).total_seconds()
    if span < 0:
        return [f"ended_at: {record.ended_at.isoformat()} is before started_at {record.started_at.isoformat()}"]
    allowed = span * (1 + DURATION_SLACK_FRACTION) + DURATION_SLACK_S
    if record.duration_s > allowed:
        problems.append(f"duration_s: {record.duration_s:g} s does not fit between started_at and ended_at "
                        f"({span:g} s apart; at most {allowed:g} s)")
    duration = record.duration_s
    rate = record.iterations / duration
    nodes = machines(record)
    scale = nodes / record.profile.node_count
    devices = max(1, record.profile.accelerator.count * nodes if record.profile.accelerator else nodes)
    if rate > MAX_ITERATIONS_PER_S * devices:
        problems.append(f"iterations: {record.iterations:g} in {duration:g} s is {rate:.3g} per second "
                        f"(no device does more than {MAX_ITERATIONS_PER_S:g})")
    flops = record.workload.flops_per_iteration
    # Only for joulebench's own windows: an imported study's FLOPs per sample are counted on the
    # reference model's padded shape, which an optimised runtime need not execute (MLPerf BERT
    # drops the padding), so they bound nothing.
    if flops is not None and record.provenance is None:
        ceiling = record.profile.max_flops_per_s()
        ceiling = ceiling * scale if ceiling is not None else None
        achieved = flops * record.iterations / duration
        if ceiling is not None and achieved > ceiling:
            problems.append(f"iterations: {record.iterations:g} x {flops:.3g} FLOP in {duration:g} s is {achieved:.3g} "
                            f"FLOP/s, more than the declared hardware could execute ({ceiling:.3g} FLOP/s)")
    batch = record.workload.batch_size
    if record.items > record.iterations * batch:
        problems.append(f"items: {record.items:g} is more than iterations x batch_size "
                        f"({record.iterations:g} x {batch})")
    if record.tokens is not None and record.tokens / duration > MAX_TOKENS_PER_S:
        problems.append(f"tokens: {record.tokens:g} in {duration:g} s is more than {MAX_TOKENS_PER_S:g} per second")
    accelerators = record.profile.accelerator.count * nodes if record.profile.accelerator else 0
    if record.device_count > accelerators:
        problems.append(f"device_count: {record.device_count} is more than the profile's {accelerators} accelerator(s)")
    for field, entries in (("energy", record.energy), ("cross_checks", record.cross_checks)):
        for i, e in enumerate(entries):
            problems += _energy_problems(f"{field}.{i}", e, record, duration)
    return problems


def machines(record: RunRecord) -> int:
    """How many machines of the profile's kind the window ran on.

    A profile may describe a whole multi-node system (node_count, an imported
    study's); joulebench's own multi-node windows name the profile of one node
    and say how many nodes ran in their topology.
    """
    if record.topology is not None and record.profile.node_count == 1:
        return record.topology.nodes
    return record.profile.node_count


def _energy_problems(where: str, e: BoundaryEnergy, record: RunRecord, duration: float) -> list[str]:
    problems: list[str] = []
    ceiling = record.profile.max_power_w(e.boundary)
    if ceiling is not None:
        ceiling *= machines(record) / record.profile.node_count
    expected = e.energy_j / duration
    if abs(e.mean_power_w - expected) > 0.1 * expected + 1.0:
        problems.append(f"{where}.mean_power_w: {e.mean_power_w:.6g} W does not match energy_j / duration_s "
                        f"({expected:.6g} W)")
    if ceiling is None:
        return problems
    # A display's last step may fall just inside the window: its resolution is not power.
    measured = max(0.0, e.energy_j - (e.resolution_j or 0.0))
    if measured / duration > ceiling:
        problems.append(f"{where}.energy_j: {e.energy_j:.6g} J in {duration:g} s is a mean of {measured / duration:.4g} W "
                        f"at the {e.boundary} boundary, more than the declared hardware could draw ({ceiling:.4g} W)")
    if e.idle_power_w is not None and e.idle_power_w > ceiling:
        problems.append(f"{where}.idle_power_w: {e.idle_power_w:.4g} W is more than the declared hardware could draw "
                        f"at the {e.boundary} boundary ({ceiling:.4g} W)")
    if e.static_energy_j is not None and e.static_energy_j > ceiling * duration * 1.01 + 1.0:
        problems.append(f"{where}.static_energy_j: {e.static_energy_j:.6g} J is more than the hardware could draw "
                        f"in {duration:g} s")
    return problems


def make_run_id(site: str, spec: WorkloadSpec, repeat: int) -> str:
    """Deterministic, so a rerun finds (and skips) windows already recorded."""
    return f"{site}.{spec.id}.{spec.spec_hash[:10]}.r{repeat:02d}"

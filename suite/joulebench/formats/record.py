"""The run record: one measured window of one workload on one site (results/<site>/<run_id>.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from joulebench.formats.profile import HardwareProfile
from joulebench.formats.vocabulary import Boundary, Identifier, MeterMethod, Strict, omit_empty, omit_none
from joulebench.formats.workload import WorkloadSpec

RECORD_SCHEMA_VERSION = 1

class DetectedGpu(Strict):
    index: int
    name: str
    memory_gib: float | None = None
    power_limit_w: float | None = None
    uuid_hash: str | None = None  # sha256 prefix: identifies a board without publishing its UUID


class DetectedHardware(Strict):
    gpus: list[DetectedGpu] = Field(default_factory=list)
    gpu_driver: str | None = None
    cpu_model: str | None = None
    cpu_sockets: int | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    memory_gib: float | None = None


class HardwareCheck(Strict):
    profile_id: str
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Environment(Strict):
    python: str
    platform: str
    joulebench: str
    # sha256 over the joulebench package's files (code, workloads, profiles, templates), as MLPerf
    # checksums its source: two runs with the same version but different code tell themselves apart.
    joulebench_source_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    torch: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    gpu_driver: str | None = None
    torchvision: str | None = None
    transformers: str | None = None
    nvidia_ml_py: str | None = None
    container_image_digest: str | None = None


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
    meter_id: str
    method: MeterMethod
    update_period_s: float = Field(gt=0)
    energy_j: float = Field(ge=0)
    mean_power_w: float = Field(ge=0)
    idle_power_w: float | None = Field(default=None, ge=0)
    # idle_power_w x duration: what the boundary draws doing nothing.
    static_energy_j: float | None = Field(default=None, ge=0)
    # energy_j - static_energy_j; can be slightly negative on a noisy idle.
    dynamic_energy_j: float | None = None
    per_device_j: dict[str, float] = Field(default_factory=dict)
    # The smallest step the meter can show (1 Wh = 3600 J for a kWh display).
    resolution_j: float | None = Field(default=None, gt=0)
    # None: not stated (every record measured before issue 11).
    uncertainty: TruthUncertainty | None = Field(default=None, exclude_if=omit_none)


class MissingBoundary(Strict):
    boundary: Boundary
    reason: str


class PowerTrace(Strict):
    """Downsampled samples taken in the background during the window."""

    period_s: float = Field(gt=0)
    t_s: list[float]
    power_w: dict[str, list[float | None]] = Field(default_factory=dict)
    gpu_util_pct: list[float | None] = Field(default_factory=list)
    cpu_util_pct: list[float | None] = Field(default_factory=list)

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

    estimator_id: str
    estimator_version: str
    boundary: Boundary
    energy_j: float = Field(ge=0)
    mode: str = ""
    raw: dict[str, Any] = Field(default_factory=dict)


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

    source: str
    citation: str
    repository: str | None = None
    files: list[str] = Field(default_factory=list)
    commit: str | None = None
    note: str = ""
    study: Identifier | None = Field(
        default=None, exclude_if=omit_none, description="the importer that wrote it: one slice per study"
    )
    license: str | None = Field(
        default=None, exclude_if=omit_none, description="SPDX id of the data's licence (CC-BY-SA-4.0, Apache-2.0)"
    )
    notice: str | None = Field(
        default=None,
        exclude_if=omit_none,
        description="text that must be shown wherever this record's numbers are (attribution, a trademark condition)",
    )
    lines: list[SourceLine] = Field(default_factory=list, exclude_if=omit_empty)


class Topology(Strict):
    """Where one window ran: how many nodes and ranks, and what started and joined them."""

    nodes: int = Field(ge=1)
    world_size: int = Field(ge=1)
    ranks_per_node: int = Field(ge=1)
    gpus_per_node: int = Field(ge=0, description="GPUs metered per node: exactly those its ranks used")
    launcher: Literal["single", "torchrun"]
    backend: Literal["nccl", "gloo"] | None = None
    rendezvous: str | None = None


class NodeEnergy(Strict):
    """What one node's meter owner (its local rank 0) measured over the window."""

    node: str = Field(min_length=1, description="the scheduler's node name, or the host name")
    node_rank: int = Field(ge=0)
    global_ranks: list[int] = Field(min_length=1)
    energy: list[BoundaryEnergy] = Field(default_factory=list)
    missing_boundaries: list[MissingBoundary] = Field(default_factory=list)


class WindowSync(Strict):
    """How well the ranks agreed on the window's edges (a device synchronise, then a barrier)."""

    barrier: Literal["gloo"] = "gloo"
    # Spread of the wall-clock times at which the ranks left each edge's barrier.
    start_skew_s: float = Field(ge=0)
    end_skew_s: float = Field(ge=0)

    @property
    def edge_skew_s(self) -> float:
        return max(self.start_skew_s, self.end_skew_s)


class SchedulerInfo(Strict):
    """The batch scheduler's ids for the job a window ran in: provenance, and the key to its accounting."""

    kind: Literal["slurm"]
    cluster: str | None = None
    job_id: str
    array_job_id: str | None = None
    array_task_id: int | None = None
    step_id: str | None = None
    nodelist: str | None = None
    partition: str | None = None
    exclusive: bool | None = None
    restart_count: int = Field(default=0, ge=0, description="how often the job was requeued before this run")
    acct_gather_energy: str | None = Field(default=None, description="the cluster's AcctGatherEnergyType")


class RunRecord(Strict):
    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    run_id: str
    suite_version: str
    site: Identifier
    repeat: int = Field(ge=1)
    workload: WorkloadSpec
    spec_hash: str
    profile: HardwareProfile
    profile_hash: str
    hardware: DetectedHardware
    hardware_check: HardwareCheck
    environment: Environment
    started_at: datetime
    ended_at: datetime
    duration_s: float = Field(gt=0)
    iterations: int = Field(gt=0)
    items: int = Field(ge=0)
    tokens: int | None = Field(default=None, ge=0)
    device_count: int = Field(ge=0)
    # Mean requests in flight during the window (a serving study's measured batch);
    # None: one at a time, or not stated. Static estimators see it (RunFacts).
    concurrency: float | None = Field(default=None, gt=0, exclude_if=omit_none)
    idle_window_s: float = Field(ge=0)
    energy: list[BoundaryEnergy] = Field(description="primary meter per boundary: the truth")
    cross_checks: list[BoundaryEnergy] = Field(default_factory=list)
    missing_boundaries: list[MissingBoundary] = Field(default_factory=list)
    trace: PowerTrace | None = None
    live_estimates: list[LiveEstimate] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
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

    def truth_j(self, boundary: str) -> float | None:
        """Metered energy for a boundary, or None when no meter covered it."""
        for entry in self.energy:
            if entry.boundary == boundary:
                return entry.energy_j
        return None


def make_run_id(site: str, spec: WorkloadSpec, repeat: int) -> str:
    """Deterministic, so a rerun finds (and skips) windows already recorded."""
    return f"{site}.{spec.id}.{spec.spec_hash[:10]}.r{repeat:02d}"

"""What estimators see and say: the run facts a static estimator may know, and estimates files."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from joulebench.formats.profile import HardwareProfile
from joulebench.formats.record import RunRecord
from joulebench.formats.vocabulary import (
    MAX_COUNT,
    MAX_DURATION_S,
    Boundary,
    Count,
    Identifier,
    Joules,
    Percent,
    RunId,
    Strict,
    Version,
    omit_none,
)
from joulebench.formats.workload import ParallelLayout, WorkloadSpec


class RunFacts(Strict):
    """What a static estimator may know about a run: only what any user could know.

    The spec, the declared hardware and what a user observes while the job runs
    (how long, how many iterations, how busy the devices looked). Never the
    metered energy and never the power trace: an estimator that saw those would
    be reading the answer. The sandbox pipes this model, as JSON, into
    estimators it does not trust.
    """

    run_id: RunId
    workload: WorkloadSpec
    profile: HardwareProfile
    duration_s: float = Field(gt=0, le=MAX_DURATION_S)
    iterations: int = Field(gt=0, le=MAX_COUNT)
    items: Count
    tokens: Count | None = None
    device_count: int = Field(ge=0, le=4096, description="accelerators the run used")
    # Mean requests in flight (RunRecord.concurrency): a per-request TDP x latency
    # estimate that ignores it is wrong by that factor. None: one at a time, or not stated.
    concurrency: float | None = Field(default=None, gt=0, le=1e6, exclude_if=omit_none)
    # Means of the utilisation samples of the trace; None when there was no trace.
    mean_gpu_util_pct: Percent | None = None
    mean_cpu_util_pct: Percent | None = None
    # Where the run ran: a record without a topology ran as one process on one node.
    node_count: int = Field(default=1, ge=1, le=100_000)
    world_size: int = Field(default=1, ge=1, le=10_000_000)
    # The spec's layout and the bytes one iteration communicates (also in `workload`; here for convenience).
    parallel: ParallelLayout | None = None
    comm_bytes_per_iteration: int | None = Field(default=None, ge=0, le=10**18)

    @classmethod
    def from_record(cls, record: RunRecord) -> RunFacts:
        trace = record.trace
        topology = record.topology
        return cls(
            run_id=record.run_id,
            workload=record.workload,
            profile=record.profile,
            duration_s=record.duration_s,
            iterations=record.iterations,
            items=record.items,
            tokens=record.tokens,
            device_count=record.device_count,
            concurrency=record.concurrency,
            mean_gpu_util_pct=trace.mean_gpu_util_pct if trace else None,
            mean_cpu_util_pct=trace.mean_cpu_util_pct if trace else None,
            node_count=topology.nodes if topology else 1,
            world_size=topology.world_size if topology else 1,
            parallel=record.workload.parallel,
            comm_bytes_per_iteration=record.workload.comm_bytes_per_iteration,
        )


class Estimate(Strict):
    """One row of an estimates file: what an estimator said one run drew at one boundary."""

    estimator_id: Identifier
    estimator_version: Version
    run_id: RunId
    boundary: Boundary
    energy_j: Joules = Field(description="joules (1 kWh = 3,600,000 J), finite, at most 3.6e15 (1 TWh)")
    # Optional; when given it must say joules, so a file in kWh is refused, not misread.
    unit: Literal["J"] = "J"


class EstimateFile(Strict):
    """A submission of estimates produced outside joulebench (JSON form; CSV has the same columns)."""

    schema_version: Literal[1] = 1
    estimates: list[Estimate] = Field(min_length=1, max_length=10_000_000)

"""What estimators see and say: the run facts a static estimator may know, and estimates files."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from joulebench.formats.profile import HardwareProfile
from joulebench.formats.record import RunRecord
from joulebench.formats.vocabulary import Boundary, Identifier, Strict, omit_none
from joulebench.formats.workload import ParallelLayout, WorkloadSpec

class RunFacts(Strict):
    """What a static estimator may know about a run: only what any user could know.

    The spec, the declared hardware and what a user observes while the job runs
    (how long, how many iterations, how busy the devices looked). Never the
    metered energy and never the power trace: an estimator that saw those would
    be reading the answer. The sandbox pipes this model, as JSON, into
    estimators it does not trust.
    """

    run_id: str
    workload: WorkloadSpec
    profile: HardwareProfile
    duration_s: float = Field(gt=0)
    iterations: int = Field(gt=0)
    items: int = Field(ge=0)
    tokens: int | None = Field(default=None, ge=0)
    device_count: int = Field(ge=0, description="accelerators the run used")
    # Mean requests in flight (RunRecord.concurrency): a per-request TDP x latency
    # estimate that ignores it is wrong by that factor. None: one at a time, or not stated.
    concurrency: float | None = Field(default=None, gt=0, exclude_if=omit_none)
    # Means of the utilisation samples of the trace; None when there was no trace.
    mean_gpu_util_pct: float | None = Field(default=None, ge=0)
    mean_cpu_util_pct: float | None = Field(default=None, ge=0)
    # Where the run ran: a record without a topology ran as one process on one node.
    node_count: int = Field(default=1, ge=1)
    world_size: int = Field(default=1, ge=1)
    # The spec's layout and the bytes one iteration communicates (also in `workload`; here for convenience).
    parallel: ParallelLayout | None = None
    comm_bytes_per_iteration: int | None = Field(default=None, ge=0)

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
    estimator_version: Annotated[str, Field(min_length=1, max_length=64)]
    run_id: Annotated[str, Field(min_length=1, max_length=300)]
    boundary: Boundary
    energy_j: float = Field(ge=0, allow_inf_nan=False, description="joules (1 kWh = 3,600,000 J)")
    # Optional; when given it must say joules, so a file in kWh is refused, not misread.
    unit: Literal["J"] = "J"


class EstimateFile(Strict):
    """A submission of estimates produced outside joulebench (JSON form; CSV has the same columns)."""

    schema_version: Literal[1] = 1
    estimates: list[Estimate] = Field(min_length=1)

"""The manifest of a cluster launch (results/<site>/_launch/<launch_id>/manifest.json).

It holds everything its sbatch scripts are rendered from, so the scripts can
be reviewed against it and regenerated from it; which workload each array task
runs, with its run ids; how the time limit was computed; and, once submitted,
the scheduler's job ids (which `joulebench slurm collect` joins with sacct).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from joulebench.formats.vocabulary import Identifier, Strict


class TimeLimitRule(Strict):
    """A task's time limit: safety_factor x (start-up + build + idle + warm-up + repeats x window) + margin_s.

    Windows are the spec's pinned target_window_s (an estimate for the
    reference hardware), or unpinned_window_s where a spec pins none; the
    warm-up is warmup_iterations at the window's iteration time. The result is
    rounded up to whole minutes; the job's limit is its longest task's.
    """

    safety_factor: float = Field(default=3.0, ge=1.0)
    margin_s: float = Field(default=600.0, ge=0, description="job start, environment, imports, device and rendezvous set-up")
    startup_s: float = Field(default=10.0, ge=0)
    build_s: float = Field(default=2.0, ge=0)
    unpinned_window_s: float = Field(default=60.0, gt=0)


class SlurmSettings(Strict):
    partition: str | None = None
    account: str | None = None
    gpus_per_node: int | None = Field(default=None, ge=1, description="the declared profile's GPUs: whole nodes")
    setup: list[str] = Field(default_factory=list, description="site set-up lines run before joulebench (verbatim)")
    joulebench: str = Field(default="joulebench", min_length=1, description="the command that runs joulebench")
    torchrun: str = Field(default="torchrun", min_length=1)
    rdzv_port: int = Field(default=29500, ge=1, le=65535)
    time_limit_override_min: int | None = Field(default=None, ge=1)


class LaunchTask(Strict):
    index: int = Field(ge=0, description="the array task id")
    workload: Identifier
    spec_hash: str
    nodes: int = Field(ge=1)
    ranks_per_node: int = Field(ge=1)
    estimated_s: float = Field(gt=0, description="the time limit rule's bracket, before the safety factor")
    time_limit_s: int = Field(gt=0)
    run_ids: list[str] = Field(min_length=1)


class LaunchJob(Strict):
    """One sbatch script: a job array over workloads that need the same number of nodes."""

    script: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.sbatch$")
    nodes: int = Field(ge=1)
    distributed: bool = Field(description="tasks start their ranks with torchrun (a parallel layout)")
    time_limit_s: int = Field(gt=0)
    workload_step: str = Field(default="0", description="the step (first srun) that runs joulebench in each task")
    unpinned_windows: list[Identifier] = Field(default_factory=list, description="workloads whose spec pins no window")
    tasks: list[LaunchTask] = Field(min_length=1)
    job_id: str | None = None
    submitted_at: datetime | None = None


class LaunchManifest(Strict):
    schema_version: Literal[1] = 1
    scheduler: Literal["slurm"] = "slurm"
    launch_id: Identifier
    created_at: datetime
    joulebench_version: str
    track: Identifier
    profile: Identifier
    site: Identifier
    out_dir: str = Field(description="the absolute results folder the tasks write to")
    run_args: list[str] = Field(description="`joulebench run` arguments every task passes (then --only WORKLOAD)")
    slurm: SlurmSettings
    time_limit: TimeLimitRule
    jobs: list[LaunchJob] = Field(min_length=1)

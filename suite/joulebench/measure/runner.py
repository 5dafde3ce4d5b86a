"""Turning a workload into honest, metered run records.

For each workload: build it, warm up, measure idle power for a few seconds,
then one measured window per repeat (device synchronised at both edges), each
with a background trace, written atomically as one RunRecord. A window whose
record already exists is skipped, so an interrupted run resumes where it
stopped. What happens is reported to a `RunObserver` (the command line shows
it as phases and a summary); the runner itself prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from joulebench.formats import RunRecord, WorkloadSpec, make_run_id
from joulebench.measure.window import RunContext, measure_idle, measure_window
from joulebench.records import read_record, record_path, write_record

Phase = Literal["build", "warm-up", "idle", "measure"]


class RunObserver:
    """What a run reports as it goes; every method does nothing unless overridden."""

    def workload(self, spec: WorkloadSpec, pending: list[int], on_disk: list[int]) -> None:
        """A workload starts: the repeats still to measure and those already recorded (a resume)."""

    def phase(self, spec: WorkloadSpec, phase: Phase, detail: str = "") -> None:
        """The workload enters a phase: build, warm-up, idle, measure."""

    def window(self, record: RunRecord, path) -> None:
        """A window's record was written to `path`."""

    def warning(self, text: str) -> None:
        """Something the user should know before the windows (a node's hardware differs, no meter covers a boundary)."""


def pending_repeats(spec: WorkloadSpec, ctx: RunContext, repeats: int) -> list[int]:
    """Repeats not yet on disk; an existing record must be valid to count."""
    todo = []
    for repeat in range(1, repeats + 1):
        path = record_path(ctx.out_dir, ctx.site, make_run_id(ctx.site, spec, repeat))
        if path.exists():
            read_record(path)  # a damaged record is an error, never silently redone
        else:
            todo.append(repeat)
    return todo


def run_workload(
    spec: WorkloadSpec,
    ctx: RunContext,
    repeats: int | None = None,
    build: Callable[[WorkloadSpec, str], Any] | None = None,
    observer: RunObserver | None = None,
) -> list[RunRecord]:
    """All pending windows of one workload; returns the records written."""
    observer = observer or RunObserver()
    planned = repeats or spec.repeats
    todo = pending_repeats(spec, ctx, planned)
    observer.workload(spec, todo, [r for r in range(1, planned + 1) if r not in todo])
    if not todo:
        return []
    if build is None:
        from joulebench.measure.models import build_workload as build
    observer.phase(spec, "build", f"on {ctx.device}")
    workload = build(spec, ctx.device)
    written = []
    live: list[Any] = []
    try:
        # Opened once per workload: set-up (CodeCarbon's hardware detection) stays out of the windows.
        live = list(ctx.open_live())
        observer.phase(spec, "warm-up", f"{spec.warmup_iterations} iterations")
        for _ in range(spec.warmup_iterations):
            workload.step()
        workload.sync()
        observer.phase(spec, "idle", f"{ctx.idle_s:g} s")
        idle_w = measure_idle(ctx.meters.all(), ctx.idle_s)
        for repeat in todo:
            observer.phase(spec, "measure", f"repeat {repeat}, {spec.measured_iterations} iterations")
            record = measure_window(workload, spec, repeat, ctx, idle_w, live)
            path = write_record(ctx.out_dir, record)
            written.append(record)
            observer.window(record, path)
    finally:
        for estimator in live:
            estimator.close()  # a failed window must not leave tracker threads behind
        workload.close()
    return written

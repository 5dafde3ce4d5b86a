"""One measured window: idle power before it, then synchronise, read every meter, iterate, synchronise, read.

The window is the unit of truth: its energy per boundary is the difference of
two meter reads taken with the device synchronised, so queued work is inside
the window and nothing from before it is. Live estimators start right before
the first read and stop right after the last, so they see the same window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from joulebench import SUITE_VERSION
from joulebench.formats import (
    BoundaryEnergy,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    MissingBoundary,
    NodeEnergy,
    PowerTrace,
    RunRecord,
    SchedulerInfo,
    Topology,
    TruthUncertainty,
    WindowSync,
    WorkloadSpec,
    make_run_id,
)
from joulebench.measure.meter_set import MeterSet
from joulebench.measure.meters.base import Meter
from joulebench.measure.trace import CpuUtilization, Trace

DEFAULT_IDLE_S = 3.0
# Fewer counter updates than this in a window make its energy coarse.
MIN_UPDATES_PER_WINDOW = 50
UNMETERED_WARNING = "unmetered: no meter covered any boundary, so this window carries no ground truth"


class LiveTracker(Protocol):
    """What the window needs of a live estimator (joulebench.estimators.LiveEstimator is one)."""

    def start(self) -> None: ...

    def stop(self) -> list[LiveEstimate]: ...

    def close(self) -> None: ...


@dataclass
class RunContext:
    """What stays the same for every window of a run."""

    profile: HardwareProfile
    site: str
    out_dir: Path
    meters: MeterSet
    hardware: DetectedHardware
    hardware_check: HardwareCheck
    environment: Environment
    device: str
    idle_s: float = DEFAULT_IDLE_S
    trace_period_s: float = 0.1
    # Opens the live estimators that run alongside each window (once per workload); none by default.
    open_live: Callable[[], Sequence[LiveTracker]] = lambda: ()
    # The batch scheduler's ids for the job this run is in (read once per run); None outside a scheduler.
    scheduler: SchedulerInfo | None = None


@dataclass(frozen=True)
class Reading:
    """Every meter's cumulative energy (and its per-device parts) at one instant, with the monotonic time."""

    energy: dict[str, float]
    devices: dict[str, dict[str, float]]
    monotonic_s: float


def read_meters(meters: Sequence[Meter], clock: Callable[[], float] = time.monotonic) -> Reading:
    """Read every meter once: energies, then per-device energies, then the time (as one window edge does)."""
    energy = {m.id: m.read_energy_j() for m in meters}
    devices = {m.id: m.per_device_energy_j() for m in meters}
    return Reading(energy, devices, clock())


def _read_all(meters: Sequence[Meter]) -> dict[str, float]:
    return {m.id: m.read_energy_j() for m in meters}


def measure_idle(meters: Sequence[Meter], seconds: float, sleep=time.sleep, clock=time.perf_counter) -> dict[str, float]:
    """Mean power per meter while the process does nothing."""
    if seconds <= 0:
        return {}
    start, t0 = _read_all(meters), clock()
    sleep(seconds)
    end, t1 = _read_all(meters), clock()
    return {mid: max(0.0, (end[mid] - start[mid]) / (t1 - t0)) for mid in start}


def truth_uncertainty(meter: Meter, energy_j: float, duration_s: float) -> TruthUncertainty | None:
    """A worst-case bound on how far `energy_j` can be from what the boundary drew, as the importers state it.

    Each window edge can add or miss up to one update period of the meter at
    the window's mean power; to that adds the meter's own accuracy where a
    published figure exists (otherwise the bound says it does not cover it).
    """
    if energy_j <= 0 or duration_s <= 0:
        return None
    edges_pct = 100 * 2 * meter.update_period_s / duration_s
    basis = (f"window edges: each can add or miss up to one {meter.update_period_s:g} s update period of "
             f"{meter.id} at the window's mean power ({edges_pct:.2f}%)")
    if meter.accuracy_pct is None:
        return TruthUncertainty(bound_pct=edges_pct, covers_meter_accuracy=False,
                                basis=basis + "; the meter's own accuracy is not stated, so it is not included")
    return TruthUncertainty(bound_pct=edges_pct + meter.accuracy_pct, covers_meter_accuracy=True,
                            basis=f"{basis}, plus {meter.accuracy_pct:g}%: {meter.accuracy_source}")


def boundary_energy(meter: Meter, e0: float, e1: float, d0: dict, d1: dict, duration: float, idle_w: float | None) -> BoundaryEnergy:
    energy = max(0.0, e1 - e0)
    static = idle_w * duration if idle_w is not None else None
    return BoundaryEnergy(
        boundary=meter.boundary,
        meter_id=meter.id,
        method=meter.method,
        update_period_s=meter.update_period_s,
        energy_j=energy,
        mean_power_w=energy / duration,
        idle_power_w=idle_w,
        static_energy_j=static,
        dynamic_energy_j=energy - static if static is not None else None,
        per_device_j={k: d1[k] - d0.get(k, 0.0) for k in d1},
        uncertainty=truth_uncertainty(meter, energy, duration),
    )


@dataclass
class WindowEnergy:
    """What one machine's meters say about one window: the truth per boundary, cross-checks, gaps, warnings."""

    energy: list[BoundaryEnergy]
    cross_checks: list[BoundaryEnergy]
    missing: list[MissingBoundary]
    warnings: list[str]


def window_energy(meters: MeterSet, start: Reading, end: Reading, idle_w: dict[str, float]) -> WindowEnergy:
    """The energy per boundary between two reads of `meters`, with what makes any of it coarse or invalid.

    The same for a single process and for each node of a distributed window
    (its meter owner's reads): energy, idle and static energy, the truth's
    uncertainty, an external meter's gaps, too few meter updates, a window
    below idle.
    """
    duration = end.monotonic_s - start.monotonic_s

    def measured(meter: Meter) -> BoundaryEnergy:
        return boundary_energy(meter, start.energy[meter.id], end.energy[meter.id], start.devices[meter.id],
                               end.devices[meter.id], duration, idle_w.get(meter.id))

    warnings: list[str] = []
    if not meters.primary:
        warnings.append(UNMETERED_WARNING)
    for meter in meters.primary:
        updates = duration / meter.update_period_s
        if updates < MIN_UPDATES_PER_WINDOW:
            warnings.append(
                f"{meter.id}: the window ({duration:.2f} s) spans only {updates:.0f} meter updates "
                f"(fewer than {MIN_UPDATES_PER_WINDOW}); its energy is coarse"
            )
    # An external meter that missed samples inside the window gives no truth for it.
    missing = list(meters.missing)
    primary = []
    for meter in meters.primary:
        quality = meter.window_quality(start.monotonic_s, end.monotonic_s)
        if quality is not None and not quality.valid:
            warnings.append(quality.as_warning())
            missing.append(MissingBoundary(boundary=meter.boundary, reason=quality.as_warning()))
        else:
            primary.append(meter)
    energy = [measured(m) for m in primary]
    for entry in energy:
        if entry.dynamic_energy_j is not None and entry.dynamic_energy_j < 0:
            warnings.append(f"{entry.meter_id}: window energy is below idle energy; idle was noisy or the load was light")
    return WindowEnergy(energy=energy, cross_checks=[measured(m) for m in meters.cross_checks], missing=missing,
                        warnings=warnings)


def build_record(
    spec: WorkloadSpec,
    repeat: int,
    ctx: RunContext,
    *,
    started_at: datetime,
    ended_at: datetime,
    duration_s: float,
    measured: WindowEnergy,
    trace: PowerTrace | None,
    live_estimates: Sequence[LiveEstimate],
    device_count: int,
    topology: Topology | None = None,
    nodes: list[NodeEnergy] | None = None,
    window_sync: WindowSync | None = None,
) -> RunRecord:
    """The run record of one window: the same fields for one process and for a window over many ranks."""
    tokens = spec.tokens_per_iteration
    return RunRecord(
        run_id=make_run_id(ctx.site, spec, repeat),
        suite_version=SUITE_VERSION,
        site=ctx.site,
        repeat=repeat,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=ctx.profile,
        profile_hash=ctx.profile.profile_hash,
        hardware=ctx.hardware,
        hardware_check=ctx.hardware_check,
        environment=ctx.environment,
        started_at=started_at,
        ended_at=ended_at,
        duration_s=duration_s,
        iterations=spec.measured_iterations,
        items=spec.items_per_iteration * spec.measured_iterations,
        tokens=tokens * spec.measured_iterations if tokens is not None else None,
        device_count=device_count,
        idle_window_s=ctx.idle_s,
        energy=measured.energy,
        cross_checks=measured.cross_checks,
        missing_boundaries=measured.missing,
        trace=trace,
        live_estimates=list(live_estimates),
        warnings=[*ctx.hardware_check.warnings, *measured.warnings],
        topology=topology,
        nodes=nodes,
        window_sync=window_sync,
        scheduler=ctx.scheduler,
    )


def measure_window(
    workload: Any, spec: WorkloadSpec, repeat: int, ctx: RunContext, idle_w: dict[str, float], live: Sequence[LiveTracker] = ()
) -> RunRecord:
    """One measured window: synchronise, read meters, iterate, synchronise, read."""
    trace = Trace(
        ctx.meters.primary,
        period_s=ctx.trace_period_s,
        gpu_utilization=ctx.meters.gpu_utilization,
        cpu_utilization=CpuUtilization(),
    )
    try:
        return _measure(workload, spec, repeat, ctx, idle_w, trace, live)
    finally:
        trace.stop()  # idempotent; ends the sampling thread if the window failed


def _measure(workload, spec, repeat, ctx, idle_w, trace, live) -> RunRecord:
    meters = ctx.meters.all()
    trace.start()
    for estimator in live:
        estimator.start()
    workload.sync()
    started_at = datetime.now(timezone.utc)
    start = read_meters(meters)
    for _ in range(spec.measured_iterations):
        workload.step()
    workload.sync()
    end = read_meters(meters)
    ended_at = datetime.now(timezone.utc)
    live_estimates: list[LiveEstimate] = []
    for estimator in live:
        live_estimates.extend(estimator.stop())
    power_trace = trace.stop()
    return build_record(
        spec, repeat, ctx, started_at=started_at, ended_at=ended_at, duration_s=end.monotonic_s - start.monotonic_s,
        measured=window_energy(ctx.meters, start, end, idle_w), trace=power_trace, live_estimates=live_estimates,
        device_count=len(ctx.hardware.gpus) if ctx.device.startswith("cuda") else 0,
    )

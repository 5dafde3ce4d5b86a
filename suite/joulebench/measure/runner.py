"""Turning a workload into honest, metered run records.

For each workload: build it, warm up, measure idle power for a few seconds,
then one measured window per repeat (device synchronised at both edges), each
with a background trace, written atomically as one RunRecord. A window whose
record already exists is skipped, so an interrupted run resumes where it
stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench import SUITE_VERSION
from joulebench.records import read_record, record_path, write_record
from joulebench.errors import NoMeterError
from joulebench.measure.meters.base import Meter
from joulebench.formats import (
    BoundaryEnergy,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    MissingBoundary,
    RunRecord,
    WorkloadSpec,
    make_run_id,
)
from joulebench.measure.trace import CpuUtilization, Trace

DEFAULT_IDLE_S = 3.0
# Fewer counter updates than this in a window make its energy coarse.
MIN_UPDATES_PER_WINDOW = 50


@dataclass
class MeterSet:
    """The meters a run reads: one primary per boundary, plus cross-checks."""

    primary: list[Meter]
    cross_checks: list[Meter] = field(default_factory=list)
    missing: list[MissingBoundary] = field(default_factory=list)
    gpu_utilization: Callable[[], float | None] | None = None

    def all(self) -> list[Meter]:
        return self.primary + self.cross_checks

    def close(self) -> None:
        for meter in self.all():
            meter.close()


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
    live_estimators: Sequence[str] = ()


def _read_all(meters: Sequence[Meter]) -> dict[str, float]:
    return {m.id: m.read_energy_j() for m in meters}


def _read_devices(meters: Sequence[Meter]) -> dict[str, dict[str, float]]:
    return {m.id: m.per_device_energy_j() for m in meters}


def measure_idle(meters: Sequence[Meter], seconds: float, sleep=time.sleep, clock=time.perf_counter) -> dict[str, float]:
    """Mean power per meter while the process does nothing."""
    if seconds <= 0:
        return {}
    start, t0 = _read_all(meters), clock()
    sleep(seconds)
    end, t1 = _read_all(meters), clock()
    return {mid: max(0.0, (end[mid] - start[mid]) / (t1 - t0)) for mid in start}


def _boundary_energy(meter: Meter, e0: float, e1: float, d0: dict, d1: dict, duration: float, idle_w: float | None) -> BoundaryEnergy:
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
    )


def _open_live(ids: Sequence[str], workdir: Path) -> list[Any]:
    if not ids:
        return []
    from joulebench.estimators import open_live

    return [open_live(eid, workdir) for eid in ids]


def measure_window(
    workload: Any, spec: WorkloadSpec, repeat: int, ctx: RunContext, idle_w: dict[str, float], live: Sequence[Any] = ()
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
    meters = ctx.meters
    trace.start()
    for estimator in live:
        estimator.start()
    workload.sync()
    started_at = datetime.now(timezone.utc)
    e0, d0, t0 = _read_all(meters.all()), _read_devices(meters.all()), time.monotonic()
    for _ in range(spec.measured_iterations):
        workload.step()
    workload.sync()
    e1, d1, t1 = _read_all(meters.all()), _read_devices(meters.all()), time.monotonic()
    ended_at = datetime.now(timezone.utc)
    live_estimates: list[LiveEstimate] = []
    for estimator in live:
        live_estimates.extend(estimator.stop())
    power_trace = trace.stop()
    duration = t1 - t0

    def measured(meter: Meter) -> BoundaryEnergy:
        return _boundary_energy(meter, e0[meter.id], e1[meter.id], d0[meter.id], d1[meter.id], duration, idle_w.get(meter.id))

    warnings = list(ctx.hardware_check.warnings)
    if not meters.primary:
        warnings.append("unmetered: no meter covered any boundary, so this window carries no ground truth")
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
        quality = meter.window_quality(t0, t1)
        if quality is not None and not quality.valid:
            warnings.append(quality.as_warning())
            missing.append(MissingBoundary(boundary=meter.boundary, reason=quality.as_warning()))
        else:
            primary.append(meter)
    energy = [measured(m) for m in primary]
    for entry in energy:
        if entry.dynamic_energy_j is not None and entry.dynamic_energy_j < 0:
            warnings.append(f"{entry.meter_id}: window energy is below idle energy; idle was noisy or the load was light")

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
        duration_s=duration,
        iterations=spec.measured_iterations,
        items=spec.items_per_iteration * spec.measured_iterations,
        tokens=tokens * spec.measured_iterations if tokens is not None else None,
        device_count=len(ctx.hardware.gpus) if ctx.device.startswith("cuda") else 0,
        idle_window_s=ctx.idle_s,
        energy=energy,
        cross_checks=[measured(m) for m in meters.cross_checks],
        missing_boundaries=missing,
        trace=power_trace,
        live_estimates=live_estimates,
        warnings=warnings,
    )


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
    on_window: Callable[[RunRecord], None] | None = None,
) -> list[RunRecord]:
    """All pending windows of one workload; returns the records written."""
    todo = pending_repeats(spec, ctx, repeats or spec.repeats)
    if not todo:
        return []
    if build is None:
        from joulebench.measure.models import build_workload as build
    workload = build(spec, ctx.device)
    written = []
    live: list[Any] = []
    try:
        # Opened once per workload: set-up (CodeCarbon's hardware detection) stays out of the windows.
        live = _open_live(ctx.live_estimators, ctx.out_dir / ".live" / ctx.site)
        for _ in range(spec.warmup_iterations):
            workload.step()
        workload.sync()
        idle_w = measure_idle(ctx.meters.all(), ctx.idle_s)
        for repeat in todo:
            record = measure_window(workload, spec, repeat, ctx, idle_w, live)
            write_record(ctx.out_dir, record)
            written.append(record)
            if on_window:
                on_window(record)
    finally:
        for estimator in live:
            estimator.close()  # a failed window must not leave tracker threads behind
        workload.close()
    return written


# --------------------------------------------------------------------------- command line


def open_meters(allow_unmetered: bool = False, meters_config: Path | None = None, action: str = "record a run") -> MeterSet:
    """This machine's meters (and a site's declared ones); none at all is an error listing what was tried."""
    from joulebench.measure.meters import discover_meters, missing_boundaries

    discovery = discover_meters(meters_config=meters_config)
    if not discovery.meters and not allow_unmetered:
        looked = "\n".join(f"  - {line}" for line in discovery.looked_for)
        raise NoMeterError(f"no energy meter found on this machine; joulebench will not {action} without ground truth.\n"
                           f"Looked for:\n{looked}")
    return MeterSet(
        primary=list(discovery.meters),
        cross_checks=list(discovery.cross_checks),
        missing=missing_boundaries(discovery),
        gpu_utilization=discovery.gpu_utilization,
    )


def _run_command(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    from joulebench import catalog
    from joulebench.measure.environment import fingerprint
    from joulebench.measure.hardware import check_against_profile, detect_hardware, require_match

    if args.container:
        from joulebench.measure.container import run_in_container

        return run_in_container(
            image=args.container,
            argv=_argv_without_container(args),
            out_dir=Path(args.out),
            gpus=catalog.get_profile(args.profile).kind == "gpu",
            certified=args.certified,
        )

    console = Console(stderr=True)
    profile = catalog.get_profile(args.profile)
    specs = catalog.select_workloads(args.track, args.only)
    hardware = detect_hardware()
    check = check_against_profile(hardware, profile)
    require_match(check)
    for warning in check.warnings:
        console.print(f"[yellow]hardware differs from {profile.id}[/]: {escape(warning)}")
    try:
        meters = open_meters(args.allow_unmetered, Path(args.meters) if args.meters else None)
    except NoMeterError as exc:
        raise NoMeterError(f"{exc}\n(--allow-unmetered records the windows anyway, with no energy and every "
                           "boundary marked missing.)") from None
    for missing in meters.missing:
        console.print(f"[yellow]no meter covers {missing.boundary}[/]: {escape(missing.reason)}")
    device = args.device or ("cuda" if profile.kind == "gpu" else "cpu")
    ctx = RunContext(
        profile=profile,
        site=args.site,
        out_dir=Path(args.out),
        meters=meters,
        hardware=hardware,
        hardware_check=check,
        environment=fingerprint(hardware.gpu_driver),
        device=device,
        idle_s=args.idle_seconds,
        live_estimators=args.live_estimator or (),
    )
    for estimator in _open_live(ctx.live_estimators, ctx.out_dir / ".live" / ctx.site):
        estimator.close()  # an unavailable live estimator fails now, not after the first model build
    for meter in meters.all():
        meter.start()
    try:
        _run_with_progress(specs, ctx, args.repeats, console)
    finally:
        meters.close()
    return 0


def _run_with_progress(specs: list[WorkloadSpec], ctx: RunContext, repeats: int | None, console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(repeats or s.repeats for s in specs)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("windows", total=total)
        for spec in specs:
            progress.update(task, description=spec.id)
            planned = repeats or spec.repeats

            def report(record: RunRecord) -> None:
                joules = ", ".join(f"{e.boundary} {e.energy_j:.1f} J" for e in record.energy) or "unmetered"
                progress.console.print(f"{record.run_id}: {record.duration_s:.2f} s, {joules}", markup=False)
                progress.advance(task)

            written = run_workload(spec, ctx, repeats, on_window=report)
            progress.advance(task, planned - len(written))  # windows already on disk


def _argv_without_container(args) -> list[str]:
    argv = ["run", "--track", args.track, "--profile", args.profile, "--site", args.site, "--out", "/results"]
    for workload_id in args.only or []:
        argv += ["--only", workload_id]
    if args.repeats:
        argv += ["--repeats", str(args.repeats)]
    argv += ["--idle-seconds", str(args.idle_seconds)]
    if args.device:
        argv += ["--device", args.device]
    for estimator in args.live_estimator or []:
        argv += ["--live-estimator", estimator]
    if args.allow_unmetered:
        argv.append("--allow-unmetered")
    if args.meters:
        argv += ["--meters", args.meters]
    return argv


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _site_id(text: str) -> str:
    import argparse
    import re

    from joulebench.formats import ID_PATTERN

    if not re.match(ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"expected lowercase letters, digits, '.', '_' or '-', got {text!r}")
    return text


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run workloads and write metered run records")
    run.add_argument("--track", required=True, help="gpu-v1, cpu-v1 or smoke")
    run.add_argument("--profile", required=True, help="the declared hardware profile id")
    run.add_argument("--site", required=True, type=_site_id, help="your site's id (lowercase, e.g. acme-h100-01)")
    run.add_argument("--only", action="append", metavar="ID", help="run only this workload (repeatable)")
    run.add_argument("--repeats", type=_positive_int, default=None, help="override the spec's repeats")
    run.add_argument("--out", default="results", help="results folder (records go to OUT/SITE/)")
    run.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_S, help="idle measurement before the windows")
    run.add_argument("--device", default=None, help="torch device (default: cuda for gpu profiles, else cpu)")
    run.add_argument("--meters", default=None, metavar="CONFIG", help="external meters (BMC, wall plug) declared in YAML")
    run.add_argument("--live-estimator", action="append", metavar="ID", help="run a live estimator alongside (repeatable)")
    run.add_argument("--container", default=None, metavar="IMAGE", help="run inside this image (see README)")
    run.add_argument("--certified", action="store_true", help="a certified run: refuses images referenced by tag only")
    run.add_argument(
        "--allow-unmetered",
        action="store_true",
        help="record windows even when no meter exists (the records say so; they carry no truth)",
    )
    run.set_defaults(handler=_run_command)

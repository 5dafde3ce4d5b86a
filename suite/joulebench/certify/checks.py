"""Site certification: measure the meters, not their data sheets, and say how far to trust them.

`joulebench certify` runs each check below and records its value, threshold
and verdict; failed checks cap the tier (certify/tiers.py explains the tiers).
Every check is a function of measurements, and every measurement takes its
durations from a CertificationPlan and its time from a `Timing` (clock and
sleep), so tests run the same code in milliseconds on a fake clock.

Order: hardware profile, declared meters, meter inventory (update period,
read cost, resolution, monotonicity), idle stability, load step, clock
sanity, repeatability through the runner (three workloads x three repeats),
then agreement and cross-boundary sanity over every window measured.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from joulebench import SUITE_VERSION
from joulebench.certify.tiers import coverage_tier, worse
from joulebench.formats import (
    Certificate,
    CertificationCheck,
    CertificationPlan,
    DetectedHardware,
    HardwareCheck,
    HardwareProfile,
    RecordDigest,
    RunRecord,
    WorkloadSpec,
)
from joulebench.measure.meters.base import Meter

# The default certification workloads per profile kind: two saturating ones
# (held to the 2% CV) and one host-bound one (reported, as a contrast).
CERTIFICATION_WORKLOADS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gpu": ("gpu-v1", ("resnet50_infer", "bert_base_train", "gpt2_small_generate")),
    "cpu": ("cpu-v1", ("resnet18_infer", "bert_small_infer", "mobilenet_v3_small_train")),
}

# Candidate quanta for a reading's resolution: decimal steps and the Wh/kWh ones.
ENERGY_QUANTA_J = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 3.6, 10.0, 36.0, 100.0, 360.0, 1e3, 3600.0, 36000.0, 3.6e5, 3.6e6)
POWER_QUANTA_W = (1e-3, 1e-2, 0.1, 1.0, 10.0)
MIN_PROBE_INTERVAL_S = 0.01
RISE_LEVEL = 0.9  # rise time: until power has covered 90% of the step


@dataclass(frozen=True)
class Timing:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class CertificationMeters:
    """The meters under test: one primary per boundary, plus cross-checks."""

    primary: list[Meter]
    cross_checks: list[Meter] = field(default_factory=list)

    def all(self) -> list[Meter]:
        return self.primary + self.cross_checks


def _check(kind: str, subject: str, status: str, **kw) -> CertificationCheck:
    return CertificationCheck(id=f"{kind}/{subject}", kind=kind, subject=subject, status=status, **kw)


def _cv(values: Sequence[float]) -> float | None:
    """Sample coefficient of variation; None with fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean > 0 else None


# --------------------------------------------------------------------------- hardware and declared meters


def check_hardware(hardware_check: HardwareCheck) -> CertificationCheck:
    ok = hardware_check.ok
    return _check(
        "hardware-profile",
        "site",
        "pass" if ok else "fail",
        value=float(len(hardware_check.errors)),
        unit="mismatches",
        threshold="== 0",
        detail="; ".join(hardware_check.errors) if not ok else (
            "matches" + (f" (warnings: {'; '.join(hardware_check.warnings)})" if hardware_check.warnings else "")
        ),
        measurements={"warnings": list(hardware_check.warnings)},
    )


def check_declared_meters(profile: HardwareProfile, meters: Sequence[Meter]) -> list[CertificationCheck]:
    """Each meter the profile declares must be present on its boundary (ids are 'kind:...')."""
    checks = []
    for declared in profile.meters:
        found = [m.id for m in meters if m.id.split(":", 1)[0] == declared.meter and m.boundary == declared.boundary]
        checks.append(
            _check(
                "declared-meter",
                f"{declared.meter}:{declared.boundary}",
                "pass" if found else "fail",
                boundary=declared.boundary,
                value=float(len(found)),
                unit="meters",
                threshold=">= 1",
                detail=f"found {', '.join(found)}" if found else f"the profile declares {declared.meter} on {declared.boundary}; none was found",
            )
        )
    return checks


# --------------------------------------------------------------------------- meter inventory


@dataclass
class MeterProbe:
    meter_id: str
    times_s: list[float] = field(default_factory=list)
    energy_j: list[float] = field(default_factory=list)
    power_w: list[float | None] = field(default_factory=list)
    read_cost_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def change_times(self, values: Sequence[float | None]) -> list[float]:
        return [t for t, prev, cur in zip(self.times_s[1:], values, values[1:]) if cur is not None and prev is not None and cur != prev]

    def update_period_s(self, use_power: bool) -> float | None:
        changes = self.change_times(self.power_w if use_power else self.energy_j)
        if len(changes) < 2:
            return None
        return statistics.median(b - a for a, b in zip(changes, changes[1:]))

    def decreases(self) -> int:
        return sum(1 for a, b in zip(self.energy_j, self.energy_j[1:]) if b < a)

    def mean_power_w(self) -> float | None:
        if len(self.times_s) < 2 or self.times_s[-1] <= self.times_s[0]:
            return None
        return (self.energy_j[-1] - self.energy_j[0]) / (self.times_s[-1] - self.times_s[0])


def probe_meter(meter: Meter, seconds: float, timing: Timing) -> MeterProbe:
    """Read a meter back to back for `seconds`, no faster than it tolerates."""
    interval = max(meter.min_read_interval_s, MIN_PROBE_INTERVAL_S)
    probe = MeterProbe(meter.id)
    end = timing.clock() + seconds
    while True:
        t0 = timing.clock()
        try:
            energy = meter.read_energy_j()
        except Exception as e:  # a failed read is a finding, not a crash
            probe.errors.append(f"{type(e).__name__}: {e}")
            energy = None
        t1 = timing.clock()
        if energy is not None:
            probe.times_s.append(t1)
            probe.energy_j.append(energy)
            probe.read_cost_s.append(t1 - t0)
            probe.power_w.append(meter.read_power_w())
        if t1 >= end:
            return probe
        timing.sleep(max(0.0, min(interval - (t1 - t0), end - t1)) or interval)


def quantum(values: Sequence[float], candidates: Sequence[float]) -> float | None:
    """The largest candidate step that every observed change is a whole multiple of.

    An upper bound on the reading's resolution; None when the changes are
    finer than the smallest candidate (or there were none).
    """
    steps = [abs(b - a) for a, b in zip(values, values[1:]) if b != a]
    if not steps:
        return None
    for q in sorted(candidates, reverse=True):
        if all(abs(s / q - round(s / q)) <= 1e-3 and round(s / q) >= 1 for s in steps):
            return q
    return None


def inventory_checks(meter: Meter, probe: MeterProbe, plan: CertificationPlan) -> list[CertificationCheck]:
    checks = []
    subject, boundary = meter.id, meter.boundary
    integrated = meter.method == "integrated"
    if len(probe.energy_j) < 2:
        detail = "; ".join(probe.errors[:3]) or "fewer than two reads"
        for kind in ("meter-update-period", "meter-read-cost", "meter-resolution", "meter-monotonic"):
            checks.append(_check(kind, subject, "fail", boundary=boundary, detail=f"could not read the meter: {detail}"))
        return checks

    limit = plan.max_update_period_s if integrated else plan.max_counter_update_period_s
    period = probe.update_period_s(use_power=integrated)
    what = "power reading" if integrated else "energy counter"
    checks.append(
        _check(
            "meter-update-period",
            subject,
            "pass" if period is not None and period <= limit else "fail",
            boundary=boundary,
            value=period,
            unit="s",
            threshold=f"<= {limit:g} s",
            detail=(
                f"median time between changes of the {what} over {plan.probe_s:g} s"
                if period is not None
                else f"the {what} changed fewer than 3 times in {plan.probe_s:g} s: cannot show it updates often enough"
            ),
            measurements={"declared_update_period_s": meter.update_period_s, "reads": len(probe.times_s)},
        )
    )

    cost = statistics.median(probe.read_cost_s)
    cost_limit = plan.read_cost_max_fraction * (period if period is not None else meter.update_period_s)
    checks.append(
        _check(
            "meter-read-cost",
            subject,
            "pass" if cost <= cost_limit else "fail",
            boundary=boundary,
            value=cost,
            unit="s",
            threshold=f"<= {cost_limit:.4g} s ({plan.read_cost_max_fraction:g} x update period)",
            detail="median duration of one energy read",
            measurements={"max_read_cost_s": max(probe.read_cost_s)},
        )
    )

    mean_w = probe.mean_power_w()
    if integrated:
        powers = [p for p in probe.power_w if p is not None]
        step = quantum(powers, POWER_QUANTA_W)
        reference = statistics.fmean(powers) if powers else mean_w
        unit = "W"
    else:
        step = quantum(probe.energy_j, ENERGY_QUANTA_J)
        reference = mean_w * plan.reference_window_s if mean_w else None
        unit = "J"
    resolution_limit = plan.resolution_max_fraction * reference if reference else None
    if step is None and (probe.change_times(probe.energy_j if not integrated else probe.power_w)):
        status, detail = "pass", f"steps finer than the smallest candidate ({(POWER_QUANTA_W if integrated else ENERGY_QUANTA_J)[0]:g} {unit})"
    elif step is None or resolution_limit is None:
        status, detail = "fail", "the reading did not change during the probe; resolution unknown"
    else:
        status = "pass" if step <= resolution_limit else "fail"
        detail = (
            f"largest step consistent with every observed change; limit is {plan.resolution_max_fraction:.0%} of "
            + ("the mean power" if integrated else f"a {plan.reference_window_s:g} s window's energy at the probed power")
        )
    checks.append(
        _check(
            "meter-resolution",
            subject,
            status,
            boundary=boundary,
            value=step,
            unit=unit,
            threshold=f"<= {resolution_limit:.4g} {unit}" if resolution_limit else "",
            detail=detail,
            measurements={"mean_power_w": mean_w},
        )
    )

    drops = probe.decreases()
    checks.append(
        _check(
            "meter-monotonic",
            subject,
            "pass" if drops == 0 else "fail",
            boundary=boundary,
            value=float(drops),
            unit="decreases",
            threshold="== 0",
            detail=f"{len(probe.energy_j)} successive energy reads" + (f"; {len(probe.errors)} failed reads" if probe.errors else ""),
        )
    )
    return checks


# --------------------------------------------------------------------------- power series (idle, load step)


@dataclass
class PowerSeries:
    """Energy read from several meters at the same bucket edges."""

    times_s: list[float] = field(default_factory=list)
    energy_j: dict[str, list[float | None]] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)  # name -> index into times_s

    def power_w(self, meter_id: str, start: int = 0, end: int | None = None) -> list[float]:
        """Mean power per bucket between edges [start, end]; buckets with a failed read are left out."""
        e = self.energy_j[meter_id]
        end = len(self.times_s) - 1 if end is None else end
        out = []
        for i in range(start, end):
            if e[i] is not None and e[i + 1] is not None and self.times_s[i + 1] > self.times_s[i]:
                out.append((e[i + 1] - e[i]) / (self.times_s[i + 1] - self.times_s[i]))
        return out

    def energy_between(self, meter_id: str, start: int, end: int) -> float | None:
        e = self.energy_j[meter_id]
        if e[start] is None or e[end] is None:
            return None
        return e[end] - e[start]


def record_series(meters: Sequence[Meter], series: PowerSeries, seconds: float, bucket_s: float, timing: Timing) -> None:
    """Append bucket edges to `series` for `seconds` (one edge per bucket, plus the first if empty)."""

    def edge() -> None:
        series.times_s.append(timing.clock())
        for meter in meters:
            try:
                value = meter.read_energy_j()
            except Exception:  # the bucket is left out; the gap shows in the bucket count
                value = None
            series.energy_j.setdefault(meter.id, []).append(value)

    if not series.times_s:
        edge()
    end = timing.clock() + seconds
    while timing.clock() < end - 1e-9:
        timing.sleep(min(bucket_s, end - timing.clock()))
        edge()


def idle_checks(meters: Sequence[Meter], series: PowerSeries, plan: CertificationPlan) -> list[CertificationCheck]:
    checks = []
    for meter in meters:
        powers = series.power_w(meter.id)
        cv = _cv(powers)
        mean = statistics.fmean(powers) if powers else None
        status = "pass" if cv is not None and cv <= plan.idle_cv_max else "fail"
        checks.append(
            _check(
                "idle-stability",
                meter.id,
                status,
                boundary=meter.boundary,
                value=cv,
                unit="CV",
                threshold=f"<= {plan.idle_cv_max:g}",
                detail=(
                    f"{len(powers)} buckets of {plan.idle_bucket_s:g} s over {plan.idle_s:g} s idle"
                    if cv is not None
                    else "not enough readable buckets (or zero power) to compute a CV"
                ),
                measurements={"idle_power_w": mean, "buckets": len(powers)},
            )
        )
    return checks


def step_responders(load_boundary: str) -> set[str]:
    """The boundaries a load step must move: the loaded component and the whole node."""
    return {load_boundary, "node"}


def load_step_checks(
    meters: Sequence[Meter], series: PowerSeries, load_boundary: str, load_description: str, plan: CertificationPlan
) -> list[CertificationCheck]:
    checks = []
    on, off = series.marks["load_on"], series.marks["load_off"]
    t_on = series.times_s[on]
    for meter in meters:
        limit = plan.step_rise_max_s_node if meter.boundary == "node" else plan.step_rise_max_s_component
        baseline_p = series.power_w(meter.id, 0, on)
        loaded_edges = list(range(on, off + 1))
        loaded_p = series.power_w(meter.id, on, off)
        settled = loaded_p[len(loaded_p) // 2 :]
        expected = meter.boundary in step_responders(load_boundary)
        if not baseline_p or len(settled) < 2:
            checks.append(
                _check("load-step", meter.id, "fail" if expected else "info", boundary=meter.boundary,
                       detail="not enough readable buckets before or during the load")
            )
            continue
        base, plateau = statistics.fmean(baseline_p), statistics.fmean(settled)
        step = plateau - base
        rise_fraction = step / base if base > 0 else None
        target = base + RISE_LEVEL * step
        rise_time = None
        if step > 0:
            for i, p in zip(loaded_edges[1:], loaded_p):
                if p >= target:
                    rise_time = series.times_s[i] - t_on
                    break
        settle_cv = _cv(settled)
        problems = []
        if rise_fraction is None or rise_fraction < plan.step_min_rise_fraction:
            problems.append(f"power rose {0 if rise_fraction is None else rise_fraction:.1%} (< {plan.step_min_rise_fraction:.0%})")
        if rise_time is None or rise_time > limit:
            problems.append("did not reach 90% of the step" if rise_time is None else f"took {rise_time:.2f} s to reach 90% of the step")
        if settle_cv is None or settle_cv > plan.step_settle_cv_max:
            problems.append(f"did not settle (CV {settle_cv if settle_cv is not None else float('nan'):.3f} > {plan.step_settle_cv_max:g})")
        if expected:
            status = "fail" if problems else "pass"
            detail = f"{load_description}: " + ("; ".join(problems) if problems else f"{base:.1f} W -> {plateau:.1f} W")
        else:
            status = "info"
            detail = f"{load_description} does not load this boundary; {base:.1f} W -> {plateau:.1f} W reported only"
        checks.append(
            _check(
                "load-step",
                meter.id,
                status,
                boundary=meter.boundary,
                value=rise_time,
                unit="s",
                threshold=f"rise <= {limit:g} s, step >= {plan.step_min_rise_fraction:.0%}, settled CV <= {plan.step_settle_cv_max:g}",
                detail=detail,
                measurements={"baseline_w": base, "plateau_w": plateau, "rise_fraction": rise_fraction, "settle_cv": settle_cv},
            )
        )
    return checks


# --------------------------------------------------------------------------- agreement and cross-boundary sanity


@dataclass(frozen=True)
class Window:
    """Energy per meter over one window, from any source (a load step, a run record)."""

    source: str
    energy_j: dict[str, float]  # meter id -> J
    boundary_of: dict[str, str]  # meter id -> boundary
    primary: dict[str, str]  # boundary -> primary meter id


def record_window(record: RunRecord) -> Window:
    entries = list(record.energy) + list(record.cross_checks)
    return Window(
        source=record.run_id,
        energy_j={e.meter_id: e.energy_j for e in entries},
        boundary_of={e.meter_id: e.boundary for e in entries},
        primary={e.boundary: e.meter_id for e in record.energy},
    )


def series_window(source: str, meters: CertificationMeters, series: PowerSeries, start: int, end: int) -> Window:
    energy = {}
    for meter in meters.all():
        value = series.energy_between(meter.id, start, end)
        if value is not None:
            energy[meter.id] = value
    return Window(
        source=source,
        energy_j=energy,
        boundary_of={m.id: m.boundary for m in meters.all()},
        primary={m.boundary: m.id for m in meters.primary},
    )


def agreement_checks(windows: Sequence[Window], plan: CertificationPlan) -> list[CertificationCheck]:
    """Each cross-check meter against its boundary's primary, worst window first."""
    diffs: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
    for w in windows:
        for meter_id, boundary in w.boundary_of.items():
            primary = w.primary.get(boundary)
            if primary is None or primary == meter_id or meter_id not in w.energy_j or primary not in w.energy_j:
                continue
            ref = w.energy_j[primary]
            if ref <= 0:
                continue
            diffs.setdefault((boundary, primary, meter_id), []).append((abs(w.energy_j[meter_id] - ref) / ref, w.source))
    checks = []
    for (boundary, primary, other), values in sorted(diffs.items()):
        worst, source = max(values)
        checks.append(
            _check(
                "agreement",
                f"{other}~{primary}",
                "pass" if worst <= plan.agreement_max else "fail",
                boundary=boundary,
                value=worst,
                unit="relative difference",
                threshold=f"<= {plan.agreement_max:g}",
                detail=f"worst of {len(values)} windows ({source})",
                measurements={"windows": len(values), "mean_difference": statistics.fmean(v for v, _ in values)},
            )
        )
    return checks


def cross_boundary_checks(windows: Sequence[Window], plan: CertificationPlan) -> list[CertificationCheck]:
    """The node meter must see at least what the components inside it see."""
    ratios = []
    for w in windows:
        node = w.primary.get("node")
        parts = [w.primary[b] for b in ("gpu", "cpu", "dram") if b in w.primary]
        if node is None or not parts or node not in w.energy_j or not all(p in w.energy_j for p in parts):
            continue
        total = sum(w.energy_j[p] for p in parts)
        if total > 0:
            ratios.append((w.energy_j[node] / total, w.source, parts))
    if not ratios:
        return [_check("cross-boundary", "node", "skip", boundary="node", detail="no window has a node meter and a component meter")]
    worst, source, parts = min(ratios)
    return [
        _check(
            "cross-boundary",
            "node",
            "pass" if worst >= plan.cross_boundary_min_ratio else "fail",
            boundary="node",
            value=worst,
            unit="node / sum of components",
            threshold=f">= {plan.cross_boundary_min_ratio:g}",
            detail=f"worst of {len(ratios)} windows ({source}; components {', '.join(parts)})"
            + ("" if worst >= plan.cross_boundary_min_ratio else ": the node meter misses part of the machine, or a component meter over-reads"),
            measurements={"windows": len(ratios)},
        )
    ]


# --------------------------------------------------------------------------- clock and repeatability


def clock_checks(meters: Sequence[Meter], plan: CertificationPlan) -> list[CertificationCheck]:
    """External meters that report their own time must agree with the host's clock."""
    checks = []
    for meter in meters:
        if not meter.has_device_clock:
            continue  # on the host: it shares the host's clock
        try:
            reading = meter.read_device_clock()
        except Exception as e:
            checks.append(_check("clock", meter.id, "fail", boundary=meter.boundary, detail=f"could not read the device's time: {type(e).__name__}: {e}"))
            continue
        if reading is None:
            checks.append(_check("clock", meter.id, "skip", boundary=meter.boundary, detail="the device reports no time of its own (or has not synced it)"))
            continue
        excess = abs(reading.offset_s) - reading.uncertainty_s
        checks.append(
            _check(
                "clock",
                meter.id,
                "pass" if excess <= plan.clock_offset_max_s else "fail",
                boundary=meter.boundary,
                value=reading.offset_s,
                unit="s (device - host)",
                threshold=f"|offset| <= {plan.clock_offset_max_s:g} s + {reading.uncertainty_s:.2f} s uncertainty",
                detail="samples are stamped with host time; a drifting device clock points at a device without time sync",
                measurements={"uncertainty_s": reading.uncertainty_s},
            )
        )
    return checks


def _utilisation(record: RunRecord, kind: str) -> float | None:
    if record.trace is None:
        return None
    return record.trace.mean_gpu_util_pct if kind == "gpu" else record.trace.mean_cpu_util_pct


def repeatability_checks(records_by_workload: dict[str, list[RunRecord]], kind: str, plan: CertificationPlan) -> list[CertificationCheck]:
    checks = []
    for workload_id, records in records_by_workload.items():
        utils = [u for u in (_utilisation(r, kind) for r in records) if u is not None]
        mean_util = statistics.fmean(utils) if utils else None
        compute_bound = mean_util is None or mean_util >= plan.compute_bound_util_min_pct
        boundaries = sorted({e.boundary for r in records for e in r.energy})
        for boundary in boundaries:
            per_iteration = [r.truth_j(boundary) / r.iterations for r in records if r.truth_j(boundary) is not None]
            cv = _cv(per_iteration)
            if cv is None:
                status, detail = "fail", f"{len(per_iteration)} window(s) with energy: cannot compute a CV"
            elif compute_bound:
                status = "pass" if cv <= plan.repeatability_cv_max else "fail"
                detail = (
                    f"compute-bound (mean {kind} utilisation {mean_util:.0f}%)" if mean_util is not None
                    else "utilisation unknown: held to the compute-bound limit"
                )
            else:
                status = "info"
                detail = f"not compute-bound (mean {kind} utilisation {mean_util:.0f}% < {plan.compute_bound_util_min_pct:g}%): CV reported only"
            checks.append(
                _check(
                    "repeatability",
                    f"{workload_id}:{boundary}",
                    status,
                    boundary=boundary,
                    value=cv,
                    unit="CV of J/iteration",
                    threshold=f"<= {plan.repeatability_cv_max:g} (compute-bound)",
                    detail=f"{len(per_iteration)} repeats; {detail}",
                    measurements={"j_per_iteration": per_iteration, "mean_utilisation_pct": mean_util},
                )
            )
    return checks


# --------------------------------------------------------------------------- tier


def counts_for_boundary(meter: Meter) -> bool:
    """Tiers need the GPU's energy counter; a GPU meter that integrates power does not count."""
    return not (meter.boundary == "gpu" and meter.method != "counter")


def assign_tier(kind: str, primary: Sequence[Meter], checks: list[CertificationCheck]) -> tuple[str, list[str], list[str], list[CertificationCheck]]:
    """(tier, certified boundaries, reasons, checks with caps_tier filled in for failures)."""
    available = {m.boundary for m in primary if counts_for_boundary(m)}
    reasons = []
    for meter in primary:
        if not counts_for_boundary(meter):
            reasons.append(f"{meter.id}: integrates power; the tiers need the GPU's energy counter")
    failed_boundaries: set[str] = set()
    site_cap = "A"
    capped = []
    for c in checks:
        if c.status != "fail":
            capped.append(c)
            continue
        if c.boundary is None:
            cap = "uncertified"
            site_cap = worse(site_cap, cap)
        else:
            failed_boundaries.add(c.boundary)
            cap = coverage_tier(kind, available - {c.boundary})
        capped.append(c.model_copy(update={"caps_tier": cap}))
        where = f"{c.boundary} boundary not certified" if c.boundary else "site-wide"
        reasons.append(f"{c.id} failed ({c.detail}); {where}: at most {cap}")
    certified = sorted(available - failed_boundaries)
    coverage = coverage_tier(kind, certified)
    tier = worse(coverage, site_cap)
    reasons.insert(0, f"certified boundaries: {', '.join(certified) or 'none'} -> coverage tier {coverage}")
    return tier, certified, reasons, capped


# --------------------------------------------------------------------------- the whole certification


RunWindows = Callable[[WorkloadSpec, int], list[RunRecord]]
"""Runs (or resumes) `repeats` windows of a workload; records land in results/<site>/."""


@dataclass
class CertificationInputs:
    profile: HardwareProfile
    site: str
    hardware: DetectedHardware | None
    hardware_check: HardwareCheck
    meters: CertificationMeters
    load: object  # joulebench.measure.loads.Load
    load_boundary: str  # "gpu" or "cpu"
    workloads: list[WorkloadSpec]
    run_windows: RunWindows
    results_dir: Path
    plan: CertificationPlan


def _record_digests(records: Sequence[RunRecord], results_dir: Path, site: str) -> list[RecordDigest]:
    from joulebench.records import file_sha256, record_path

    digests = []
    for record in records:
        path = record_path(results_dir, site, record.run_id)
        digests.append(RecordDigest(path=path.name, run_id=record.run_id, sha256=file_sha256(path)))
    return digests


def _collect_records(spec: WorkloadSpec, inputs: CertificationInputs) -> list[RunRecord]:
    """Every repeat's record on disk, whether this call measured it or an earlier one did."""
    from joulebench.formats import make_run_id
    from joulebench.records import read_record, record_path

    inputs.run_windows(spec, inputs.plan.repeats)
    return [
        read_record(record_path(inputs.results_dir, inputs.site, make_run_id(inputs.site, spec, r)))
        for r in range(1, inputs.plan.repeats + 1)
    ]


def certify(inputs: CertificationInputs, timing: Timing = Timing(), say: Callable[[str], None] = lambda _: None) -> Certificate:
    """Run every check and return the (unsigned) certificate."""
    plan, meters = inputs.plan, inputs.meters
    checks: list[CertificationCheck] = [check_hardware(inputs.hardware_check)]
    checks += check_declared_meters(inputs.profile, meters.all())

    for meter in meters.all():
        say(f"probing {meter.id} for {plan.probe_s:g} s")
        checks += inventory_checks(meter, probe_meter(meter, plan.probe_s, timing), plan)

    say(f"idle for {plan.idle_s:g} s")
    idle = PowerSeries()
    record_series(meters.all(), idle, plan.idle_s, plan.idle_bucket_s, timing)
    checks += idle_checks(meters.all(), idle, plan)

    say(f"load step: {getattr(inputs.load, 'description', 'load')}")
    step = PowerSeries()
    record_series(meters.all(), step, plan.step_baseline_s, plan.step_bucket_s, timing)
    step.marks["load_on"] = len(step.times_s) - 1
    inputs.load.start()
    try:
        record_series(meters.all(), step, plan.step_load_s, plan.step_bucket_s, timing)
    finally:
        inputs.load.stop()
    step.marks["load_off"] = len(step.times_s) - 1
    checks += load_step_checks(meters.all(), step, inputs.load_boundary, getattr(inputs.load, "description", "load"), plan)

    checks += clock_checks(meters.all(), plan)

    records_by_workload: dict[str, list[RunRecord]] = {}
    for spec in inputs.workloads:
        say(f"repeatability: {spec.id} x {plan.repeats}")
        records_by_workload[spec.id] = _collect_records(spec, inputs)
    checks += repeatability_checks(records_by_workload, inputs.profile.kind, plan)

    on, off = step.marks["load_on"], step.marks["load_off"]
    settled_from = on + (off - on) // 2
    windows = [
        series_window("idle", meters, idle, 0, len(idle.times_s) - 1),
        series_window("load step (settled half)", meters, step, settled_from, off),
    ] + [record_window(r) for records in records_by_workload.values() for r in records]
    checks += agreement_checks(windows, plan)
    checks += cross_boundary_checks(windows, plan)

    tier, certified, reasons, checks = assign_tier(inputs.profile.kind, meters.primary, checks)
    all_records = [r for records in records_by_workload.values() for r in records]
    shortfalls = plan.meets_standard()
    if shortfalls:
        reasons.append("not a standard certification (the leaderboard ignores it): " + "; ".join(shortfalls))
    return Certificate(
        site=inputs.site,
        profile_id=inputs.profile.id,
        profile_hash=inputs.profile.profile_hash,
        suite_version=SUITE_VERSION,
        created_at=datetime.now(timezone.utc),
        tier=tier,
        tier_reasons=reasons,
        certified_boundaries=certified,
        standard_plan=not shortfalls,
        plan=plan,
        hardware=inputs.hardware,
        meters=[{**m.describe(), "role": "primary" if m in meters.primary else "cross-check"} for m in meters.all()],
        checks=checks,
        records=_record_digests(all_records, inputs.results_dir, inputs.site),
    )

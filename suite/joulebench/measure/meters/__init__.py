"""Energy meters: one file per source, one interface (base.Meter).

`discover_meters()` asks each probe in PROBES, in order, what it can meter on
this machine. The first probe to cover a boundary provides that boundary's
primary meter; a later probe's meter for the same boundary becomes a
cross-check. Every probe says what it looked for and, per boundary, why it
could not help, so a machine with no meters gets an explanation, not a guess.

To add a source (a BMC via Redfish, a smart plug): write `suite/meters/<name>.py`
with `probe(options) -> MeterDiscovery` and add one line to PROBES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from joulebench.formats import BOUNDARIES, MissingBoundary
from joulebench.measure.meters.base import Meter, MeterError

POWERCAP_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class Probe:
    label: str
    target: str  # "module:function", imported only when discovery runs
    boundaries: tuple[str, ...]


PROBES: tuple[Probe, ...] = (
    Probe("NVML", "joulebench.measure.meters.nvml:probe", ("gpu",)),
    Probe("RAPL", "joulebench.measure.meters.rapl:probe", ("cpu", "dram")),
    Probe("external", "joulebench.measure.meters.config:probe", ("node",)),
)


@dataclass(frozen=True)
class DiscoveryOptions:
    powercap_root: Path = POWERCAP_ROOT
    nvml: ModuleType | None = None  # a stand-in for pynvml (tests); None loads the real one
    environ: Mapping[str, str] | None = None  # None reads os.environ (CUDA_VISIBLE_DEVICES)
    meters_config: Path | None = None  # a site's declared external meters (--meters CONFIG)


@dataclass
class MeterDiscovery:
    meters: list[Meter] = field(default_factory=list)  # one primary per boundary
    cross_checks: list[Meter] = field(default_factory=list)
    looked_for: list[str] = field(default_factory=list)  # what was tried, and why it was or was not usable
    unavailable: dict[str, list[str]] = field(default_factory=dict)  # boundary -> why nothing covers it
    gpu_utilization: Callable[[], float | None] | None = None  # for the trace, where a GPU meter exists

    @classmethod
    def nothing(cls, boundaries: str | Sequence[str], reason: str, looked_for: Sequence[str] = ()) -> MeterDiscovery:
        boundaries = (boundaries,) if isinstance(boundaries, str) else tuple(boundaries)
        lines = list(looked_for) if reason in looked_for else [*looked_for, reason]
        return cls(looked_for=lines, unavailable={b: [reason] for b in boundaries})

    def covered(self) -> set[str]:
        return {m.boundary for m in self.meters}

    def merge(self, other: MeterDiscovery) -> None:
        for meter in other.meters:
            if meter.boundary in self.covered():
                self.cross_checks.append(meter)
                self.looked_for.append(f"{meter.id}: {meter.boundary} already has a primary meter; kept as a cross-check")
            else:
                self.meters.append(meter)
        self.cross_checks.extend(other.cross_checks)
        self.looked_for.extend(other.looked_for)
        for boundary, reasons in other.unavailable.items():
            self.unavailable.setdefault(boundary, []).extend(reasons)
        if self.gpu_utilization is None:
            self.gpu_utilization = other.gpu_utilization

    def close(self) -> None:
        for meter in [*self.meters, *self.cross_checks]:
            meter.close()


def _load(target: str) -> Callable[[DiscoveryOptions], MeterDiscovery]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def discover_meters(
    powercap_root: Path = POWERCAP_ROOT,
    *,
    nvml: ModuleType | None = None,
    environ: Mapping[str, str] | None = None,
    probes: Sequence[Probe] = PROBES,
    meters_config: Path | None = None,
) -> MeterDiscovery:
    """Every meter this machine offers, one primary per boundary, with what was looked for."""
    options = DiscoveryOptions(powercap_root=Path(powercap_root), nvml=nvml, environ=environ, meters_config=meters_config)
    found = MeterDiscovery()
    for probe in probes:
        try:
            result = _load(probe.target)(options)
        except (ImportError, MeterError, OSError) as e:
            # A probe that breaks costs its boundaries, not the whole discovery.
            result = MeterDiscovery.nothing(probe.boundaries, f"{probe.label}: probe failed: {e}")
        found.merge(result)
    for boundary in BOUNDARIES:
        if not any(boundary in probe.boundaries for probe in probes):
            reason = f"{boundary}: no meter for this boundary is implemented or configured yet"
            found.looked_for.append(reason)
            found.unavailable.setdefault(boundary, []).append(reason)
    return found


def missing_boundaries(discovery: MeterDiscovery) -> list[MissingBoundary]:
    """The boundaries no primary meter covers, each with the reasons discovery gave."""
    missing = []
    for boundary in BOUNDARIES:
        if boundary in discovery.covered():
            continue
        reasons = discovery.unavailable.get(boundary) or [f"{boundary}: no meter for this boundary was looked for"]
        missing.append(MissingBoundary(boundary=boundary, reason="; ".join(reasons)))
    return missing


__all__ = [
    "DiscoveryOptions",
    "Meter",
    "MeterDiscovery",
    "MeterError",
    "PROBES",
    "Probe",
    "discover_meters",
    "missing_boundaries",
]

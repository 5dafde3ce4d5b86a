"""Energy meters: one file per source, one interface (base.Meter).

`discover_meters()` asks each probe in the PROBES registry, in order, what it
can meter on this machine. The first probe to cover a boundary provides that boundary's
primary meter; a later probe's meter for the same boundary becomes a
cross-check. Every probe says what it looked for and, per boundary, why it
could not help, so a machine with no meters gets an explanation, not a guess.

To add a source (a BMC via Redfish, a smart plug): write
`joulebench/measure/meters/<name>.py` with a `PROBE = Probe(label, boundaries,
function)` and add one line to PROBES (a package of its own declares an entry
point in the `joulebench.meters` group instead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from joulebench.formats import BOUNDARIES, MissingBoundary
from joulebench.measure.meters.base import Meter, MeterError
from joulebench.registry import EntryLoadError, Registry

POWERCAP_ROOT = Path("/sys/class/powercap")


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


@dataclass(frozen=True)
class Probe:
    """One source of meters: what it is called, the boundaries it can cover, and how to ask it."""

    label: str
    boundaries: tuple[str, ...]
    find: Callable[[DiscoveryOptions], MeterDiscovery]


def _is_probe(name: str, obj: object) -> Probe:
    if not isinstance(obj, Probe):
        raise TypeError(f"{obj!r} is not a joulebench.measure.meters.Probe")
    return obj


# In order: the first probe to cover a boundary provides its primary meter.
PROBES: Registry[Probe] = Registry(
    "meter probe",
    {
        "nvml": "joulebench.measure.meters.nvml:PROBE",
        "rapl": "joulebench.measure.meters.rapl:PROBE",
        "external": "joulebench.measure.meters.config:PROBE",
    },
    group="joulebench.meters",
    check=_is_probe,
)


def registered_probes() -> tuple[list[Probe], list[str]]:
    """The registered probes, loaded, in order; and why any could not be loaded."""
    probes, failures = [], []
    for entry in PROBES.entries().values():
        try:
            probes.append(PROBES.load_entry(entry))
        except EntryLoadError as exc:
            failures.append(str(exc))
    return probes, failures


def discover_meters(
    powercap_root: Path = POWERCAP_ROOT,
    *,
    nvml: ModuleType | None = None,
    environ: Mapping[str, str] | None = None,
    probes: Sequence[Probe] | None = None,
    meters_config: Path | None = None,
) -> MeterDiscovery:
    """Every meter this machine offers, one primary per boundary, with what was looked for."""
    options = DiscoveryOptions(powercap_root=Path(powercap_root), nvml=nvml, environ=environ, meters_config=meters_config)
    found = MeterDiscovery()
    failures: list[str] = []
    if probes is None:
        probes, failures = registered_probes()
    for failure in failures:
        # A probe that cannot even be loaded: which boundaries it would cover is unknown.
        found.looked_for.append(failure)
    for probe in probes:
        try:
            result = probe.find(options)
        except (ImportError, MeterError, OSError) as e:
            # A probe that breaks costs its boundaries, not the whole discovery.
            result = MeterDiscovery.nothing(probe.boundaries, f"{probe.label}: probe failed: {e}")
        found.merge(result)
    for boundary in BOUNDARIES:
        if not any(boundary in probe.boundaries for probe in probes):
            reason = "; ".join([f"{boundary}: no meter for this boundary is implemented or configured yet", *failures])
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
    "registered_probes",
    "discover_meters",
    "missing_boundaries",
]

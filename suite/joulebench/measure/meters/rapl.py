"""CPU package and DRAM energy from Intel RAPL (also AMD's) via the Linux powercap sysfs tree.

Layout, as the kernel exposes it under /sys/class/powercap (each entry a symlink
into /sys/devices/virtual/powercap/...):

    intel-rapl:0/      name "package-0", energy_uj, max_energy_range_uj, enabled
    intel-rapl:0:0/    a subzone of package 0: name "dram" (or "core", "uncore")
    intel-rapl:1/      name "package-1" on a second socket, or "psys" on a laptop
    intel-rapl-mmio:0/ the same package again through another interface

One meter per boundary: `rapl:cpu` sums the package zones, `rapl:dram` the
dram zones. Zones that overlap those (psys, core, uncore) are not counted, and
a zone exposed through a second interface is counted once.

`energy_uj` is a microjoule counter that wraps at `max_energy_range_uj`
(about 262 kJ on many parts: ten minutes at 400 W). A falling raw value means
the counter wrapped once since the last read; two wraps between reads cannot
be seen. The runner's trace reads every meter every 100 ms during a window,
and `start()` runs a guard thread that reads every GUARD_PERIOD_S in between,
far below the fastest wrap.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from joulebench.measure.meters import DiscoveryOptions, MeterDiscovery, Probe
from joulebench.measure.meters.base import Meter, MeterError

RAPL_UPDATE_PERIOD_S = 0.001  # the hardware updates the counter about every 1 ms
GUARD_PERIOD_S = 10.0
UJ_PER_J = 1_000_000

_ZONE_DIR = re.compile(r"^(intel-rapl[a-z-]*):(\d+)(?::(\d+))?$")
_PACKAGE = re.compile(r"^package-\d+(-die-\d+)?$")
_PRIMARY_INTERFACE = "intel-rapl"  # the MSR interface; others (mmio, tpmi) may repeat its zones
# Zones that overlap the package zones and would be counted twice.
_OVERLAPPING = {"psys": "the whole platform, overlapping the packages", "core": "part of its package", "uncore": "part of its package"}


@dataclass(frozen=True)
class RaplZone:
    path: Path
    name: str  # what the kernel calls it: "package-0", "dram"
    label: str  # unique on the machine: "package-0", "package-0/dram"
    boundary: str  # "cpu" or "dram"
    max_energy_range_uj: int


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


class RaplCounter:
    """One zone's energy counter, unwrapped: microjoules since the counter was opened."""

    def __init__(self, zone: RaplZone):
        self.zone = zone
        self._lock = threading.Lock()  # the trace and the window edges read from different threads
        self._last = self._raw()
        self._total_uj = 0

    def _raw(self) -> int:
        try:
            return _read_int(self.zone.path / "energy_uj")
        except (OSError, ValueError) as e:
            raise MeterError(f"RAPL: cannot read {self.zone.path / 'energy_uj'}: {e}") from e

    def read_uj(self) -> int:
        with self._lock:
            raw = self._raw()
            if raw >= self._last:
                self._total_uj += raw - self._last
            else:  # wrapped once since the last read
                self._total_uj += raw + self.zone.max_energy_range_uj - self._last
            self._last = raw
            return self._total_uj


class RaplMeter(Meter):
    method = "counter"
    update_period_s = RAPL_UPDATE_PERIOD_S

    def __init__(self, boundary: str, zones: Sequence[RaplZone], guard_period_s: float = GUARD_PERIOD_S):
        if not zones or any(z.boundary != boundary for z in zones):
            raise ValueError(f"a rapl:{boundary} meter needs zones of that boundary, got {[z.label for z in zones]}")
        self.boundary = boundary  # type: ignore[assignment]
        self.id = f"rapl:{boundary}"
        self._counters = [RaplCounter(z) for z in zones]
        self._guard_period_s = guard_period_s
        self._stop = threading.Event()
        self._guard: threading.Thread | None = None

    def read_energy_j(self) -> float:
        return sum(c.read_uj() for c in self._counters) / UJ_PER_J

    def per_device_energy_j(self) -> dict[str, float]:
        return {c.zone.label: c.read_uj() / UJ_PER_J for c in self._counters}

    def start(self) -> None:
        if self._guard is None:
            self._stop.clear()
            self._guard = threading.Thread(target=self._keep_reading, name=f"{self.id}-wrap-guard", daemon=True)
            self._guard.start()

    def _keep_reading(self) -> None:
        # Reading is what notices a wrap; a quiet stretch longer than one wrap would lose one.
        while not self._stop.wait(self._guard_period_s):
            try:
                self.read_energy_j()
            except MeterError:
                pass  # the next read by the runner reports it

    def stop(self) -> None:
        if self._guard is not None:
            self._stop.set()
            self._guard.join()
            self._guard = None

    def describe(self) -> dict:
        return {
            **super().describe(),
            "zones": [c.zone.label for c in self._counters],
            "max_energy_range_j": min(c.zone.max_energy_range_uj for c in self._counters) / UJ_PER_J,
        }


# --------------------------------------------------------------------------- discovery


@dataclass
class ZoneScan:
    zones: list[RaplZone]
    notes: list[str]
    unreadable: dict[str, list[str]]  # boundary -> problems that make it unmeterable


def scan_zones(root: Path) -> ZoneScan:
    """Find the package and dram zones under a powercap root, and check they can be read."""
    entries = []
    for entry in root.iterdir():
        match = _ZONE_DIR.match(entry.name)
        if match:
            interface, package, sub = match.groups()
            # The MSR interface first, so a duplicate from another interface is the one skipped.
            entries.append((interface != _PRIMARY_INTERFACE, interface, int(package), -1 if sub is None else int(sub), entry))
    entries.sort()

    zones: list[RaplZone] = []
    notes: list[str] = []
    unreadable: dict[str, list[str]] = {}
    seen: dict[str, str] = {}  # label -> the directory that provided it
    for _, interface, package, sub, path in entries:
        name = _zone_name(path)
        if name is None:
            notes.append(f"RAPL: {path.name} has no readable name; skipped")
            continue
        label = name
        if sub >= 0:
            parent = _zone_name(root / f"{interface}:{package}") or f"{interface}:{package}"
            label = f"{parent}/{name}"
        boundary = "cpu" if _PACKAGE.match(name) else "dram" if name == "dram" else None
        if boundary is None:
            why = _OVERLAPPING.get(name, "not a package or dram domain")
            notes.append(f"RAPL: {path.name} ({label}) not counted: {why}")
            continue
        if label in seen:
            notes.append(f"RAPL: {path.name} ({label}) repeats {seen[label]} through another interface; counted once")
            continue
        seen[label] = path.name
        problem = _unreadable(path)
        if problem:
            unreadable.setdefault(boundary, []).append(problem)
            continue
        zones.append(RaplZone(path, name, label, boundary, _read_int(path / "max_energy_range_uj")))
    return ZoneScan(zones, notes, unreadable)


def _zone_name(path: Path) -> str | None:
    try:
        return (path / "name").read_text().strip()
    except OSError:
        return None


def _unreadable(path: Path) -> str | None:
    for attribute in ("energy_uj", "max_energy_range_uj"):
        target = path / attribute
        try:
            _read_int(target)
        except PermissionError:
            return (
                f"RAPL: {target} is not readable by this user (permission denied: since late 2020 kernels "
                "make energy_uj root-only; run as root or grant read access, e.g. with a udev rule)"
            )
        except (OSError, ValueError) as e:
            return f"RAPL: {target} cannot be read: {e}"
    return None


def discover(root: Path) -> MeterDiscovery:
    """One RAPL meter per boundary (cpu, dram) that every zone of it can be read for."""
    if not root.is_dir():
        return MeterDiscovery.nothing(
            ("cpu", "dram"), f"RAPL: {root} absent (no powercap driver, or a VM that does not expose RAPL)"
        )
    scan = scan_zones(root)
    found = MeterDiscovery(looked_for=list(scan.notes))
    for boundary, kind in (("cpu", "package"), ("dram", "dram")):
        zones = [z for z in scan.zones if z.boundary == boundary]
        problems = scan.unreadable.get(boundary, [])
        if problems:
            # Summing only the readable sockets would undercount without saying so.
            reason = problems[0] + (f" (and {len(problems) - 1} more zone(s))" if len(problems) > 1 else "")
            found.unavailable[boundary] = [reason]
            found.looked_for.append(reason)
        elif not zones:
            reason = f"RAPL: no {kind} zone under {root}"
            found.unavailable[boundary] = [reason]
            found.looked_for.append(reason)
        else:
            meter = RaplMeter(boundary, zones)
            found.meters.append(meter)
            found.looked_for.append(f"RAPL: {', '.join(z.label for z in zones)} readable -> primary {boundary} meter {meter.id}")
    return found


def probe(options: DiscoveryOptions) -> MeterDiscovery:
    return discover(options.powercap_root)


PROBE = Probe("RAPL", ("cpu", "dram"), probe)

"""The meters one run reads: one primary per boundary, cross-checks, and what no meter covers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from joulebench.errors import NoMeterError
from joulebench.formats import MissingBoundary
from joulebench.measure.meters.base import Meter


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


def open_meters(allow_unmetered: bool = False, meters_config: Path | None = None, action: str = "record a run",
                environ: Mapping[str, str] | None = None) -> MeterSet:
    """This machine's meters (and a site's declared ones); none at all is an error listing what was tried.

    `environ` is the environment discovery reads (CUDA_VISIBLE_DEVICES: which GPUs to meter); None: this process's.
    """
    from joulebench.measure.meters import discover_meters, missing_boundaries

    discovery = discover_meters(meters_config=meters_config, environ=environ)
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

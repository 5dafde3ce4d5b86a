"""scripted_record / ScriptedRunner: run records whose energies a test dictates.

For code that consumes records (certification, scoring) without a runner or
hardware. Nothing here is a measurement; every number comes from the test.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from joulebench.files import write_text_atomic
from joulebench.formats import (
    BoundaryEnergy,
    HardwareProfile,
    RunRecord,
    WorkloadSpec,
    make_run_id,
)
from joulebench.records import record_path
from tests.doubles.records import START, make_record


def scripted_record(
    spec: WorkloadSpec,
    profile: HardwareProfile,
    site: str,
    repeat: int,
    energy_j: dict[str, float],
    cross_checks: dict[str, tuple[str, float]] | None = None,
    meter_ids: dict[str, str] | None = None,
    duration_s: float = 8.0,
    utilisation_pct: float | None = 95.0,
) -> RunRecord:
    """A record whose primary energy per boundary is `energy_j`; cross_checks: boundary -> (meter id, J)."""
    meter_ids = meter_ids or {}
    base = make_record(workload=spec, profile=profile, site=site, repeat=repeat, duration_s=duration_s,
                       truth=energy_j, device_count=1, gpu_util_pct=utilisation_pct, cpu_util_pct=utilisation_pct)

    def entry(boundary: str, meter_id: str, joules: float) -> BoundaryEnergy:
        return BoundaryEnergy(boundary=boundary, meter_id=meter_id, method="counter", update_period_s=0.1,
                              energy_j=joules, mean_power_w=joules / duration_s)

    start = START + timedelta(minutes=repeat)
    return base.model_copy(update={
        "energy": [entry(b, meter_ids.get(b, f"scripted:{b}"), j) for b, j in energy_j.items()],
        "cross_checks": [entry(b, mid, j) for b, (mid, j) in (cross_checks or {}).items()],
        "started_at": start,
        "ended_at": start + timedelta(seconds=duration_s),
        "idle_window_s": 3.0,
    })


class ScriptedRunner:
    """Stands in for joulebench.measure.runner.run_workload: writes records the test scripts, where the runner would."""

    def __init__(self, profile: HardwareProfile, site: str, results_dir: Path, energy_for):
        """energy_for(spec, repeat) -> dict(energy_j=..., cross_checks=..., utilisation_pct=...)."""
        self.profile, self.site, self.results_dir = profile, site, Path(results_dir)
        self.energy_for = energy_for
        self.calls: list[tuple[str, int]] = []

    def __call__(self, spec: WorkloadSpec, repeats: int) -> list[RunRecord]:
        self.calls.append((spec.id, repeats))
        written = []
        for repeat in range(1, repeats + 1):
            path = record_path(self.results_dir, self.site, make_run_id(self.site, spec, repeat))
            if path.exists():
                continue  # as the runner resumes
            record = scripted_record(spec, self.profile, self.site, repeat, **self.energy_for(spec, repeat))
            write_text_atomic(path, record.model_dump_json(indent=1))
            written.append(record)
        return written

"""scripted_record / ScriptedRunner: run records whose energies a test dictates.

For code that consumes records (certification, scoring) without a runner or
hardware. Nothing here is a measurement; every number comes from the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from suite import SUITE_VERSION
from suite.runner import record_path
from suite.schemas import (
    BoundaryEnergy,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    PowerTrace,
    RunRecord,
    WorkloadSpec,
    make_run_id,
)
from suite.atomic import write_text_atomic


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

    def entry(boundary: str, meter_id: str, joules: float) -> BoundaryEnergy:
        return BoundaryEnergy(
            boundary=boundary,
            meter_id=meter_id,
            method="counter",
            update_period_s=0.1,
            energy_j=joules,
            mean_power_w=joules / duration_s,
        )

    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=repeat)
    utils = [utilisation_pct] * 3 if utilisation_pct is not None else []
    return RunRecord(
        run_id=make_run_id(site, spec, repeat),
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=DetectedHardware(),
        hardware_check=HardwareCheck(profile_id=profile.id),
        environment=Environment(python="3.11", platform="scripted", joulebench=SUITE_VERSION),
        started_at=start,
        ended_at=start + timedelta(seconds=duration_s),
        duration_s=duration_s,
        iterations=spec.measured_iterations,
        items=spec.batch_size * spec.measured_iterations,
        device_count=1,
        idle_window_s=3.0,
        energy=[entry(b, meter_ids.get(b, f"scripted:{b}"), j) for b, j in energy_j.items()],
        cross_checks=[entry(b, mid, j) for b, (mid, j) in (cross_checks or {}).items()],
        trace=PowerTrace(period_s=0.1, t_s=[0.0, 0.1, 0.2], gpu_util_pct=utils, cpu_util_pct=utils),
    )


class ScriptedRunner:
    """Stands in for suite.runner.run_workload: writes records the test scripts, where the runner would."""

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

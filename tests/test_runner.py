"""The runner: windows, idle vs dynamic energy, resume, interruption, and the CLI's refusals."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.errors import InputError
from joulebench.formats import (
    DetectedHardware,
    HardwareCheck,
    MissingBoundary,
    RunRecord,
    make_run_id,
)
from joulebench.measure.environment import fingerprint
from joulebench.measure.meter_set import MeterSet
from joulebench.measure.runner import run_workload
from joulebench.measure.window import RunContext
from joulebench.records import read_record as load_record
from joulebench.records import record_path
from tests.doubles.scripted_meter import ScriptedMeter
from tests.optional import need_torch
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD

IDLE_W, BUSY_W = 50.0, 200.0


class FakeWorkload:
    """Each step sleeps; between the first step and the next sync it is 'busy'."""

    def __init__(self, step_s: float = 0.01, fail_on_step: int | None = None):
        self.busy = False
        self.steps = 0
        self.step_s = step_s
        self.fail_on_step = fail_on_step
        self.closed = False
        self.meter: WorkloadPowerMeter | None = None

    def _set_busy(self, busy: bool):
        if self.meter is not None:
            self.meter.read_energy_j()  # close the interval at the old state
        self.busy = busy

    def step(self):
        self.steps += 1
        if self.fail_on_step is not None and self.steps == self.fail_on_step:
            raise KeyboardInterrupt
        if not self.busy:
            self._set_busy(True)
        time.sleep(self.step_s)

    def sync(self):
        self._set_busy(False)

    def close(self):
        self.closed = True


class WorkloadPowerMeter(ScriptedMeter):
    """Exact energy of a fake that draws BUSY_W while busy and IDLE_W otherwise."""

    def __init__(self, workload: FakeWorkload, **kw):
        super().__init__(power_w=IDLE_W, **kw)
        self.workload = workload
        workload.meter = self
        self._energy = 0.0
        self._last = time.monotonic()

    def read_energy_j(self) -> float:
        now = time.monotonic()
        self._energy += (BUSY_W if self.workload.busy else IDLE_W) * (now - self._last)
        self._last = now
        return self._energy


@pytest.fixture
def spec():
    from joulebench.formats import WorkloadSpec

    return WorkloadSpec.model_validate({**VALID_WORKLOAD, "measured_iterations": 20, "repeats": 2})


def make_ctx(tmp_path: Path, meters: MeterSet, idle_s: float = 0.3) -> RunContext:
    from joulebench.formats import HardwareProfile

    profile = HardwareProfile.model_validate(VALID_PROFILE)
    return RunContext(
        profile=profile,
        site="test-site",
        out_dir=tmp_path,
        meters=meters,
        hardware=DetectedHardware(cpu_model="test cpu"),
        hardware_check=HardwareCheck(profile_id=profile.id, warnings=["cpu model differs (test)"]),
        environment=fingerprint(),
        device="cpu",
        idle_s=idle_s,
    )


def test_windows_are_metered_with_idle_and_dynamic_energy(tmp_path, spec):
    workload = FakeWorkload()
    meter = WorkloadPowerMeter(workload)
    missing = [MissingBoundary(boundary="node", reason="no wall meter declared")]
    ctx = make_ctx(tmp_path, MeterSet(primary=[meter], missing=missing))
    records = run_workload(spec, ctx, build=lambda s, d: workload)

    assert [r.repeat for r in records] == [1, 2]
    assert workload.steps == spec.warmup_iterations + 2 * spec.measured_iterations
    assert workload.closed
    for record in records:
        on_disk = load_record(record_path(tmp_path, "test-site", record.run_id))
        assert on_disk == record
        gpu = record.energy[0]
        assert record.duration_s >= spec.measured_iterations * 0.01
        assert gpu.energy_j == pytest.approx(BUSY_W * record.duration_s, rel=0.05)
        assert gpu.mean_power_w == pytest.approx(BUSY_W, rel=0.05)
        assert gpu.idle_power_w == pytest.approx(IDLE_W, rel=0.02)
        assert gpu.static_energy_j == pytest.approx(IDLE_W * record.duration_s, rel=0.02)
        assert gpu.dynamic_energy_j == pytest.approx((BUSY_W - IDLE_W) * record.duration_s, rel=0.08)
        assert record.missing_boundaries == missing
        assert "cpu model differs (test)" in record.warnings
        assert record.trace is not None and len(record.trace.t_s) >= 2
        assert all(b - a >= 0.09 for a, b in zip(record.trace.t_s, record.trace.t_s[1:-1]))
        assert record.items == spec.batch_size * spec.measured_iterations
        assert record.truth_j("gpu") == gpu.energy_j and record.truth_j("node") is None


def test_rerun_skips_recorded_windows_and_redoes_only_missing_ones(tmp_path, spec):
    builds = []

    def build(s, d):
        builds.append(s.id)
        return FakeWorkload(step_s=0.001)

    ctx = make_ctx(tmp_path, MeterSet(primary=[ScriptedMeter()]), idle_s=0.01)
    assert len(run_workload(spec, ctx, build=build)) == 2
    assert run_workload(spec, ctx, build=build) == []
    assert builds == [spec.id]  # nothing pending: not even built

    record_path(tmp_path, "test-site", make_run_id("test-site", spec, 2)).unlink()
    redone = run_workload(spec, ctx, build=build)
    assert [r.repeat for r in redone] == [2]


def test_interrupted_run_leaves_no_broken_file_and_resumes(tmp_path, spec):
    ctx = make_ctx(tmp_path, MeterSet(primary=[ScriptedMeter()]), idle_s=0.01)
    fail_at = spec.warmup_iterations + spec.measured_iterations + 5  # inside window 2
    failing = FakeWorkload(step_s=0.001, fail_on_step=fail_at)
    with pytest.raises(KeyboardInterrupt):
        run_workload(spec, ctx, build=lambda s, d: failing)
    assert failing.closed
    files = sorted(p.name for p in (tmp_path / "test-site").iterdir())
    assert files == [f"{make_run_id('test-site', spec, 1)}.json"]
    resumed = run_workload(spec, ctx, build=lambda s, d: FakeWorkload(step_s=0.001))
    assert [r.repeat for r in resumed] == [2]


def test_damaged_record_is_an_error_not_silently_redone(tmp_path, spec):
    ctx = make_ctx(tmp_path, MeterSet(primary=[ScriptedMeter()]), idle_s=0.01)
    path = record_path(tmp_path, "test-site", make_run_id("test-site", spec, 1))
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": "half')
    with pytest.raises(InputError, match=str(path)):
        run_workload(spec, ctx, build=lambda s, d: FakeWorkload())


def test_short_window_is_flagged(tmp_path, spec):
    coarse = ScriptedMeter(update_period_s=0.1)  # 20 x 1 ms steps = far fewer than 50 updates
    ctx = make_ctx(tmp_path, MeterSet(primary=[coarse]), idle_s=0.01)
    record = run_workload(spec, ctx, repeats=1, build=lambda s, d: FakeWorkload(step_s=0.001))[0]
    assert any("fewer than 50" in w for w in record.warnings)


def test_unmetered_window_says_so(tmp_path, spec):
    missing = [MissingBoundary(boundary=b, reason="no meter found") for b in ("gpu", "cpu", "dram", "node")]
    ctx = make_ctx(tmp_path, MeterSet(primary=[], missing=missing), idle_s=0.01)
    record = run_workload(spec, ctx, repeats=1, build=lambda s, d: FakeWorkload(step_s=0.001))[0]
    assert record.energy == [] and len(record.missing_boundaries) == 4
    assert all(record.truth_j(b) is None for b in ("gpu", "cpu", "dram", "node"))
    RunRecord.model_validate_json(record.model_dump_json())


def test_run_without_any_meter_stops_and_lists_what_it_looked_for(tmp_path, capsys, monkeypatch):
    import joulebench.measure.meters as meters
    from joulebench.cli import main
    from tests.doubles.fake_nvml import FakeNvml

    real = meters.discover_meters
    # As on a machine with no NVIDIA driver and no powercap tree, whatever runs the test.
    no_driver = FakeNvml(init_error=FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    monkeypatch.setattr(meters, "discover_meters", lambda **kw: real(powercap_root=tmp_path / "none", nvml=no_driver, **kw))
    code = main(["run", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "ci", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3
    assert "no energy meter found" in err
    assert "NVML" in err and "RAPL" in err
    assert not (tmp_path / "ci").exists()


def test_a_run_inside_a_slurm_job_records_the_jobs_ids(tmp_path, capsys, monkeypatch):
    """Every record names the scheduler's job, array task and step, read once per run (Slurm's answers scripted)."""
    need_torch()
    import joulebench.measure.meters as meters
    from joulebench.cli import main
    from joulebench.cluster import slurm
    from joulebench.formats import SchedulerInfo
    from joulebench.records import load_records
    from tests.doubles.fake_nvml import FakeNvml

    real = meters.discover_meters
    no_driver = FakeNvml(init_error=FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    monkeypatch.setattr(meters, "discover_meters", lambda **kw: real(powercap_root=tmp_path / "none", nvml=no_driver, **kw))
    asked = []

    def scontrol(argv, **kw):
        asked.append(argv)
        if argv[:3] == ["scontrol", "show", "job"]:
            return "JobId=78 ArrayJobId=77 ArrayTaskId=1 JobName=jb-smoke\n   Partition=ci OverSubscribe=NO Contiguous=0\n"
        return "AcctGatherEnergyType    = acct_gather_energy/rapl\nClusterName = jbci\n"

    monkeypatch.setattr(slurm, "run_slurm", scontrol)
    for name, value in {"SLURM_JOB_ID": "78", "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "1",
                        "SLURM_STEP_ID": "0", "SLURM_CLUSTER_NAME": "jbci", "SLURM_JOB_NODELIST": "n1",
                        "SLURM_RESTART_COUNT": "1"}.items():
        monkeypatch.setenv(name, value)
    code = main(["run", "--track", "smoke", "--only", "mobilenet_v3_small_infer", "--profile", "x86-cpu-server",
                 "--site", "ci", "--out", str(tmp_path / "r"), "--repeats", "2", "--idle-seconds", "0", "--allow-unmetered"])
    assert code == 0, capsys.readouterr().err
    records = load_records(tmp_path / "r")
    assert len(records) == 2 and len(asked) == 2  # scontrol asked once per run, not per window
    expected = SchedulerInfo(kind="slurm", cluster="jbci", job_id="78", array_job_id="77", array_task_id=1, step_id="0",
                             nodelist="n1", partition="ci", exclusive=True, restart_count=1,
                             acct_gather_energy="acct_gather_energy/rapl")
    assert all(r.scheduler == expected and r.topology is None for r in records)


def test_smoke_track_end_to_end_with_real_models(tmp_path):
    """The real model builders on the CPU, metered by a scripted meter (no hardware here)."""
    need_torch()
    smoke = catalog.load_workloads("smoke")
    assert 2 <= len(smoke) <= 3
    meter = ScriptedMeter(boundary="cpu", power_w=65.0)
    ctx = make_ctx(tmp_path, MeterSet(primary=[meter]), idle_s=0.05)
    for spec in smoke:
        records = run_workload(spec, ctx, repeats=2)
        assert [r.repeat for r in records] == [1, 2]
        for record in records:
            assert record.workload == spec and record.spec_hash == spec.spec_hash
            assert record.iterations == spec.measured_iterations
            assert record.energy[0].energy_j == pytest.approx(65.0 * record.duration_s, rel=0.05)
            assert record.environment.torch is not None
            if spec.task == "generate":
                assert record.tokens == spec.batch_size * spec.new_tokens * spec.measured_iterations
    assert len(list((tmp_path / "test-site").glob("*.json"))) == 2 * len(smoke)


def test_external_meter_with_a_gap_gives_no_truth_for_that_window(tmp_path, spec):
    from types import SimpleNamespace

    class GappyNodeMeter(ScriptedMeter):
        def window_quality(self, start_s, end_s):
            assert end_s > start_s
            return SimpleNamespace(valid=False, as_warning=lambda: f"{self.id}: window invalid: a 4.0 s gap")

    gpu, node = ScriptedMeter(boundary="gpu"), GappyNodeMeter(boundary="node", method="integrated")
    ctx = make_ctx(tmp_path, MeterSet(primary=[gpu, node]), idle_s=0.01)
    record = run_workload(spec, ctx, repeats=1, build=lambda s, d: FakeWorkload(step_s=0.001))[0]
    assert record.truth_j("gpu") is not None and record.truth_j("node") is None
    assert [m.boundary for m in record.missing_boundaries] == ["node"]
    assert "4.0 s gap" in record.missing_boundaries[0].reason
    assert any("window invalid" in w for w in record.warnings)


class ScriptedLiveEstimator:
    """Says 42 J for the GPU each window; counts its calls."""

    def __init__(self):
        self.calls = []

    def start(self):
        self.calls.append("start")

    def stop(self):
        from joulebench.formats import LiveEstimate

        self.calls.append("stop")
        return [LiveEstimate(estimator_id="scripted", estimator_version="1", boundary="gpu", energy_j=42.0)]

    def close(self):
        self.calls.append("close")


def test_live_estimators_wrap_each_window_and_are_closed_once(tmp_path, spec):
    opened = []

    def open_live():
        opened.append("scripted")
        opened_estimator = ScriptedLiveEstimator()
        estimators.append(opened_estimator)
        return [opened_estimator]

    estimators: list[ScriptedLiveEstimator] = []
    ctx = make_ctx(tmp_path, MeterSet(primary=[ScriptedMeter()]), idle_s=0.01)
    ctx.open_live = open_live
    records = run_workload(spec, ctx, build=lambda s, d: FakeWorkload(step_s=0.001))
    assert opened == ["scripted"]  # once per workload, not per window
    assert estimators[0].calls == ["start", "stop", "start", "stop", "close"]
    assert all(r.live_estimates[0].energy_j == 42.0 for r in records)

    # A window that fails still closes the estimator.
    ctx.out_dir = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        run_workload(spec, ctx, build=lambda s, d: FakeWorkload(step_s=0.001, fail_on_step=spec.warmup_iterations + 3))
    assert estimators[1].calls == ["start", "close"]


def test_atomic_writes_leave_no_temp_file_and_a_readable_file(tmp_path, monkeypatch):
    import joulebench.files
    from joulebench.files import write_text_atomic

    target = tmp_path / "sub" / "x.json"
    write_text_atomic(target, "{}")
    assert target.read_text() == "{}" and (target.stat().st_mode & 0o777) == 0o644

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(joulebench.files.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_text_atomic(target, '{"new": 1}')
    assert target.read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_windows_state_their_truth_uncertainty(tmp_path, spec):
    """Edges (one update period each) plus the meter's own accuracy where it has a published figure."""
    stated, unstated = ScriptedMeter(boundary="gpu"), ScriptedMeter(boundary="cpu")
    stated.accuracy_pct, stated.accuracy_source = 5.0, "a published gain error"
    ctx = make_ctx(tmp_path, MeterSet(primary=[stated, unstated]), idle_s=0.01)
    record = run_workload(spec, ctx, repeats=1, build=lambda s, d: FakeWorkload(step_s=0.001))[0]
    by_boundary = {e.boundary: e.uncertainty for e in record.energy}
    edges = 100 * 2 * stated.update_period_s / record.duration_s
    assert by_boundary["gpu"].covers_meter_accuracy and by_boundary["gpu"].bound_pct == pytest.approx(5.0 + edges)
    assert not by_boundary["cpu"].covers_meter_accuracy
    assert by_boundary["cpu"].bound_pct == pytest.approx(100 * 2 * unstated.update_period_s / record.duration_s)

"""Certification checks, each on its pass and its fail path, with scripted meters on a fake clock."""

from __future__ import annotations

import math

import pytest

from joulebench.certify.checks import (
    CertificationInputs,
    CertificationMeters,
    PowerSeries,
    Timing,
    Window,
    agreement_checks,
    assign_tier,
    certify,
    check_declared_meters,
    check_hardware,
    clock_checks,
    cross_boundary_checks,
    idle_checks,
    inventory_checks,
    load_step_checks,
    probe_meter,
    quantum,
    record_series,
    repeatability_checks,
)
from joulebench.formats import (
    CertificationCheck,
    CertificationPlan,
    HardwareCheck,
    HardwareProfile,
    WorkloadSpec,
)
from joulebench.measure.meters.base import DeviceClock
from tests.doubles.fake_clock import FakeClock
from tests.doubles.scripted_meter import ScriptedMeter
from tests.doubles.scripted_records import ScriptedRunner, scripted_record
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD

PLAN = CertificationPlan(
    probe_s=2.0,
    idle_s=3.0,
    idle_bucket_s=0.5,
    step_baseline_s=1.0,
    step_load_s=2.0,
    step_bucket_s=0.1,
    workloads=["a", "b", "c"],
)


class FakeLoad:
    """Records when it was switched on and off on the fake clock; scripted meters read that."""

    description = "fake load"

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.on_at: float | None = None
        self.off_at: float | None = None

    def start(self):
        self.on_at = self.clock()

    def stop(self):
        self.off_at = self.clock()

    def active(self, at: float) -> bool:
        return self.on_at is not None and at >= self.on_at and (self.off_at is None or at < self.off_at)


def wobble(base: float, amplitude: float = 0.01):
    """A base power with a small irregular ripple (real meters never read a flat line)."""
    return lambda t: base * (1 + amplitude * math.sin(7.3 * t) * math.cos(1.7 * t))


def stepped(clock, load, idle_w, busy_w, ramp_s=0.0):
    t0 = clock()

    def power(t):
        at = t0 + t
        if not load.active(at):
            return wobble(idle_w)(t)
        since = at - load.on_at
        fraction = 1.0 if ramp_s == 0 else min(1.0, since / ramp_s)
        return wobble(idle_w + fraction * (busy_w - idle_w))(t)

    return power


def by_kind(checks, kind):
    return [c for c in checks if c.kind == kind]


def one(checks, kind):
    found = by_kind(checks, kind)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- inventory


def test_quantum_finds_the_largest_step_every_change_is_a_multiple_of():
    assert quantum([0.0, 3.6, 10.8, 14.4], (1e-3, 1.0, 3.6, 10.0)) == 3.6
    assert quantum([0.0, 0.001, 0.0035], (1e-3, 1.0)) is None  # 0.0025 is not a whole number of mJ
    assert quantum([5.0, 5.0], (1.0,)) is None  # no change, no evidence


def test_a_good_counter_passes_every_inventory_check():
    clock = FakeClock()
    meter = ScriptedMeter("gpu", wobble(120.0), update_period_s=0.1, clock=clock, ticks=True, resolution_j=1e-3, read_cost_s=0.002)
    checks = inventory_checks(meter, probe_meter(meter, PLAN.probe_s, Timing(clock, clock.sleep)), PLAN)
    assert {c.kind: c.status for c in checks} == {
        "meter-update-period": "pass",
        "meter-read-cost": "pass",
        "meter-resolution": "pass",
        "meter-monotonic": "pass",
    }
    assert one(checks, "meter-update-period").value == pytest.approx(0.1, abs=0.011)
    assert one(checks, "meter-read-cost").value == pytest.approx(0.002)
    assert one(checks, "meter-resolution").value == pytest.approx(1e-3)


def test_a_slow_power_reading_fails_the_update_period():
    clock = FakeClock()
    meter = ScriptedMeter("node", wobble(300.0), method="integrated", update_period_s=3.0, clock=clock, ticks=True)
    checks = inventory_checks(meter, probe_meter(meter, 10.0, Timing(clock, clock.sleep)), PLAN)
    period = one(checks, "meter-update-period")
    assert period.status == "fail" and period.value == pytest.approx(3.0, abs=0.02)
    assert period.boundary == "node"


def test_a_meter_that_never_changes_fails_rather_than_guessing_its_period():
    clock = FakeClock()
    meter = ScriptedMeter("node", 300.0, method="integrated", update_period_s=0.5, clock=clock, ticks=True)
    checks = inventory_checks(meter, probe_meter(meter, 2.0, Timing(clock, clock.sleep)), PLAN)
    assert one(checks, "meter-update-period").status == "fail"
    assert one(checks, "meter-update-period").value is None


def test_an_expensive_read_fails_the_read_cost():
    clock = FakeClock()
    meter = ScriptedMeter("gpu", wobble(120.0), update_period_s=0.1, clock=clock, ticks=True, read_cost_s=0.08)
    checks = inventory_checks(meter, probe_meter(meter, PLAN.probe_s, Timing(clock, clock.sleep)), PLAN)
    cost = one(checks, "meter-read-cost")
    assert cost.status == "fail" and cost.value == pytest.approx(0.08)


def test_a_kwh_counter_fails_the_resolution():
    clock = FakeClock()
    meter = ScriptedMeter("node", wobble(500.0), update_period_s=0.1, clock=clock, ticks=True, resolution_j=3600.0)
    checks = inventory_checks(meter, probe_meter(meter, 40.0, Timing(clock, clock.sleep)), PLAN)
    resolution = one(checks, "meter-resolution")
    assert resolution.status == "fail" and resolution.value == 3600.0
    assert resolution.unit == "J"


def test_a_falling_counter_fails_monotonicity():
    clock = FakeClock()
    meter = ScriptedMeter("cpu", readings=[10.0, 11.0, 12.0, 11.5, 13.0, 14.0], clock=clock)
    checks = inventory_checks(meter, probe_meter(meter, 0.05, Timing(clock, clock.sleep)), PLAN)
    monotonic = one(checks, "meter-monotonic")
    assert monotonic.status == "fail" and monotonic.value == 1.0


def test_an_unreadable_meter_fails_every_inventory_check():
    class Broken(ScriptedMeter):
        def read_energy_j(self):
            raise OSError("permission denied")

    clock = FakeClock()
    checks = inventory_checks(Broken("cpu", clock=clock), probe_meter(Broken("cpu", clock=clock), 0.05, Timing(clock, clock.sleep)), PLAN)
    assert len(checks) == 4 and all(c.status == "fail" and "permission denied" in c.detail for c in checks)


# --------------------------------------------------------------------------- idle, load step


def _idle(meters, clock):
    series = PowerSeries()
    record_series(meters, series, PLAN.idle_s, PLAN.idle_bucket_s, Timing(clock, clock.sleep))
    return series


def test_a_steady_idle_passes_and_an_unsteady_one_fails():
    clock = FakeClock()
    steady = ScriptedMeter("gpu", wobble(120.0, 0.02), clock=clock, update_period_s=0.01, ticks=True, meter_id="steady")
    unsteady = ScriptedMeter(
        "cpu", lambda t: 60.0 if int(t * 2) % 2 else 90.0, clock=clock, update_period_s=0.01, ticks=True, meter_id="unsteady"
    )
    checks = idle_checks([steady, unsteady], _idle([steady, unsteady], clock), PLAN)
    result = {c.subject: c for c in checks}
    assert result["steady"].status == "pass" and result["steady"].value < 0.02
    assert result["unsteady"].status == "fail" and result["unsteady"].value > 0.1
    assert result["steady"].measurements["idle_power_w"] == pytest.approx(120.0, rel=0.01)
    assert result["steady"].measurements["buckets"] == 6


def _step(meters, clock, load):
    timing = Timing(clock, clock.sleep)
    series = PowerSeries()
    record_series(meters, series, PLAN.step_baseline_s, PLAN.step_bucket_s, timing)
    series.marks["load_on"] = len(series.times_s) - 1
    load.start()
    record_series(meters, series, PLAN.step_load_s, PLAN.step_bucket_s, timing)
    load.stop()
    series.marks["load_off"] = len(series.times_s) - 1
    return series


def test_a_load_step_passes_when_power_rises_fast_and_settles():
    clock = FakeClock()
    load = FakeLoad(clock)
    gpu = ScriptedMeter("gpu", stepped(clock, load, 100.0, 400.0), clock=clock, update_period_s=0.01, ticks=True)
    dram = ScriptedMeter("dram", wobble(20.0), clock=clock, update_period_s=0.01, ticks=True)
    checks = load_step_checks([gpu, dram], _step([gpu, dram], clock, load), "gpu", "fake load", PLAN)
    result = {c.boundary: c for c in checks}
    assert result["gpu"].status == "pass"
    assert result["gpu"].value <= 0.2
    assert result["gpu"].measurements["plateau_w"] == pytest.approx(400.0, rel=0.02)
    assert result["dram"].status == "info"  # not loaded by a GPU load: reported, not judged


def test_a_load_step_fails_when_the_meter_does_not_respond():
    clock = FakeClock()
    load = FakeLoad(clock)
    deaf = ScriptedMeter("gpu", wobble(100.0), clock=clock, update_period_s=0.01, ticks=True)
    check = load_step_checks([deaf], _step([deaf], clock, load), "gpu", "fake load", PLAN)[0]
    assert check.status == "fail" and "rose" in check.detail


def test_a_load_step_fails_when_the_meter_lags():
    clock = FakeClock()
    load = FakeLoad(clock)
    plan = PLAN.model_copy(update={"step_load_s": 8.0})
    slow = ScriptedMeter("gpu", stepped(clock, load, 100.0, 400.0, ramp_s=5.0), clock=clock, update_period_s=0.01, ticks=True)
    series = PowerSeries()
    timing = Timing(clock, clock.sleep)
    record_series([slow], series, plan.step_baseline_s, plan.step_bucket_s, timing)
    series.marks["load_on"] = len(series.times_s) - 1
    load.start()
    record_series([slow], series, plan.step_load_s, plan.step_bucket_s, timing)
    series.marks["load_off"] = len(series.times_s) - 1
    check = load_step_checks([slow], series, "gpu", "fake load", plan)[0]
    assert check.status == "fail"
    assert check.value == pytest.approx(4.5, abs=0.15)  # 90% of a 5 s ramp
    assert "took" in check.detail


# --------------------------------------------------------------------------- agreement, cross-boundary


def _window(source, energies, primary):
    return Window(
        source=source,
        energy_j={m: j for m, (_, j) in energies.items()},
        boundary_of={m: b for m, (b, _) in energies.items()},
        primary=primary,
    )


def test_agreement_passes_within_three_percent_and_fails_beyond():
    close = _window("w1", {"nvml-energy:gpu": ("gpu", 1000.0), "nvml-power:gpu": ("gpu", 1020.0)}, {"gpu": "nvml-energy:gpu"})
    far = _window("w2", {"nvml-energy:gpu": ("gpu", 1000.0), "nvml-power:gpu": ("gpu", 950.0)}, {"gpu": "nvml-energy:gpu"})
    assert one(agreement_checks([close], PLAN), "agreement").status == "pass"
    check = one(agreement_checks([close, far], PLAN), "agreement")
    assert check.status == "fail" and check.value == pytest.approx(0.05) and "w2" in check.detail
    assert check.boundary == "gpu"


def test_agreement_needs_two_meters_on_a_boundary():
    alone = _window("w", {"nvml-energy:gpu": ("gpu", 1000.0)}, {"gpu": "nvml-energy:gpu"})
    assert agreement_checks([alone], PLAN) == []


def test_node_energy_must_cover_the_components_inside_it():
    primary = {"node": "bmc", "gpu": "g", "cpu": "c"}
    good = _window("ok", {"bmc": ("node", 600.0), "g": ("gpu", 400.0), "c": ("cpu", 150.0)}, primary)
    short = _window("short", {"bmc": ("node", 500.0), "g": ("gpu", 400.0), "c": ("cpu", 150.0)}, primary)
    assert one(cross_boundary_checks([good], PLAN), "cross-boundary").status == "pass"
    check = one(cross_boundary_checks([good, short], PLAN), "cross-boundary")
    assert check.status == "fail" and check.value == pytest.approx(500 / 550) and check.boundary == "node"
    assert one(cross_boundary_checks([_window("g", {"g": ("gpu", 1.0)}, {"gpu": "g"})], PLAN), "cross-boundary").status == "skip"


# --------------------------------------------------------------------------- repeatability, clock, hardware, declared


@pytest.fixture
def profile():
    return HardwareProfile.model_validate(VALID_PROFILE)


@pytest.fixture
def specs():
    return [WorkloadSpec.model_validate({**VALID_WORKLOAD, "id": name}) for name in ("wa", "wb", "wc")]


def test_repeatability_holds_compute_bound_workloads_to_two_percent(profile, specs):
    steady = [scripted_record(specs[0], profile, "s", r, {"gpu": j}) for r, j in enumerate((1000.0, 1005.0, 995.0), 1)]
    noisy = [scripted_record(specs[1], profile, "s", r, {"gpu": j}) for r, j in enumerate((1000.0, 1100.0, 950.0), 1)]
    host_bound = [
        scripted_record(specs[2], profile, "s", r, {"gpu": j}, utilisation_pct=30.0) for r, j in enumerate((1000.0, 1200.0, 900.0), 1)
    ]
    checks = repeatability_checks({"wa": steady, "wb": noisy, "wc": host_bound}, "gpu", PLAN)
    result = {c.subject: c for c in checks}
    assert result["wa:gpu"].status == "pass" and result["wa:gpu"].value == pytest.approx(0.005, rel=0.01)
    assert result["wb:gpu"].status == "fail" and result["wb:gpu"].boundary == "gpu"
    assert result["wc:gpu"].status == "info" and "not compute-bound" in result["wc:gpu"].detail


class ClockedMeter(ScriptedMeter):
    has_device_clock = True

    def __init__(self, offset_s, **kw):
        super().__init__(**kw)
        self.offset_s = offset_s

    def read_device_clock(self):
        if self.offset_s is None:
            return None
        return DeviceClock(device_unix_s=2_000_000_000.0 + self.offset_s, host_unix_s=2_000_000_000.0, uncertainty_s=1.0)


def test_clock_check_passes_a_synced_device_fails_a_drifting_one_and_skips_one_without_time():
    meters = [
        ClockedMeter(0.4, boundary="node", meter_id="synced"),
        ClockedMeter(-45.0, boundary="node", meter_id="drifting"),
        ClockedMeter(None, boundary="node", meter_id="timeless"),
        ScriptedMeter("gpu"),  # on the host: no clock check at all
    ]
    result = {c.subject: c for c in clock_checks(meters, PLAN)}
    assert set(result) == {"synced", "drifting", "timeless"}
    assert result["synced"].status == "pass" and result["synced"].value == pytest.approx(0.4)
    assert result["drifting"].status == "fail" and result["drifting"].value == pytest.approx(-45.0)
    assert result["timeless"].status == "skip"


def test_hardware_check_passes_a_match_and_fails_a_mismatch():
    assert check_hardware(HardwareCheck(profile_id="p", warnings=["fewer cores"])).status == "pass"
    failed = check_hardware(HardwareCheck(profile_id="p", errors=["GPU 0 is an L4"]))
    assert failed.status == "fail" and failed.boundary is None and "L4" in failed.detail


def test_declared_meters_must_be_present(profile):
    declared = HardwareProfile.model_validate(
        {**VALID_PROFILE, "meters": [{"meter": "nvml-energy", "boundary": "gpu"}, {"meter": "redfish", "boundary": "node"}]}
    )
    checks = check_declared_meters(declared, [ScriptedMeter("gpu", meter_id="nvml-energy:gpu")])
    result = {c.subject: c.status for c in checks}
    assert result == {"nvml-energy:gpu": "pass", "redfish:node": "fail"}


# --------------------------------------------------------------------------- tiers


def _meter(boundary, method="counter"):
    return ScriptedMeter(boundary, method=method, meter_id=f"m:{boundary}")


def _fail(boundary=None, kind="idle-stability"):
    return CertificationCheck(id=f"{kind}/x", kind=kind, subject="x", boundary=boundary, status="fail", detail="scripted failure")


@pytest.mark.parametrize(
    ("kind", "boundaries", "tier"),
    [
        ("gpu", ["node", "gpu"], "A"),
        ("gpu", ["node", "gpu", "cpu", "dram"], "A"),
        ("gpu", ["gpu", "cpu", "dram"], "B"),
        ("gpu", ["gpu", "cpu"], "C"),
        ("gpu", ["gpu"], "C"),
        ("gpu", ["node", "cpu", "dram"], "uncertified"),
        ("cpu", ["node", "cpu", "dram"], "A"),
        ("cpu", ["cpu", "dram"], "B"),
        ("cpu", ["cpu"], "C"),
        ("cpu", [], "uncertified"),
    ],
)
def test_each_tier_follows_from_the_certified_boundaries(kind, boundaries, tier):
    assigned, certified, reasons, _ = assign_tier(kind, [_meter(b) for b in boundaries], [])
    assert assigned == tier
    assert certified == sorted(boundaries)


def test_a_failed_node_check_caps_a_to_what_the_components_allow():
    meters = [_meter(b) for b in ("node", "gpu", "cpu", "dram")]
    tier, certified, reasons, checks = assign_tier("gpu", meters, [_fail("node")])
    assert tier == "B" and "node" not in certified
    assert checks[0].caps_tier == "B"
    assert any("idle-stability/x failed" in r and "at most B" in r for r in reasons)


def test_a_failed_gpu_check_leaves_a_gpu_site_uncertified():
    tier, _, _, checks = assign_tier("gpu", [_meter("gpu"), _meter("node")], [_fail("gpu")])
    assert tier == "uncertified" and checks[0].caps_tier == "uncertified"


def test_a_site_wide_failure_leaves_the_site_uncertified():
    tier, certified, _, checks = assign_tier("gpu", [_meter("node"), _meter("gpu")], [_fail(None, "hardware-profile")])
    assert tier == "uncertified" and certified == ["gpu", "node"]
    assert checks[0].caps_tier == "uncertified"


def test_a_gpu_meter_that_only_integrates_power_earns_no_tier():
    tier, certified, reasons, _ = assign_tier("gpu", [_meter("gpu", method="integrated")], [])
    assert tier == "uncertified" and certified == []
    assert any("energy counter" in r for r in reasons)


# --------------------------------------------------------------------------- the whole certification


def scripted_site(tmp_path, profile, specs, node_overhead_w=80.0, noisy_workload=None):
    """A GPU machine with node, GPU, CPU and DRAM meters and an NVML-power cross-check."""
    clock = FakeClock()
    load = FakeLoad(clock)
    gpu_w = stepped(clock, load, 100.0, 400.0)
    cpu_w, dram_w = wobble(60.0), wobble(15.0)
    kw = dict(clock=clock, update_period_s=0.1, ticks=True, resolution_j=1e-3)
    meters = CertificationMeters(
        primary=[
            ScriptedMeter("gpu", gpu_w, meter_id="nvml-energy:gpu", **kw),
            ScriptedMeter("cpu", cpu_w, meter_id="rapl:cpu", **kw),
            ScriptedMeter("dram", dram_w, meter_id="rapl:dram", **kw),
            ScriptedMeter("node", lambda t: gpu_w(t) + cpu_w(t) + dram_w(t) + node_overhead_w, meter_id="redfish:bmc", **kw),
        ],
        cross_checks=[ScriptedMeter("gpu", gpu_w, method="integrated", meter_id="nvml-power:gpu", **kw)],
    )

    def energy_for(spec, repeat):
        gpu = 3000.0 * (1 + (0.05 if spec.id == noisy_workload and repeat == 2 else 0.001 * repeat))
        return {
            "energy_j": {"gpu": gpu, "cpu": 500.0, "dram": 120.0, "node": gpu + 620.0 + 8 * node_overhead_w},
            "cross_checks": {"gpu": ("nvml-power:gpu", gpu * 0.99)},
            "meter_ids": {"gpu": "nvml-energy:gpu", "cpu": "rapl:cpu", "dram": "rapl:dram", "node": "redfish:bmc"},
        }

    runner = ScriptedRunner(profile, "lab-1", tmp_path, energy_for)
    inputs = CertificationInputs(
        profile=profile,
        site="lab-1",
        hardware=None,
        hardware_check=HardwareCheck(profile_id=profile.id),
        meters=meters,
        load=load,
        load_boundary="gpu",
        workloads=specs,
        run_windows=runner,
        results_dir=tmp_path,
        plan=CertificationPlan(workloads=[s.id for s in specs]),
    )
    return inputs, clock, runner


def test_a_well_metered_gpu_site_earns_tier_a_with_every_check_recorded(tmp_path, profile, specs):
    inputs, clock, runner = scripted_site(tmp_path, profile, specs)
    cert = certify(inputs, Timing(clock, clock.sleep))
    failed = [c for c in cert.checks if c.status == "fail"]
    assert failed == []
    assert cert.tier == "A" and cert.certified_boundaries == ["cpu", "dram", "gpu", "node"]
    assert cert.standard_plan
    kinds = {c.kind for c in cert.checks}
    assert {"hardware-profile", "meter-update-period", "meter-read-cost", "meter-resolution", "meter-monotonic",
            "idle-stability", "load-step", "agreement", "cross-boundary", "repeatability"} <= kinds
    assert runner.calls == [(s.id, 3) for s in specs]
    assert len(cert.records) == 9 and all((tmp_path / "lab-1" / d.path).exists() for d in cert.records)
    assert cert.profile_hash == profile.profile_hash
    agreement = one(cert.checks, "agreement")
    assert agreement.subject == "nvml-power:gpu~nvml-energy:gpu" and agreement.value <= 0.03


def test_a_node_meter_that_misses_part_of_the_machine_caps_the_site_at_b(tmp_path, profile, specs):
    # A node meter reading less than GPU + CPU + DRAM (e.g. a plug on one of two power supplies).
    inputs, clock, _ = scripted_site(tmp_path, profile, specs, node_overhead_w=-200.0)
    cert = certify(inputs, Timing(clock, clock.sleep))
    sanity = one(cert.checks, "cross-boundary")
    assert sanity.status == "fail" and sanity.caps_tier == "B"
    assert cert.tier == "B" and "node" not in cert.certified_boundaries
    assert any("cross-boundary/node failed" in r for r in cert.tier_reasons)


def test_an_unrepeatable_workload_takes_its_boundary_out(tmp_path, profile, specs):
    inputs, clock, _ = scripted_site(tmp_path, profile, specs, noisy_workload="wb")
    cert = certify(inputs, Timing(clock, clock.sleep))
    failed = {c.id for c in cert.checks if c.status == "fail"}
    assert "repeatability/wb:gpu" in failed
    assert cert.tier == "uncertified"  # without a certified GPU boundary a GPU site has no tier


def test_a_short_plan_is_recorded_as_not_standard(tmp_path, profile, specs):
    inputs, clock, _ = scripted_site(tmp_path, profile, specs)
    inputs.plan = CertificationPlan(idle_s=5.0, workloads=[s.id for s in specs])
    cert = certify(inputs, Timing(clock, clock.sleep))
    assert not cert.standard_plan
    assert any("not a standard certification" in r for r in cert.tier_reasons)

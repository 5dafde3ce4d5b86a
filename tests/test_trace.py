"""The background trace: rate cap, power from energy slopes, utilisation, downsampling."""

from __future__ import annotations

import pytest

from joulebench.measure.trace import MAX_POINTS, CpuUtilization, Trace, _mean_blocks
from tests.doubles.scripted_meter import ScriptedMeter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class EnergyOnlyMeter(ScriptedMeter):
    """Like RAPL: an energy counter and no power reading."""

    def read_power_w(self):
        return None


def test_faster_than_10_hz_is_refused():
    with pytest.raises(ValueError, match="10 Hz"):
        Trace([], period_s=0.05)


def test_power_comes_from_the_energy_slope_when_the_source_has_no_power():
    clock = FakeClock()
    meter = EnergyOnlyMeter(boundary="cpu", power_w=lambda t: 80.0 if t < 1.0 else 120.0, clock=clock)
    trace = Trace([meter], period_s=0.1, clock=clock)
    for t in (0.0, 0.5, 1.0, 1.5, 2.0):
        clock.now = t
        trace.sample()
    power = trace.result().power_w["cpu"]
    assert power[0] is None  # no slope from a single read
    assert power[1:] == pytest.approx([80.0, 80.0, 120.0, 120.0], rel=1e-3)


def test_utilisation_columns_and_means():
    clock = FakeClock()
    utils = iter([10.0, 30.0, None, 50.0])
    trace = Trace([ScriptedMeter(clock=clock)], gpu_utilization=lambda: next(utils), clock=clock)
    for t in range(4):
        clock.now = t * 0.1
        trace.sample()
    result = trace.result()
    assert result.gpu_util_pct == [10.0, 30.0, None, 50.0]
    assert result.mean_gpu_util_pct == pytest.approx(30.0)
    assert result.mean_cpu_util_pct is None


def test_long_traces_are_downsampled_by_block_means():
    clock = FakeClock()
    trace = Trace([ScriptedMeter(power_w=5.0, clock=clock)], clock=clock)
    for i in range(MAX_POINTS * 3 + 1):
        clock.now = i * 0.1
        trace.sample()
    result = trace.result()
    assert len(result.t_s) <= MAX_POINTS
    assert result.period_s == pytest.approx(0.4)
    assert _mean_blocks([1.0, 3.0, None, 5.0, None], 2) == [2.0, 5.0, None]


def test_cpu_utilisation_from_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal
    stat.write_text("cpu  100 0 100 700 100 0 0 0\n")
    util = CpuUtilization(stat)
    stat.write_text("cpu  250 0 150 800 100 0 0 0\n")  # +200 busy, +100 idle
    assert util() == pytest.approx(200 / 300 * 100)
    assert util() is None  # no time passed: no share to report


def test_background_thread_samples_at_the_set_period():
    import time

    trace = Trace([ScriptedMeter()], period_s=0.1)
    trace.start()
    time.sleep(0.55)
    result = trace.stop()
    assert 5 <= len(result.t_s) <= 8
    assert all(p == pytest.approx(100.0) for p in result.power_w["gpu"])

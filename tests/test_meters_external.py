"""The shared behaviour of external meters: host time stamps, missed and late samples, window validity."""

from __future__ import annotations

import time

import pytest

from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.external import ExternalMeter, Reading, scrub
from tests.doubles.fake_clock import FakeClock


class ScriptedDevice(ExternalMeter):
    """An external meter whose device answers from a script: a Reading, or an exception to raise."""

    kind = "scripted"

    def __init__(self, answers, method="integrated", clock=None, latency_s=0.0, **kw):
        self.answers = list(answers)
        self.requests = 0
        self.latency_s = latency_s
        clock = clock or FakeClock()
        super().__init__("scripted:dev", "node", method, clock=clock, wall_clock=lambda: 1.7e9 + clock(), **kw)

    def _fetch(self):
        self.requests += 1
        if self.latency_s:
            self._clock.advance(self.latency_s)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def poll_at(meter, times):
    for t in times:
        meter._clock.now = t
        meter.poll_once()


def test_integration_uses_host_time_and_trapezoids_between_good_samples():
    meter = ScriptedDevice([Reading(100.0), Reading(100.0), Reading(200.0), Reading(200.0)])
    poll_at(meter, [0.0, 1.0, 2.0])
    meter._clock.now = 3.0
    energy = meter.read_energy_j()  # a fresh sample at the window edge
    assert energy == pytest.approx(100.0 + 150.0 + 200.0)
    quality = meter.window_quality(0.0, 3.0)
    assert quality.valid and quality.samples == 4 and quality.missed == 0 and quality.max_gap_s == pytest.approx(1.0)


def test_samples_are_stamped_at_the_request_midpoint():
    meter = ScriptedDevice([Reading(50.0)], latency_s=0.4)
    meter._clock.now = 10.0
    sample = meter.poll_once()
    assert sample.t_s == pytest.approx(10.2) and sample.latency_s == pytest.approx(0.4)
    assert sample.wall_s == pytest.approx(1.7e9 + 10.2)


def test_missed_samples_are_recorded_and_a_long_gap_invalidates_the_window():
    down = ConnectionError("timed out")
    meter = ScriptedDevice([Reading(100.0)] * 3 + [down] * 4 + [Reading(100.0)] * 4)
    poll_at(meter, range(0, 11))
    quality = meter.window_quality(0.0, 10.0)
    assert quality.missed == 4
    assert quality.max_gap_s == pytest.approx(5.0)
    assert not quality.valid and "5.00 s > 3.00 s" in quality.reason
    assert "window invalid" in quality.as_warning()
    errors = [s.error for s in meter.samples() if not s.ok]
    assert errors == ["ConnectionError: timed out"] * 4
    # The gap is bridged by the next good sample, so the energy is still the best estimate.
    assert meter.read_energy_j() == pytest.approx(100.0 * 10.0)


def test_a_late_sample_is_marked_but_a_short_gap_keeps_the_window_valid():
    meter = ScriptedDevice([Reading(80.0)])
    poll_at(meter, [0.0, 1.0, 3.0, 4.0])
    late = [s for s in meter.samples() if s.late]
    assert [s.t_s for s in late] == [3.0]
    quality = meter.window_quality(0.0, 4.0)
    assert quality.valid and quality.late == 1 and quality.max_gap_s == pytest.approx(2.0)


def test_a_window_without_samples_inside_is_measured_from_its_edges():
    meter = ScriptedDevice([Reading(80.0)])
    poll_at(meter, [0.0])
    assert meter.window_quality(0.5, 9.5).max_gap_s == pytest.approx(9.5)
    assert not meter.window_quality(0.5, 9.5).valid


def test_a_counter_window_needs_good_edges_not_dense_samples():
    down = TimeoutError("no answer")
    meter = ScriptedDevice(
        [Reading(300.0, energy_j=0.0)] + [down] * 5 + [Reading(300.0, energy_j=1800.0)], method="counter"
    )
    meter._clock.now = 0.0
    start = meter.read_energy_j()
    poll_at(meter, [1, 2, 3, 4, 5])
    meter._clock.now = 6.0
    end = meter.read_energy_j()
    assert end - start == 1800.0
    quality = meter.window_quality(0.0, 6.0)
    assert quality.valid and quality.missed == 5 and quality.max_gap_s == pytest.approx(6.0)


def test_a_failed_counter_read_at_a_window_edge_raises():
    meter = ScriptedDevice([ConnectionError("refused")], method="counter")
    with pytest.raises(MeterError, match="could not read the energy counter: ConnectionError: refused"):
        meter.read_energy_j()


def test_error_texts_never_carry_credentials():
    assert scrub("GET http://admin:hunter2@10.0.0.5/rpc failed") == "GET http://***@10.0.0.5/rpc failed"
    assert scrub("bad password hunter2 for admin", ("hunter2",)) == "bad password *** for admin"
    meter = ScriptedDevice([PermissionError("login hunter2 refused")])
    meter._secrets = lambda: ("hunter2",)
    assert meter.poll_once().error == "PermissionError: login *** refused"


def test_the_poll_thread_samples_on_its_own_and_stops():
    meter = ScriptedDevice([Reading(42.0)], clock=None, poll_period_s=0.02)
    meter._clock = time.monotonic  # a real clock for the real thread
    meter._wall = time.time
    meter.start()
    time.sleep(0.2)
    requests_before = meter.requests
    assert meter.read_power_w() == 42.0 and meter.requests == requests_before  # no request per trace point
    meter.stop()
    assert not meter.polling
    count = len(meter.samples())
    time.sleep(0.06)
    assert len(meter.samples()) == count and count >= 5
    assert repr(meter) == "ScriptedDevice(id='scripted:dev', boundary='node', method='integrated')"

"""The Shelly Gen2 meter against a loopback server that answers as the public API documents."""

from __future__ import annotations

import pytest

from joulebench.certify.checks import clock_checks
from joulebench.formats import CertificationPlan
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.credentials import Credentials, Secret
from joulebench.measure.meters.shelly import ShellyMeter
from tests.doubles.fake_clock import FakeClock
from tests.doubles.fake_shelly import FakeShelly


def test_the_wh_counter_is_the_primary_reading():
    with FakeShelly() as plug:
        plug.apower_w, plug.total_wh = 182.4, 1000.0
        meter = ShellyMeter("shelly:wall", plug.url)
        try:
            assert meter.method == "counter"
            start = meter.read_energy_j()
            plug.apower_w, plug.total_wh = 190.0, 1000.125
            end = meter.read_energy_j()
            assert end - start == pytest.approx(0.125 * 3600)
            assert meter.read_power_w() == 190.0
        finally:
            meter.close()


def test_integrated_mode_integrates_apower_on_host_time():
    with FakeShelly() as plug:
        plug.apower_w, plug.total_wh = 100.0, 5.0
        clock = FakeClock(0.0)
        meter = ShellyMeter("shelly:wall", plug.url, method="integrated", clock=clock)
        try:
            e0 = meter.read_energy_j()
            clock.now = 1.0
            meter.poll_once()
            plug.apower_w = 300.0
            clock.now = 2.0
            assert meter.read_energy_j() - e0 == pytest.approx(100.0 + 200.0)
        finally:
            meter.close()


def test_digest_auth_with_sha256_when_the_device_has_a_password():
    with FakeShelly(password="plug-Pa55") as plug:
        plug.total_wh = 2.0
        meter = ShellyMeter("shelly:wall", plug.url, credentials=Credentials(None, Secret("plug-Pa55")))
        try:
            assert meter.read_energy_j() == pytest.approx(7200.0)
            assert plug.authorized_requests >= 2
            assert "plug-Pa55" not in repr(meter) + str(meter.describe())
        finally:
            meter.close()


def test_a_wrong_or_missing_password_is_refused_at_open():
    with FakeShelly(password="plug-Pa55") as plug:
        with pytest.raises(MeterError, match="401"):
            ShellyMeter("shelly:wall", plug.url, credentials=Credentials(None, Secret("wrong")))
        with pytest.raises(MeterError, match="401"):
            ShellyMeter("shelly:wall", plug.url)


def test_an_unknown_channel_is_refused_at_open():
    with FakeShelly() as plug:
        with pytest.raises(MeterError, match="HTTP 400"):
            ShellyMeter("shelly:wall", plug.url, channel=3)


def test_a_device_that_errors_mid_window_leaves_missed_samples_and_an_invalid_window():
    with FakeShelly() as plug:
        plug.apower_w = 150.0
        clock = FakeClock(0.0)
        meter = ShellyMeter("shelly:wall", plug.url, method="integrated", clock=clock)
        try:
            meter.read_energy_j()
            plug.failing = True
            for t in (1.0, 2.0, 3.0, 4.0):
                clock.now = t
                sample = meter.poll_once()
                assert not sample.ok and "HTTP 500" in sample.error
            quality = meter.window_quality(0.0, 4.0)
            assert not quality.valid and quality.missed == 4
        finally:
            meter.close()


def test_the_plug_clock_is_checked_and_an_unsynced_plug_is_skipped():
    plan = CertificationPlan()
    with FakeShelly() as plug:
        meter = ShellyMeter("shelly:wall", plug.url)
        try:
            assert clock_checks([meter], plan)[0].status == "pass"
            plug.clock_offset_s = 120.0
            drifted = clock_checks([meter], plan)[0]
            assert drifted.status == "fail" and drifted.value == pytest.approx(120.0, abs=2.0)
            plug.time_synced = False
            assert clock_checks([meter], plan)[0].status == "skip"
        finally:
            meter.close()

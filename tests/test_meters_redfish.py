"""The Redfish meter against the real DMTF-style emulator `sushy-static` on loopback.

The test writes a mockup tree (service root, Chassis, EnvironmentMetrics or
the legacy Power resource, a Manager with DateTime) and changes readings by
rewriting files between requests; sushy-static reads each file per request.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from joulebench.certify.checks import clock_checks
from joulebench.formats import CertificationPlan
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.credentials import Credentials, Secret
from joulebench.measure.meters.redfish import RedfishMeter
from tests.doubles.fake_clock import FakeClock

CHASSIS = "/redfish/v1/Chassis/1U"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mockup:
    """A Redfish mockup tree on disk, laid out as sushy-static serves it (<path>/index.json)."""

    def __init__(self, root: Path):
        self.root = root

    def put(self, uri: str, doc: dict) -> None:
        folder = self.root / uri.removeprefix("/redfish/v1").strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "index.json.tmp"
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, folder / "index.json")  # a request never sees half a file

    def service(self, variant: str, manager_time: datetime | None = None) -> None:
        self.put("/redfish/v1", {
            "@odata.id": "/redfish/v1/",
            "RedfishVersion": "1.17.0",
            "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
            "Managers": {"@odata.id": "/redfish/v1/Managers"},
            "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
            "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
        })
        self.put("/redfish/v1/SessionService/Sessions", {"Members": []})
        self.put("/redfish/v1/Chassis", {"Members": [{"@odata.id": CHASSIS}], "Members@odata.count": 1})
        link = {"EnvironmentMetrics": {"@odata.id": f"{CHASSIS}/EnvironmentMetrics"}} if variant == "environment" else {
            "Power": {"@odata.id": f"{CHASSIS}/Power"}
        }
        self.put(CHASSIS, {"@odata.id": CHASSIS, "Id": "1U", **link, "Links": {"ManagedBy": [{"@odata.id": "/redfish/v1/Managers/BMC"}]}})
        stamp = (manager_time or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        self.put("/redfish/v1/Managers/BMC", {"@odata.id": "/redfish/v1/Managers/BMC", "Id": "BMC", "DateTime": stamp})

    def environment(self, watts: float, joules: float | None = None, kwh: float | None = None) -> None:
        doc = {"@odata.id": f"{CHASSIS}/EnvironmentMetrics", "PowerWatts": {"Reading": watts}}
        if joules is not None:
            doc["EnergyJoules"] = {"Reading": joules}
        if kwh is not None:
            doc["EnergykWh"] = {"Reading": kwh}
        self.put(f"{CHASSIS}/EnvironmentMetrics", doc)

    def legacy_power(self, watts: float) -> None:
        self.put(f"{CHASSIS}/Power", {
            "@odata.id": f"{CHASSIS}/Power",
            "PowerControl": [{"MemberId": "0", "Name": "System Power Control", "PowerConsumedWatts": watts}],
        })


@pytest.fixture
def bmc(tmp_path):
    """sushy-static on a free loopback port serving tmp_path/mockup; stopped after the test."""
    mockup = Mockup(tmp_path / "mockup")
    mockup.root.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sushy_tools.static.main", "--interface", "127.0.0.1", "--port", str(port), "--mockup-files", str(mockup.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{url}/redfish/v1", timeout=0.5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("sushy-static did not start") from None
                time.sleep(0.05)
        yield url, mockup, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_environment_metrics_joule_counter_is_read_at_the_window_edges(bmc):
    url, mockup, _ = bmc
    mockup.service("environment")
    mockup.environment(410.0, joules=1_000_000.0)
    meter = RedfishMeter("redfish:bmc", url, timeout_s=1.0)
    try:
        assert (meter.source, meter.counter_unit, meter.method) == ("environment-metrics", "J", "counter")
        start = meter.read_energy_j()
        mockup.environment(420.0, joules=1_004_150.5)
        end = meter.read_energy_j()
        assert end - start == pytest.approx(4150.5)
        assert meter.read_power_w() == 420.0
    finally:
        meter.close()


def test_a_kwh_counter_is_used_only_when_asked_for(bmc):
    url, mockup, _ = bmc
    mockup.service("environment")
    mockup.environment(300.0, kwh=12.345)
    auto = RedfishMeter("redfish:bmc", url)
    assert auto.method == "integrated" and auto.counter_unit == "kWh"
    auto.close()
    counter = RedfishMeter("redfish:bmc", url, method="counter")
    try:
        assert counter.read_energy_j() == pytest.approx(12.345 * 3_600_000)
    finally:
        counter.close()


def test_legacy_power_is_polled_and_integrated_on_host_time(bmc):
    url, mockup, _ = bmc
    mockup.service("legacy")
    mockup.legacy_power(300.0)
    clock = FakeClock(0.0)
    meter = RedfishMeter("redfish:bmc", url, clock=clock)
    try:
        assert (meter.source, meter.method, meter.counter_unit) == ("power", "integrated", None)
        e0 = meter.read_energy_j()
        clock.now = 1.0
        meter.poll_once()
        mockup.legacy_power(500.0)
        clock.now = 2.0
        e1 = meter.read_energy_j()
        assert e1 - e0 == pytest.approx(300.0 + 400.0)
        assert meter.window_quality(0.0, 2.0).valid
    finally:
        meter.close()


def test_a_bmc_that_stops_answering_makes_the_window_invalid(bmc):
    url, mockup, proc = bmc
    mockup.service("legacy")
    mockup.legacy_power(250.0)
    clock = FakeClock(0.0)
    meter = RedfishMeter("redfish:bmc", url, clock=clock, timeout_s=0.5)
    try:
        meter.read_energy_j()
        proc.terminate()
        proc.wait(timeout=5)
        for t in (1.0, 2.0, 3.0, 4.0, 5.0):
            clock.now = t
            assert not meter.poll_once().ok
        quality = meter.window_quality(0.0, 5.0)
        assert not quality.valid and quality.missed == 5
    finally:
        meter.close()


def test_the_bmc_clock_is_checked_against_the_host(bmc):
    url, mockup, _ = bmc
    mockup.service("environment")
    mockup.environment(300.0, joules=5.0)
    meter = RedfishMeter("redfish:bmc", url)
    plan = CertificationPlan()
    try:
        reading = meter.read_device_clock()
        assert abs(reading.offset_s) < 2.0
        assert clock_checks([meter], plan)[0].status == "pass"
        mockup.service("environment", manager_time=datetime.now(timezone.utc) - timedelta(hours=1))
        check = clock_checks([meter], plan)[0]
        assert check.status == "fail" and check.value == pytest.approx(-3600, abs=3)
    finally:
        meter.close()


def test_an_unknown_chassis_names_the_ones_there_are(bmc):
    url, mockup, _ = bmc
    mockup.service("environment")
    mockup.environment(300.0)
    with pytest.raises(MeterError, match="no Chassis 'Blade7'.*it has: 1U"):
        RedfishMeter("redfish:bmc", url, chassis="Blade7")


def test_credentials_are_used_but_never_shown(bmc):
    url, mockup, _ = bmc
    mockup.service("environment")
    mockup.environment(300.0, joules=10.0)
    creds = Credentials("monitor", Secret("s3cret-Pa55"))
    meter = RedfishMeter("redfish:bmc", url, credentials=creds, auth="basic")
    try:
        meter.read_energy_j()
        shown = " ".join([repr(meter), str(meter.describe()), repr(creds), *(str(s) for s in meter.samples())])
        assert "s3cret-Pa55" not in shown and "Secret('***')" in repr(creds)
    finally:
        meter.close()

"""RAPL meters against a powercap tree the tests write, as the kernel lays it out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from joulebench.measure.meters import rapl
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.rapl import RaplMeter, discover, scan_zones
from tests.doubles.powercap import FakePowercapTree


@pytest.fixture
def tree(tmp_path: Path) -> FakePowercapTree:
    return FakePowercapTree(tmp_path / "sys")


def by_boundary(found) -> dict:
    return {m.boundary: m for m in found.meters}


def test_one_socket_package_and_dram_become_two_counter_meters(tree):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    tree.add_zone("intel-rapl:0:0", "dram", energy_uj=1_000_000)
    found = discover(tree.root)
    meters = by_boundary(found)
    assert set(meters) == {"cpu", "dram"}
    cpu, dram = meters["cpu"], meters["dram"]
    assert (cpu.id, cpu.method, cpu.update_period_s) == ("rapl:cpu", "counter", 0.001)
    assert cpu.read_energy_j() == 0.0  # the origin is the first read
    tree.set_energy("intel-rapl:0", 7_500_000)
    tree.set_energy("intel-rapl:0:0", 1_250_000)
    assert cpu.read_energy_j() == pytest.approx(2.5)
    assert dram.read_energy_j() == pytest.approx(0.25)
    assert dram.per_device_energy_j() == {"package-0/dram": pytest.approx(0.25)}
    assert not found.unavailable


def test_two_sockets_are_summed_and_reported_per_package(tree):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=100)
    tree.add_zone("intel-rapl:0:0", "dram", energy_uj=10)
    tree.add_zone("intel-rapl:1", "package-1", energy_uj=200)
    tree.add_zone("intel-rapl:1:0", "dram", energy_uj=20)
    meters = by_boundary(discover(tree.root))
    tree.set_energy("intel-rapl:0", 100 + 3_000_000)
    tree.set_energy("intel-rapl:1", 200 + 1_000_000)
    tree.set_energy("intel-rapl:0:0", 10 + 400_000)
    tree.set_energy("intel-rapl:1:0", 20 + 600_000)
    assert meters["cpu"].read_energy_j() == pytest.approx(4.0)
    assert meters["cpu"].per_device_energy_j() == {"package-0": pytest.approx(3.0), "package-1": pytest.approx(1.0)}
    assert meters["dram"].read_energy_j() == pytest.approx(1.0)
    assert set(meters["dram"].per_device_energy_j()) == {"package-0/dram", "package-1/dram"}


def test_a_falling_counter_is_a_wrap_at_max_energy_range(tree):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=900_000, max_energy_range_uj=1_000_000)
    cpu = by_boundary(discover(tree.root))["cpu"]
    readings = []
    for raw in (950_000, 20_000, 60_000, 990_000, 5_000):
        tree.set_energy("intel-rapl:0", raw)
        readings.append(cpu.read_energy_j())
    # +50k, wrap: 20k + 1M - 950k = +70k, +40k, +930k, wrap: 5k + 1M - 990k = +15k
    assert readings == pytest.approx([0.05, 0.12, 0.16, 1.09, 1.105])
    assert readings == sorted(readings)


def test_the_guard_thread_catches_a_wrap_between_reads_that_would_otherwise_be_lost(tree):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=900_000, max_energy_range_uj=1_000_000)
    zones = [z for z in scan_zones(tree.root).zones if z.boundary == "cpu"]
    meter = RaplMeter("cpu", zones, guard_period_s=0.005)
    counter = meter._counters[0]
    meter.start()
    try:
        for raw in (500_000, 100_000):  # two wraps; a single later read would see only one
            tree.set_energy("intel-rapl:0", raw)
            deadline = time.monotonic() + 5
            while counter._last != raw and time.monotonic() < deadline:
                time.sleep(0.002)
            assert counter._last == raw, "the guard thread never read the counter"
    finally:
        meter.close()
    assert meter.read_energy_j() == pytest.approx(1.2)  # 2 x (1M - 400k)


def test_psys_core_uncore_and_mmio_duplicates_are_not_counted(tree):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=0)
    tree.add_zone("intel-rapl:0:0", "core", energy_uj=0)
    tree.add_zone("intel-rapl:0:1", "uncore", energy_uj=0)
    tree.add_zone("intel-rapl:1", "psys", energy_uj=0)
    tree.add_zone("intel-rapl-mmio:0", "package-0", energy_uj=0)
    found = discover(tree.root)
    cpu = by_boundary(found)["cpu"]
    for zone in ("intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl-mmio:0"):
        tree.set_energy(zone, 1_000_000)
    assert cpu.read_energy_j() == pytest.approx(1.0)  # package-0 once, nothing else
    assert cpu.per_device_energy_j().keys() == {"package-0"}
    notes = "\n".join(found.looked_for)
    assert "intel-rapl-mmio:0 (package-0) repeats intel-rapl:0" in notes
    assert "psys" in notes and "core" in notes and "uncore" in notes
    assert found.unavailable["dram"] == [f"RAPL: no dram zone under {tree.root}"]


def test_permission_denied_is_a_reason_not_a_crash(tree, monkeypatch):
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=0)
    tree.add_zone("intel-rapl:0:0", "dram", energy_uj=0)
    real = rapl._read_int

    def root_only(path: Path) -> int:
        # chmod cannot stop root, who runs these tests in containers; deny the read here instead.
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rapl, "_read_int", root_only)
    found = discover(tree.root)
    assert found.meters == []
    for boundary in ("cpu", "dram"):
        (reason,) = found.unavailable[boundary]
        assert "permission denied" in reason and "energy_uj" in reason and "root" in reason


def test_one_unreadable_socket_refuses_the_boundary_rather_than_undercount(tree, monkeypatch):
    tree.add_zone("intel-rapl:0", "package-0")
    tree.add_zone("intel-rapl:1", "package-1")
    real = rapl._read_int

    def second_socket_denied(path: Path) -> int:
        if "intel-rapl:1" in str(path) and path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rapl, "_read_int", second_socket_denied)
    found = discover(tree.root)
    assert "cpu" not in by_boundary(found)
    assert "intel-rapl:1" in found.unavailable["cpu"][0]


def test_an_absent_powercap_root_explains_itself(tmp_path):
    found = discover(tmp_path / "no-such-powercap")
    assert found.meters == []
    assert set(found.unavailable) == {"cpu", "dram"}
    assert "absent" in found.looked_for[0]


def test_a_counter_that_disappears_mid_run_raises_meter_error(tree):
    directory = tree.add_zone("intel-rapl:0", "package-0")
    cpu = by_boundary(discover(tree.root))["cpu"]
    (directory / "energy_uj").unlink()
    with pytest.raises(MeterError, match="energy_uj") as info:
        cpu.read_energy_j()
    assert isinstance(info.value.__cause__, OSError)

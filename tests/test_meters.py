"""Meter discovery (joulebench.measure.meters): one primary per boundary, and reasons for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from joulebench.measure.meters import (
    MeterDiscovery,
    Probe,
    discover_meters,
    missing_boundaries,
)
from joulebench.measure.meters.base import Meter, MeterError
from joulebench.measure.meters.nvml import nvml_is_available
from tests.doubles.fake_nvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, FakeNvml
from tests.doubles.powercap import FakePowercapTree


class ScriptedNodeMeter(Meter):
    """A stand-in node meter for testing how discovery ranks probes."""

    boundary = "node"
    method = "counter"
    update_period_s = 1.0

    def __init__(self, meter_id: str):
        self.id = meter_id
        self.closed = False

    def read_energy_j(self) -> float:
        return 0.0

    def close(self) -> None:
        self.closed = True


def first_node_probe(options) -> MeterDiscovery:
    return MeterDiscovery(meters=[ScriptedNodeMeter("scripted:first")], looked_for=["first: found"])


def second_node_probe(options) -> MeterDiscovery:
    return MeterDiscovery(meters=[ScriptedNodeMeter("scripted:second")], looked_for=["second: found"])


def broken_probe(options) -> MeterDiscovery:
    raise MeterError("the plug did not answer")


def test_a_machine_without_nvml_or_rapl_has_no_meters_and_says_what_it_looked_for(tmp_path: Path):
    found = discover_meters(tmp_path / "no-powercap", nvml=FakeNvml(init_error=NVML_ERROR_LIBRARY_NOT_FOUND))
    assert found.meters == [] and found.cross_checks == []
    looked = "\n".join(found.looked_for)
    assert "NVML Shared Library Not Found" in looked
    assert f"RAPL: {tmp_path / 'no-powercap'} absent" in looked
    assert "node: no external meter declared" in looked
    missing = {m.boundary: m.reason for m in missing_boundaries(found)}
    assert set(missing) == {"gpu", "cpu", "dram", "node"}
    assert "NVML" in missing["gpu"] and "RAPL" in missing["cpu"] and "RAPL" in missing["dram"]


@pytest.mark.skipif(
    Path("/sys/class/powercap").exists() or nvml_is_available()[0],
    reason="this machine has NVML or RAPL, so real discovery finds something",
)
def test_real_discovery_on_a_machine_without_meters_explains_itself():
    found = discover_meters()
    assert found.meters == []
    assert any(line.startswith("NVML") for line in found.looked_for)
    assert any(line.startswith("RAPL") for line in found.looked_for)


def test_gpu_cpu_and_dram_covered_leaves_only_node_missing(tmp_path: Path):
    tree = FakePowercapTree(tmp_path / "sys")
    tree.add_zone("intel-rapl:0", "package-0")
    tree.add_zone("intel-rapl:0:0", "dram")
    found = discover_meters(tree.root, nvml=FakeNvml([FakeGpu()]), environ={})
    assert sorted(m.id for m in found.meters) == ["nvml-energy:gpu", "rapl:cpu", "rapl:dram"]
    assert [m.id for m in found.cross_checks] == ["nvml-power:gpu"]
    assert [m.boundary for m in missing_boundaries(found)] == ["node"]
    assert found.gpu_utilization is not None
    found.close()


def test_the_first_probe_to_cover_a_boundary_is_primary_and_later_ones_cross_check(tmp_path: Path):
    probes = (
        Probe("first", ("node",), first_node_probe),
        Probe("second", ("node",), second_node_probe),
    )
    found = discover_meters(tmp_path, probes=probes)
    assert [m.id for m in found.meters] == ["scripted:first"]
    assert [m.id for m in found.cross_checks] == ["scripted:second"]
    assert "scripted:second: node already has a primary meter; kept as a cross-check" in found.looked_for
    found.close()
    assert all(m.closed for m in [*found.meters, *found.cross_checks])


def test_a_probe_that_breaks_costs_only_its_own_boundaries(tmp_path: Path):
    def missing_module(options):
        raise ImportError("No module named 'tests.no_such_module'")

    probes = (
        Probe("Plug", ("node",), broken_probe),
        Probe("missing module", ("cpu",), missing_module),
    )
    found = discover_meters(tmp_path, probes=probes)
    missing = {m.boundary: m.reason for m in missing_boundaries(found)}
    assert missing["node"] == "Plug: probe failed: the plug did not answer"
    assert missing["cpu"].startswith("missing module: probe failed")
    # gpu and dram: no probe in this list looks for them.
    assert "no meter for this boundary" in missing["gpu"]

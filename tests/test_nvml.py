"""NVML meters, discovery and GPU detection against a test double of pynvml."""

from __future__ import annotations

import hashlib
import inspect
import time

import pytest

from joulebench.measure.meters import discover_meters, nvml
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.nvml import (
    NvmlEnergyMeter,
    NvmlPowerMeter,
    NvmlSession,
    detect_gpus,
    discover,
    nvml_is_available,
    visible_devices,
)
from tests.doubles.fake_nvml import (
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    FakeGpu,
    FakeNvml,
    FakeNVMLError,
)

NO_ENV: dict[str, str] = {}


def two_gpus(**second) -> FakeNvml:
    """Two H100s; keyword arguments override the second one's facts."""
    return FakeNvml(
        [
            FakeGpu(uuid="GPU-aaaa1111-0000-0000-0000-000000000000", energy_mj=1_000_000, power_mw=300_000),
            FakeGpu(**{"uuid": "GPU-bbbb2222-0000-0000-0000-000000000000", "energy_mj": 5_000, "power_mw": 150_500, **second}),
        ]
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_energy_meter_sums_counters_in_joules_from_millijoules():
    fake = two_gpus()
    meter = NvmlEnergyMeter([0, 1], nvml=fake)
    assert (meter.id, meter.boundary, meter.method, meter.update_period_s) == ("nvml-energy:gpu", "gpu", "counter", 0.1)
    assert meter.read_energy_j() == 0.0
    fake.gpus[0].energy_mj += 1_500  # 1.5 J
    fake.gpus[1].energy_mj += 250
    assert meter.read_energy_j() == pytest.approx(1.75)
    assert meter.per_device_energy_j() == {"0": pytest.approx(1.5), "1": pytest.approx(0.25)}
    assert meter.read_power_w() == pytest.approx(450.5)
    meter.close()
    assert fake.init_count == 0


def test_energy_meter_only_reads_the_devices_it_was_given():
    fake = two_gpus()
    meter = NvmlEnergyMeter([1], nvml=fake)
    fake.gpus[0].energy_mj += 9_000
    fake.gpus[1].energy_mj += 2_000
    assert meter.per_device_energy_j() == {"1": pytest.approx(2.0)}
    meter.close()


def test_power_meter_integrates_each_board_with_the_trapezoid_rule():
    fake = two_gpus()
    clock = FakeClock()
    meter = NvmlPowerMeter([0, 1], nvml=fake, clock=clock)
    assert (meter.id, meter.method) == ("nvml-power:gpu", "integrated")
    assert meter.read_energy_j() == 0.0  # first sample: nothing to integrate yet
    clock.now = 2.0
    fake.gpus[0].power_mw = 500_000  # 300 W -> 500 W over 2 s: 800 J
    fake.gpus[1].power_mw = 150_500  # steady 150.5 W over 2 s: 301 J
    assert meter.per_device_energy_j() == {"0": pytest.approx(800.0), "1": pytest.approx(301.0)}
    clock.now = 3.0
    assert meter.read_energy_j() == pytest.approx(800 + 500 + 301 + 150.5)
    meter.close()


def test_power_meter_polls_on_its_own_thread_between_start_and_stop():
    fake = two_gpus()
    meter = NvmlPowerMeter([0], nvml=fake)
    meter.start()
    try:
        deadline = time.monotonic() + 5
        while fake.calls.count("nvmlDeviceGetPowerUsage") < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert meter.read_energy_j() > 0
    finally:
        meter.close()
    assert fake.calls.count("nvmlDeviceGetPowerUsage") >= 3
    assert fake.init_count == 0


def test_nvml_errors_become_meter_errors_with_the_vendor_error_as_cause():
    fake = two_gpus()
    meter = NvmlEnergyMeter([0, 1], nvml=fake)
    fake.gpus[1].fail["nvmlDeviceGetTotalEnergyConsumption"] = NVML_ERROR_GPU_IS_LOST
    with pytest.raises(MeterError, match="nvmlDeviceGetTotalEnergyConsumption failed: GPU is lost") as info:
        meter.read_energy_j()
    assert isinstance(info.value.__cause__, FakeNVMLError)
    assert info.value.__cause__.value == NVML_ERROR_GPU_IS_LOST
    meter.close()


def test_availability_probe_explains_a_missing_library_and_a_missing_driver(monkeypatch):
    ok, why = nvml_is_available(FakeNvml(init_error=NVML_ERROR_LIBRARY_NOT_FOUND))
    assert not ok and "NVML Shared Library Not Found" in why

    def not_installed():
        raise ImportError("No module named 'pynvml'")

    monkeypatch.setattr(nvml, "load_pynvml", not_installed)
    ok, why = nvml_is_available()
    assert not ok and "not installed" in why
    found = discover()
    assert found.meters == []
    assert found.unavailable["gpu"] == ["NVML energy counter: pynvml (package nvidia-ml-py) is not installed"]

    fake = two_gpus()
    ok, why = nvml_is_available(fake)
    assert ok and "580.159.04" in why and "2 GPU(s)" in why
    assert fake.init_count == 0  # the probe shut NVML down again


def test_discovery_with_counters_everywhere_makes_the_counter_primary_and_power_a_cross_check():
    fake = two_gpus()
    found = discover(fake, NO_ENV)
    assert [(m.id, m.indices) for m in found.meters] == [("nvml-energy:gpu", [0, 1])]
    assert [(m.id, m.indices) for m in found.cross_checks] == [("nvml-power:gpu", [0, 1])]
    fake.gpus[0].utilization_gpu_pct, fake.gpus[1].utilization_gpu_pct = 90, 40
    assert found.gpu_utilization() == pytest.approx(65.0)
    found.close()
    assert fake.init_count == 0


def test_a_board_without_the_counter_makes_power_integration_primary_for_all():
    fake = two_gpus(energy_mj=None, name="Tesla P100-PCIE-16GB")
    found = discover(fake, NO_ENV)
    (primary,) = found.meters
    assert (primary.id, primary.method, primary.indices) == ("nvml-power:gpu", "integrated", [0, 1])
    assert [(m.id, m.indices) for m in found.cross_checks] == [("nvml-energy:gpu", [0])]
    notes = "\n".join(found.looked_for)
    assert "GPU 1 (Tesla P100-PCIE-16GB): energy counter not supported by this board" in notes
    assert "power integration (nvml-power:gpu) is the primary gpu meter" in notes
    found.close()


def test_no_counter_and_no_power_leaves_the_gpu_boundary_unmetered_with_a_reason():
    fake = FakeNvml([FakeGpu(energy_mj=None, power_mw=None)])
    found = discover(fake, NO_ENV)
    assert found.meters == [] and found.cross_checks == []
    assert "neither a readable energy counter nor a power reading" in found.unavailable["gpu"][0]


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ("1", [1]),
        ("1,0", [1, 0]),
        ("GPU-bbbb", [1]),  # a unique UUID prefix, as CUDA accepts
        ("bbbb2222", [1]),  # CUDA also accepts the UUID without its GPU- prefix
        ("0,7,1", [0]),  # CUDA ignores everything after the first invalid entry
        ("", []),
        ("-1", []),
        ("MIG-0c5a3b1e-aaaa-bbbb-cccc-dddddddddddd", []),
    ],
)
def test_cuda_visible_devices_selects_what_is_metered(listed, expected):
    fake = two_gpus()
    with NvmlSession(fake) as session:
        assert visible_devices(session, {"CUDA_VISIBLE_DEVICES": listed}).indices == expected
        assert visible_devices(session, {}).indices == [0, 1]


def test_hidden_gpus_give_no_meter_and_say_why():
    found = discover(two_gpus(), {"CUDA_VISIBLE_DEVICES": ""})
    assert found.meters == []
    assert found.unavailable["gpu"] == ["NVML: no GPU is visible to this process"]


def test_discovery_meters_only_the_visible_gpu():
    fake = two_gpus()
    found = discover(fake, {"CUDA_VISIBLE_DEVICES": "1"})
    (primary,) = found.meters
    fake.gpus[0].energy_mj += 10_000
    assert primary.per_device_energy_j() == {"1": 0.0}
    found.close()


def test_detect_gpus_reports_facts_without_publishing_the_uuid():
    fake = two_gpus(enforced_power_limit_mw=None, management_power_limit_mw=600_000, memory_total_bytes=143771 * 2**20, name="NVIDIA H200")
    gpus, driver = detect_gpus(fake, NO_ENV)
    assert driver == "580.159.04"
    first, second = gpus
    assert (first.index, first.name, first.memory_gib, first.power_limit_w) == (0, "NVIDIA H100 80GB HBM3", 79.65, 700.0)
    # The enforced limit is not supported there: the management limit stands in.
    assert (second.name, second.memory_gib, second.power_limit_w) == ("NVIDIA H200", 140.4, 600.0)
    uuid = fake.gpus[1].uuid
    assert second.uuid_hash == hashlib.sha256(uuid.encode()).hexdigest()[:12]
    assert uuid not in second.model_dump_json()
    assert fake.init_count == 0


def test_detect_gpus_without_nvml_returns_nothing():
    assert detect_gpus(FakeNvml(init_error=NVML_ERROR_LIBRARY_NOT_FOUND)) == ([], None)


def test_discover_meters_takes_the_nvml_double_through_the_package_entry_point(tmp_path):
    found = discover_meters(tmp_path / "absent", nvml=two_gpus(), environ=NO_ENV)
    assert [m.id for m in found.meters] == ["nvml-energy:gpu"]
    assert set(found.unavailable) == {"cpu", "dram", "node"}
    found.close()


def test_the_double_mirrors_the_real_pynvml_names_and_arities():
    pynvml = pytest.importorskip("pynvml")
    for name, member in inspect.getmembers(FakeNvml, inspect.isfunction):
        if not name.startswith("nvml"):
            continue
        real = getattr(pynvml, name, None)
        assert real is not None, f"pynvml has no {name}"
        fake_params = list(inspect.signature(member).parameters)[1:]  # drop self
        assert len(fake_params) == len(inspect.signature(real).parameters), name
    for constant in ("NVML_ERROR_UNINITIALIZED", "NVML_ERROR_NOT_SUPPORTED", "NVML_ERROR_LIBRARY_NOT_FOUND", "NVML_ERROR_GPU_IS_LOST"):
        assert getattr(FakeNvml, constant) == getattr(pynvml, constant), constant
    assert nvml.NVML_ERROR_NOT_SUPPORTED == pynvml.NVML_ERROR_NOT_SUPPORTED

"""Hardware detection from written /proc files and an NVML double; checks against profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from joulebench.catalog import PROFILES_DIR, get_profile, load_profiles
from joulebench.errors import HardwareMismatchError
from joulebench.formats import DetectedGpu, DetectedHardware
from joulebench.measure.hardware import (
    check_against_profile,
    detect_hardware,
    matches,
    read_cpuinfo,
    read_memory_gib,
    require_match,
)
from tests.doubles.fake_nvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeGpu, FakeNvml

REQUIRED_PROFILES = {
    "nvidia-h100-sxm",
    "nvidia-h200-sxm",
    "nvidia-a100-sxm4-80gb",
    "nvidia-l4",
    "rtx4090-i9-13900k",
    "x86-cpu-server",
}


def cpuinfo_text(model: str, layout: list[tuple[int, int]]) -> str:
    """One /proc/cpuinfo block per (physical id, core id) logical processor, as x86 Linux writes it."""
    blocks = []
    for processor, (physical, core) in enumerate(layout):
        blocks.append(
            f"processor\t: {processor}\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\n"
            f"physical id\t: {physical}\nsiblings\t: {len(layout)}\ncore id\t\t: {core}\n"
            f"flags\t\t: fpu vme de pse tsc msr pae mce\n"
        )
    return "\n".join(blocks) + "\n"


def meminfo_text(kib: int) -> str:
    return f"MemTotal:       {kib} kB\nMemFree:        1234 kB\nMemAvailable:   2345 kB\n"


def test_cpuinfo_counts_sockets_cores_and_threads(tmp_path: Path):
    # 2 sockets x 2 cores x 2 hyperthreads
    layout = [(s, c) for _ in range(2) for s in range(2) for c in range(2)]
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo_text("Intel(R) Xeon(R) Platinum 8480+", layout))
    facts = read_cpuinfo(path)
    assert (facts.model, facts.sockets, facts.cores, facts.threads) == ("Intel(R) Xeon(R) Platinum 8480+", 2, 4, 8)


def test_cpuinfo_counts_a_hybrid_desktop_part(tmp_path: Path):
    # i9-13900K: 8 P-cores with two threads each, 16 E-cores with one.
    layout = [(0, c) for c in range(8) for _ in range(2)] + [(0, 8 + c) for c in range(16)]
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo_text("13th Gen Intel(R) Core(TM) i9-13900K", layout))
    facts = read_cpuinfo(path)
    assert (facts.sockets, facts.cores, facts.threads) == (1, 24, 32)


def test_cpuinfo_without_topology_leaves_sockets_and_cores_unknown(tmp_path: Path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n\n")
    facts = read_cpuinfo(path)
    assert (facts.model, facts.sockets, facts.cores, facts.threads) == (None, None, None, 2)
    assert read_cpuinfo(tmp_path / "absent").threads is None


def test_meminfo_total_in_gib(tmp_path: Path):
    path = tmp_path / "meminfo"
    path.write_text(meminfo_text(131_072_000))
    assert read_memory_gib(path) == 125.0
    assert read_memory_gib(tmp_path / "absent") is None


def test_detect_hardware_combines_nvml_and_proc(tmp_path: Path):
    (tmp_path / "cpuinfo").write_text(cpuinfo_text("Intel(R) Xeon(R) Platinum 8480+", [(0, c) for c in range(16)]))
    (tmp_path / "meminfo").write_text(meminfo_text(134_217_728))
    fake = FakeNvml([FakeGpu(name="NVIDIA H200", memory_total_bytes=143771 * 2**20)], driver="580.159.04")
    hw = detect_hardware(tmp_path / "cpuinfo", tmp_path / "meminfo", nvml=fake, environ={})
    assert [g.name for g in hw.gpus] == ["NVIDIA H200"]
    assert (hw.gpu_driver, hw.cpu_sockets, hw.cpu_cores, hw.cpu_threads, hw.memory_gib) == ("580.159.04", 1, 16, 16, 128.0)
    no_gpu = detect_hardware(tmp_path / "cpuinfo", tmp_path / "meminfo", nvml=FakeNvml(init_error=NVML_ERROR_LIBRARY_NOT_FOUND))
    assert (no_gpu.gpus, no_gpu.gpu_driver) == ([], None)


# --------------------------------------------------------------------------- checks


def h100_node(**overrides) -> DetectedHardware:
    """What a full match for the nvidia-h100-sxm profile looks like."""
    facts = dict(
        gpus=[DetectedGpu(index=0, name="NVIDIA H100 80GB HBM3", memory_gib=79.65, power_limit_w=700.0)],
        gpu_driver="580.159.04",
        cpu_model="Intel(R) Xeon(R) Platinum 8480+",
        cpu_sockets=2,
        cpu_cores=112,
        cpu_threads=224,
        memory_gib=2015.6,
    )
    facts.update(overrides)
    return DetectedHardware(**facts)


def test_a_matching_machine_passes_without_warnings():
    check = check_against_profile(h100_node(), get_profile("nvidia-h100-sxm"))
    assert check.ok and check.errors == [] and check.warnings == []
    require_match(check)  # does not raise


def test_the_wrong_accelerator_model_is_an_error():
    detected = h100_node(gpus=[DetectedGpu(index=0, name="NVIDIA A100-SXM4-80GB", memory_gib=80.0, power_limit_w=400.0)])
    check = check_against_profile(detected, get_profile("nvidia-h100-sxm"))
    assert not check.ok
    assert "GPU 0 is 'NVIDIA A100-SXM4-80GB'" in check.errors[0]
    with pytest.raises(HardwareMismatchError) as info:
        require_match(check)
    assert info.value.exit_code == 4
    assert "nvidia-h100-sxm" in str(info.value) and "A100" in str(info.value)


def test_the_wrong_accelerator_count_is_an_error():
    gpu = h100_node().gpus[0]
    check = check_against_profile(h100_node(gpus=[gpu, gpu.model_copy(update={"index": 1})]), get_profile("nvidia-h100-sxm"))
    assert check.errors == ["profile 'nvidia-h100-sxm' declares 1 x H100 SXM5 80GB; 2 GPU(s) are visible"]


def test_a_gpu_profile_on_a_machine_without_gpus_is_an_error():
    check = check_against_profile(h100_node(gpus=[]), get_profile("nvidia-h100-sxm"))
    assert len(check.errors) == 1 and "no GPU is visible" in check.errors[0]


def test_smaller_differences_are_warnings_not_errors():
    detected = h100_node(
        gpus=[DetectedGpu(index=0, name="NVIDIA H100 80GB HBM3", memory_gib=70.0, power_limit_w=600.0)],
        cpu_model="AMD EPYC 9654 96-Core Processor",
        cpu_sockets=1,
        cpu_cores=16,
        memory_gib=125.0,
    )
    check = check_against_profile(detected, get_profile("nvidia-h100-sxm"))
    assert check.ok
    joined = "\n".join(check.warnings)
    for expected in ("70.0 GiB", "power limit is 600 W", "AMD EPYC 9654", "1 CPU socket(s)", "16 CPU cores", "125.0 GiB RAM"):
        assert expected in joined
    assert len(check.warnings) == 6


def test_tolerances_keep_small_differences_quiet():
    # GPU memory 4% low, RAM 9% low: within 5% and 10%.
    detected = h100_node(
        gpus=[DetectedGpu(index=0, name="NVIDIA H100 80GB HBM3", memory_gib=76.8, power_limit_w=700.0)],
        memory_gib=2048 * 0.91,
    )
    assert check_against_profile(detected, get_profile("nvidia-h100-sxm")).warnings == []


def test_a_cpu_profile_with_gpus_visible_warns():
    server = DetectedHardware(
        gpus=[DetectedGpu(index=0, name="NVIDIA L4")],
        cpu_model="Intel(R) Xeon(R) Gold 6430",
        cpu_sockets=2,
        cpu_cores=64,
        memory_gib=503.0,
    )
    check = check_against_profile(server, get_profile("x86-cpu-server"))
    assert check.ok
    assert len(check.warnings) == 1 and "cpu profile" in check.warnings[0]


def test_matching_is_case_insensitive_and_whole_word():
    assert matches("NVIDIA L4", ["nvidia l4"])
    assert not matches("NVIDIA L40S", ["NVIDIA L4"])
    assert matches("Intel(R) Xeon(R) Platinum 8480+", ["Platinum 8480+"])
    assert matches("13th Gen Intel(R) Core(TM) i9-13900K", ["i9-13900K"])
    assert not matches("13th Gen Intel(R) Core(TM) i9-13900KF", ["i9-13900K"])
    assert not matches(None, ["anything"])


# --------------------------------------------------------------------------- profiles


def test_every_profile_loads_and_the_required_ones_exist():
    profiles = {p.id: p for p in load_profiles()}
    assert REQUIRED_PROFILES <= set(profiles)
    for profile in profiles.values():
        assert any("http" in source for source in profile.sources), profile.id
        text = (PROFILES_DIR / f"{profile.id}.yaml").read_text()
        comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
        assert any("http" in line for line in comments), f"{profile.id}: no source URL in a comment"


def test_each_gpu_profile_recognises_its_own_board_and_not_the_others():
    nvml_names = {
        "nvidia-h100-sxm": "NVIDIA H100 80GB HBM3",
        "nvidia-h200-sxm": "NVIDIA H200",
        "nvidia-a100-sxm4-80gb": "NVIDIA A100-SXM4-80GB",
        "nvidia-l4": "NVIDIA L4",
        "rtx4090-i9-13900k": "NVIDIA GeForce RTX 4090",
    }
    # Profiles of the same board in another count (a whole 8-GPU node) recognise that board.
    same_board = {"nvidia-dgx-h100": "nvidia-h100-sxm"}
    profiles = {p.id: p for p in load_profiles() if p.kind == "gpu"}
    for profile_id, profile in profiles.items():
        board = same_board.get(profile_id, profile_id)
        for other_id, name in nvml_names.items():
            assert matches(name, profile.accelerator.match) == (other_id == board), (profile_id, name)
    assert not matches("NVIDIA L40S", profiles["nvidia-l4"].accelerator.match)
    assert not matches("NVIDIA H100 PCIe", profiles["nvidia-h100-sxm"].accelerator.match)


def test_the_measured_h200_passes_its_profile():
    # design.md: power limit 700 W; NVML's 143771 MiB; a 16-core, 125 GB VM slice.
    detected = DetectedHardware(
        gpus=[DetectedGpu(index=0, name="NVIDIA H200", memory_gib=140.4, power_limit_w=700.0)],
        cpu_model="Intel(R) Xeon(R) Platinum 8480+",
        cpu_sockets=1,
        cpu_cores=16,
        memory_gib=125.0,
    )
    check = check_against_profile(detected, get_profile("nvidia-h200-sxm"))
    assert check.ok
    assert all("GPU" not in w for w in check.warnings)  # the slice only warns about CPU and RAM

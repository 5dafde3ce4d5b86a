"""What machine this really is, and whether it is the hardware profile it claims to be.

Detection reads NVML (GPUs visible to this process), /proc/cpuinfo and
/proc/meminfo; every path is a parameter so tests can write their own. The
check against a profile is strict where a wrong answer would mislabel every
number (accelerator model and count: errors) and lenient where machines of the
same kind legitimately differ (memory, power limit, CPU, RAM: warnings kept in
the run record). Cloud machines are often a slice of a bigger host, so CPU and
RAM warnings there are expected and show the real values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from joulebench.errors import HardwareMismatchError
from joulebench.formats import DetectedHardware, HardwareCheck, HardwareProfile

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")

GPU_MEMORY_TOLERANCE = 0.05  # NVML reports slightly less than the datasheet (ECC, reserved)
RAM_TOLERANCE = 0.10  # MemTotal excludes what firmware and the kernel keep
POWER_LIMIT_TOLERANCE_W = 1.0


@dataclass(frozen=True)
class CpuFacts:
    model: str | None = None
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None


def read_cpuinfo(path: Path = CPUINFO) -> CpuFacts:
    """Model, sockets (distinct physical ids), cores (distinct physical id, core id), threads."""
    try:
        text = path.read_text()
    except OSError:
        return CpuFacts()
    processors = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if "processor" in fields:
            processors.append(fields)
    if not processors:
        return CpuFacts()
    sockets = {p["physical id"] for p in processors if "physical id" in p}
    has_topology = all("physical id" in p and "core id" in p for p in processors)
    cores = {(p["physical id"], p["core id"]) for p in processors} if has_topology else set()
    return CpuFacts(
        model=processors[0].get("model name"),
        sockets=len(sockets) or None,
        cores=len(cores) or None,
        threads=len(processors),
    )


def read_memory_gib(path: Path = MEMINFO) -> float | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])  # the kernel writes "kB" and means KiB
                return round(kib / 2**20, 2)
    except (OSError, ValueError, IndexError):
        return None
    return None


def detect_hardware(
    cpuinfo: Path = CPUINFO,
    meminfo: Path = MEMINFO,
    nvml: ModuleType | None = None,
    environ: Mapping[str, str] | None = None,
) -> DetectedHardware:
    from joulebench.measure.meters.nvml import detect_gpus

    gpus, driver = detect_gpus(nvml, environ)
    cpu = read_cpuinfo(cpuinfo)
    return DetectedHardware(
        gpus=gpus,
        gpu_driver=driver,
        cpu_model=cpu.model,
        cpu_sockets=cpu.sockets,
        cpu_cores=cpu.cores,
        cpu_threads=cpu.threads,
        memory_gib=read_memory_gib(meminfo),
    )


def matches(name: str | None, patterns: list[str]) -> bool:
    """Whether any pattern occurs in the name, case-insensitively, as a whole word.

    Whole word where the pattern starts or ends with a letter or digit, so that
    "NVIDIA L4" does not match "NVIDIA L40S" nor "i9-13900K" an "i9-13900KF".
    """
    if name is None:
        return False
    for pattern in patterns:
        before = r"(?<![0-9a-z])" if pattern[:1].isalnum() else ""
        after = r"(?![0-9a-z])" if pattern[-1:].isalnum() else ""
        if re.search(before + re.escape(pattern) + after, name, re.IGNORECASE):
            return True
    return False


def _off_by(actual: float, expected: float) -> float:
    return abs(actual - expected) / expected


# A certified run or certification refuses a machine with less than this share of the profile's cores or RAM.
MATERIAL_SHARE = 0.9


def check_against_profile(detected: DetectedHardware, profile: HardwareProfile, certified: bool = False) -> HardwareCheck:
    """Errors where the machine is not the profile; warnings where machines of the same kind differ.

    `certified` (a certified run, `joulebench certify`): a machine materially
    smaller than the profile (under 90% of its CPU cores or of its RAM) is an
    error too, as another accelerator always is: a certificate must not lend a
    2-core VM the profile of a 64-core server.
    """
    errors: list[str] = []
    warnings: list[str] = []
    gpus = detected.gpus
    accel = profile.accelerator

    if accel is not None:
        if not gpus:
            errors.append(
                f"profile {profile.id!r} declares {accel.count} x {accel.model}, but no GPU is visible "
                "(no NVML, or CUDA_VISIBLE_DEVICES hides them)"
            )
        elif len(gpus) != accel.count:
            errors.append(f"profile {profile.id!r} declares {accel.count} x {accel.model}; {len(gpus)} GPU(s) are visible")
        for gpu in gpus:
            if not matches(gpu.name, accel.match):
                errors.append(
                    f"GPU {gpu.index} is {gpu.name!r}, which matches none of the profile's accelerator.match {accel.match}"
                )
                continue
            if gpu.memory_gib is not None and _off_by(gpu.memory_gib, accel.memory_gib) > GPU_MEMORY_TOLERANCE:
                warnings.append(
                    f"GPU {gpu.index} has {gpu.memory_gib:.1f} GiB; the profile says {accel.memory_gib:g} GiB "
                    f"(more than {GPU_MEMORY_TOLERANCE:.0%} apart)"
                )
            if gpu.power_limit_w is not None and abs(gpu.power_limit_w - accel.tdp_w) > POWER_LIMIT_TOLERANCE_W:
                warnings.append(
                    f"GPU {gpu.index} power limit is {gpu.power_limit_w:g} W; the profile's TDP is {accel.tdp_w:g} W"
                )
    elif gpus:
        warnings.append(
            f"profile {profile.id!r} is a cpu profile, but {len(gpus)} GPU(s) are visible ({gpus[0].name}); "
            "their draw is outside this profile's boundaries"
        )

    cpu = profile.cpu
    if detected.cpu_model is None:
        warnings.append("CPU model not detected")
    elif not matches(detected.cpu_model, cpu.match):
        warnings.append(f"CPU is {detected.cpu_model!r}; the profile says {cpu.model} (cpu.match {cpu.match})")
    if detected.cpu_sockets is not None and detected.cpu_sockets != cpu.sockets:
        warnings.append(f"{detected.cpu_sockets} CPU socket(s) detected; the profile says {cpu.sockets}")
    expected_cores = cpu.sockets * cpu.cores_per_socket
    if detected.cpu_cores is not None and detected.cpu_cores != expected_cores:
        text = (f"{detected.cpu_cores} CPU cores detected; the profile says {expected_cores} "
                f"({cpu.sockets} x {cpu.cores_per_socket})")
        if certified and detected.cpu_cores < MATERIAL_SHARE * expected_cores:
            errors.append(text + f": materially smaller (under {MATERIAL_SHARE:.0%}); a certified run needs the profile's machine")
        else:
            warnings.append(text)
    elif certified and detected.cpu_cores is None:
        warnings.append("CPU cores not detected")
    total = profile.memory.total_gib
    if detected.memory_gib is None:
        warnings.append("RAM size not detected")
    elif _off_by(detected.memory_gib, total) > RAM_TOLERANCE:
        text = f"{detected.memory_gib:.1f} GiB RAM detected; the profile says {total:g} GiB (more than {RAM_TOLERANCE:.0%} apart)"
        if certified and detected.memory_gib < (1 - RAM_TOLERANCE) * total:
            errors.append(text + ": materially smaller; a certified run needs the profile's machine")
        else:
            warnings.append(text)
    return HardwareCheck(profile_id=profile.id, errors=errors, warnings=warnings)


def require_match(check: HardwareCheck) -> None:
    """Stop before measuring anything when the machine is not the profile it claims to be."""
    if check.errors:
        listed = "\n".join(f"  - {e}" for e in check.errors)
        raise HardwareMismatchError(
            f"this machine does not match hardware profile {check.profile_id!r}:\n{listed}\n"
            "Choose the profile that describes this machine (joulebench profiles list), or add one."
        )

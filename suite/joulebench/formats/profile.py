"""The hardware profile: what a site declares its machine to be (profiles/<id>.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import TFLOPS, Boundary, GiB, Identifier, Line, Strict, Watts, content_hash

# A match pattern: a few words of a device name.
MatchWord = Annotated[Line, Field(min_length=1, max_length=100)]


class PeakThroughput(Strict):
    """Dense (no sparsity) peak per device, from the vendor datasheet."""

    float32: TFLOPS
    tf32: TFLOPS | None = None
    bfloat16: TFLOPS
    float16: TFLOPS

    def highest_tflops(self) -> float:
        return max(v for v in (self.float32, self.tf32, self.bfloat16, self.float16) if v is not None)


class AcceleratorSpec(Strict):
    vendor: Literal["nvidia"]
    model: Line
    # Case-insensitive whole words, any of which identifies this model in the
    # name NVML reports (e.g. "H100"; "L4" does not match "L40S").
    match: list[MatchWord] = Field(min_length=1, max_length=50)
    count: int = Field(gt=0, le=1024)
    memory_gib: Annotated[GiB, Field(le=65_536)]
    tdp_w: Annotated[Watts, Field(le=10_000)]  # per device
    peak_tflops: PeakThroughput


class CpuSpec(Strict):
    model: Line
    match: list[MatchWord] = Field(min_length=1, max_length=50)
    sockets: int = Field(gt=0, le=64)
    cores_per_socket: int = Field(gt=0, le=4096)
    threads_per_core: int = Field(gt=0, le=8)
    tdp_w: Annotated[Watts, Field(le=10_000)]  # per socket


class MemorySpec(Strict):
    total_gib: GiB
    dimms: int | None = Field(default=None, gt=0, le=100_000)


class DeclaredMeter(Strict):
    meter: Literal["nvml-energy", "nvml-power", "rapl", "redfish", "shelly", "scpi"]
    boundary: Boundary


# Generous ceilings of what the declared hardware can draw, used to bound a record's mean power.
# A device can exceed its TDP for moments and a power limit can be raised; twice the declared
# figure, plus what a chassis needs on top (fans, disks, board, power supply losses), is physics,
# not a tolerance.
POWER_HEADROOM = 2.0
DRAM_W_PER_GIB = 1.0  # real DIMMs draw well under 0.5 W per GiB
NODE_OVERHEAD_W = 500.0


class HardwareProfile(Strict):
    id: Identifier
    name: Line
    kind: Literal["gpu", "cpu"]
    accelerator: AcceleratorSpec | None = None
    cpu: CpuSpec
    memory: MemorySpec
    pue: float = Field(default=1.0, ge=1.0, le=3.0)
    grid_gco2_per_kwh: float = Field(default=400.0, ge=0, le=5000)
    meters: list[DeclaredMeter] = Field(default_factory=list, max_length=64)
    sources: list[Line] = Field(min_length=1, max_length=100, description="where the numbers come from")

    @model_validator(mode="after")
    def _kind_matches_accelerator(self) -> HardwareProfile:
        if self.kind == "gpu" and self.accelerator is None:
            raise ValueError("a gpu profile needs an accelerator section")
        if self.kind == "cpu" and self.accelerator is not None:
            raise ValueError("a cpu profile has no accelerator section")
        return self

    @property
    def profile_hash(self) -> str:
        return content_hash(self)

    @property
    def cores(self) -> int:
        return self.cpu.sockets * self.cpu.cores_per_socket

    def max_power_w(self, boundary: str) -> float | None:
        """The most this hardware could draw at a boundary, generously (POWER_HEADROOM x the declared figures).

        None for the gpu boundary of a profile that declares no accelerator: a GPU the profile does not
        describe (a cpu profile on a machine that has one) has no declared draw to bound it by.
        """
        acc = self.accelerator
        if boundary == "gpu" and acc is None:
            return None
        gpu = acc.count * acc.tdp_w if acc else 0.0
        cpu = self.cpu.sockets * self.cpu.tdp_w
        dram = self.memory.total_gib * DRAM_W_PER_GIB + 50.0
        if boundary == "gpu":
            return POWER_HEADROOM * gpu
        if boundary == "cpu":
            return POWER_HEADROOM * cpu
        if boundary == "dram":
            return POWER_HEADROOM * dram
        return POWER_HEADROOM * (gpu + cpu + dram + NODE_OVERHEAD_W)

    def max_flops_per_s(self) -> float:
        """The most FLOP/s the machine could execute: 4 x the accelerators' highest dense peak, plus the CPUs'.

        4x: sparsity doubles a datasheet's peak, and a FLOP count may count
        work a kernel skips. A CPU core: 10 TFLOP/s (matrix units included).
        """
        acc = self.accelerator
        gpu = 4 * acc.count * acc.peak_tflops.highest_tflops() * 1e12 if acc else 0.0
        return gpu + self.cores * 1e13

"""The hardware profile: what a site declares its machine to be (profiles/<id>.yaml).

Imported studies (issue 11) brought hardware nobody publishes some numbers for (a
Qualcomm Cloud AI 100's peak, a Jetson's memory, a host CPU's TDP that the study does
not state). Those fields are optional and None means "not stated": an estimator that
needs one does not answer for that run, and coverage shows it. None-valued optional
fields are left out of the JSON (`omit_none`), so every catalog profile and its content
hash are unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import (
    TFLOPS,
    Boundary,
    GiB,
    Identifier,
    Line,
    Strict,
    Watts,
    content_hash,
    omit_none,
)

# A match pattern: a few words of a device name.
MatchWord = Annotated[Line, Field(min_length=1, max_length=100)]


class PeakThroughput(Strict):
    """Dense (no sparsity) peak per device, from the vendor datasheet.

    bfloat16 and float16 may be None: a V100 has no bfloat16 units at all.
    float64 is stated only where an imported study's workload runs in it (NPB).
    """

    float32: TFLOPS
    tf32: TFLOPS | None = None
    bfloat16: TFLOPS | None
    float16: TFLOPS | None
    float64: TFLOPS | None = Field(default=None, exclude_if=omit_none)

    def highest_tflops(self) -> float:
        return max(v for v in (self.float32, self.tf32, self.bfloat16, self.float16) if v is not None)


class AcceleratorSpec(Strict):
    # Vendors beyond nvidia came with MLPerf Inference's submitters (issue 11).
    vendor: Literal["nvidia", "amd", "intel", "qualcomm", "arm", "sima", "neuchips", "untether"]
    model: Line
    # Case-insensitive whole words, any of which identifies this model in the
    # name NVML reports (e.g. "H100"; "L4" does not match "L40S").
    match: list[MatchWord] = Field(min_length=1, max_length=50)
    count: int = Field(gt=0, le=1024, description="accelerators per node")
    # None: not stated (a Jetson's GPU shares the host's memory; a submission that gives none).
    memory_gib: Annotated[GiB, Field(le=65_536)] | None
    # Per device, from the vendor's datasheet; None where the vendor publishes none
    # that the profile can cite. Never filled in from a guess.
    tdp_w: Annotated[Watts, Field(le=10_000)] | None
    peak_tflops: PeakThroughput | None
    # The per-device power cap the site says its runs used (MLPerf: "With 75W Accelerator
    # TDP constraints"), which can sit below tdp_w; None: not stated.
    power_limit_w: Annotated[Watts, Field(le=10_000)] | None = Field(default=None, exclude_if=omit_none)


class CpuSpec(Strict):
    model: Line
    match: list[MatchWord] = Field(min_length=1, max_length=50)
    sockets: int = Field(gt=0, le=64)
    cores_per_socket: int = Field(gt=0, le=4096)
    threads_per_core: int | None = Field(gt=0, le=8, description="None: not stated (an MLPerf system description)")
    # Per socket; None where the profile can cite no datasheet for it.
    tdp_w: Annotated[Watts, Field(le=10_000)] | None


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
    # None: the source names the machine but not its host CPU (ML.ENERGY: an AWS
    # instance type). cpu and memory describe one node.
    cpu: CpuSpec | None
    memory: MemorySpec | None
    # A run on several identical nodes (ML.ENERGY's two-node pipelines); 1 is left
    # out of the JSON, so single-node profiles keep their hash.
    node_count: int = Field(default=1, ge=1, exclude_if=lambda n: n == 1)
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
        if self.kind == "cpu" and self.cpu is None:
            raise ValueError("a cpu profile needs a cpu section")
        return self

    @property
    def profile_hash(self) -> str:
        return content_hash(self)

    @property
    def cores(self) -> int | None:
        """CPU cores over every node; None where the CPU is not stated."""
        if self.cpu is None:
            return None
        return self.cpu.sockets * self.cpu.cores_per_socket * self.node_count

    def max_power_w(self, boundary: str) -> float | None:
        """The most this hardware could draw at a boundary, generously (POWER_HEADROOM x the declared figures).

        None where a figure the bound needs is not declared (a profile with no
        accelerator, a TDP nobody publishes, a CPU the source does not state):
        no bound is better than one made up.
        """
        acc, cpu, memory = self.accelerator, self.cpu, self.memory
        gpu = None if acc is None or acc.tdp_w is None else acc.count * acc.tdp_w
        if acc is None and boundary != "gpu":
            gpu = 0.0
        cpu_w = None if cpu is None or cpu.tdp_w is None else cpu.sockets * cpu.tdp_w
        dram = None if memory is None else memory.total_gib * DRAM_W_PER_GIB + 50.0
        parts = {"gpu": gpu, "cpu": cpu_w, "dram": dram}
        if boundary in parts:
            value = parts[boundary]
        elif None in parts.values():
            value = None
        else:
            value = gpu + cpu_w + dram + NODE_OVERHEAD_W
        return None if value is None else POWER_HEADROOM * value * self.node_count

    def max_flops_per_s(self) -> float | None:
        """The most FLOP/s the machine could execute: 4 x the accelerators' highest dense peak, plus the CPUs'.

        4x: sparsity doubles a datasheet's peak, and a FLOP count may count
        work a kernel skips. A CPU core: 10 TFLOP/s (matrix units included).
        None where a needed figure is not declared.
        """
        acc, cores = self.accelerator, self.cores
        if cores is None or (acc is not None and acc.peak_tflops is None):
            return None
        gpu = 4 * acc.count * acc.peak_tflops.highest_tflops() * 1e12 * self.node_count if acc else 0.0
        return gpu + cores * 1e13

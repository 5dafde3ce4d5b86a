"""The hardware profile: what a site declares its machine to be (profiles/<id>.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import TFLOPS, Boundary, GiB, Identifier, Strict, Watts, content_hash

class PeakThroughput(Strict):
    """Dense (no sparsity) peak per device, from the vendor datasheet."""

    float32: TFLOPS
    tf32: TFLOPS | None = None
    bfloat16: TFLOPS
    float16: TFLOPS


class AcceleratorSpec(Strict):
    vendor: Literal["nvidia"]
    model: str
    # Case-insensitive whole words, any of which identifies this model in the
    # name NVML reports (e.g. "H100"; "L4" does not match "L40S").
    match: list[str] = Field(min_length=1)
    count: int = Field(gt=0)
    memory_gib: GiB
    tdp_w: Watts  # per device
    peak_tflops: PeakThroughput


class CpuSpec(Strict):
    model: str
    match: list[str] = Field(min_length=1)
    sockets: int = Field(gt=0)
    cores_per_socket: int = Field(gt=0)
    threads_per_core: int = Field(gt=0, le=8)
    tdp_w: Watts  # per socket


class MemorySpec(Strict):
    total_gib: GiB
    dimms: int | None = Field(default=None, gt=0)


class DeclaredMeter(Strict):
    meter: Literal["nvml-energy", "nvml-power", "rapl", "redfish", "shelly", "scpi"]
    boundary: Boundary


class HardwareProfile(Strict):
    id: Identifier
    name: str
    kind: Literal["gpu", "cpu"]
    accelerator: AcceleratorSpec | None = None
    cpu: CpuSpec
    memory: MemorySpec
    pue: float = Field(default=1.0, ge=1.0, le=3.0)
    grid_gco2_per_kwh: float = Field(default=400.0, ge=0)
    meters: list[DeclaredMeter] = Field(default_factory=list)
    sources: list[str] = Field(min_length=1, description="where the numbers come from")

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

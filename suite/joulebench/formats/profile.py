"""The hardware profile: what a site declares its machine to be (profiles/<id>.yaml).

Imported studies (issue 11) brought hardware nobody publishes some numbers for (a
Qualcomm Cloud AI 100's peak, a Jetson's memory, a host CPU's TDP that the study does
not state). Those fields are optional and None means "not stated": an estimator that
needs one does not answer for that run, and coverage shows it. None-valued optional
fields are left out of the JSON (`omit_none`), so every catalog profile and its content
hash are unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import (
    TFLOPS,
    Boundary,
    GiB,
    Identifier,
    Strict,
    Watts,
    content_hash,
    omit_none,
)

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


class AcceleratorSpec(Strict):
    # Vendors beyond nvidia came with MLPerf Inference's submitters (issue 11).
    vendor: Literal["nvidia", "amd", "intel", "qualcomm", "arm", "sima", "neuchips", "untether"]
    model: str
    # Case-insensitive whole words, any of which identifies this model in the
    # name NVML reports (e.g. "H100"; "L4" does not match "L40S").
    match: list[str] = Field(min_length=1)
    count: int = Field(gt=0, description="accelerators per node")
    # None: not stated (a Jetson's GPU shares the host's memory; a submission that gives none).
    memory_gib: GiB | None
    # Per device, from the vendor's datasheet; None where the vendor publishes none
    # that the profile can cite. Never filled in from a guess.
    tdp_w: Watts | None
    peak_tflops: PeakThroughput | None
    # The per-device power cap the site says its runs used (MLPerf: "With 75W Accelerator
    # TDP constraints"), which can sit below tdp_w; None: not stated.
    power_limit_w: Watts | None = Field(default=None, exclude_if=omit_none)


class CpuSpec(Strict):
    model: str
    match: list[str] = Field(min_length=1)
    sockets: int = Field(gt=0)
    cores_per_socket: int = Field(gt=0)
    threads_per_core: int | None = Field(gt=0, le=8, description="None: not stated (an MLPerf system description)")
    # Per socket; None where the profile can cite no datasheet for it.
    tdp_w: Watts | None


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
    # None: the source names the machine but not its host CPU (ML.ENERGY: an AWS
    # instance type). cpu and memory describe one node.
    cpu: CpuSpec | None
    memory: MemorySpec | None
    # A run on several identical nodes (ML.ENERGY's two-node pipelines); 1 is left
    # out of the JSON, so single-node profiles keep their hash.
    node_count: int = Field(default=1, ge=1, exclude_if=lambda n: n == 1)
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
        if self.kind == "cpu" and self.cpu is None:
            raise ValueError("a cpu profile needs a cpu section")
        return self

    @property
    def profile_hash(self) -> str:
        return content_hash(self)

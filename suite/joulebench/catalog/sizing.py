"""Window sizing: how long a measured window of a workload should last on its track's reference hardware.

These are estimates, not measurements. A window is sized from the FLOPs the
spec records: iteration time = flops_per_iteration / (peak x assumed MFU), with
the peak from the reference machine's datasheet and an MFU (model FLOPs
utilisation) assumed per workload below. Re-tune measured_iterations (and these
MFUs) once the track has run on its reference hardware.

No torch here: sizing needs only the specs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from joulebench.formats import WorkloadSpec


@dataclass(frozen=True)
class ReferenceMachine:
    name: str
    peak_tflops: dict[str, float]  # dense, per dtype the workloads use
    source: str


REFERENCES: dict[str, ReferenceMachine] = {
    # float32 workloads run in IEEE fp32 (joulebench.measure.models turns TF32 off), so fp32 uses the
    # non-tensor-core peak, not the 495 TFLOPS TF32 one.
    "gpu-v1": ReferenceMachine(
        name="one NVIDIA H100 SXM5 80GB",
        peak_tflops={"float32": 67.0, "bfloat16": 989.0, "float16": 989.0},
        source="NVIDIA H100 Tensor Core GPU datasheet, SXM column, dense (without sparsity)",
    ),
    # A modern server socket: 32 cores x ~3 GHz x 32 fp32 FLOP/cycle (two 256-bit FMA
    # pipes, as Zen 4 executes AVX-512) = about 3.0 TFLOPS.
    "cpu-v1": ReferenceMachine(
        name="one 32-core x86 server socket with AVX-512 (EPYC 9004 / Xeon 4th-gen class)",
        peak_tflops={"float32": 3.0},
        source="cores x all-core clock x FLOP/cycle from the vendors' product pages",
    ),
}

# Assumed model FLOPs utilisation on the reference machine, eager PyTorch, per workload.
# Small models are launch/host bound, so their MFU is low on purpose; generate
# workloads are host bound in the decode loop (about 0.6 ms of Python and launches
# per transformer layer per token in eager transformers, more than the time to read
# the weights from HBM), so their effective MFU is the decode-loop time turned into
# an MFU: e.g. llama_7b_decode = 0.2 s prefill + 127 steps x (32 layers x 0.6 ms + 1 ms).
ASSUMED_MFU: dict[str, dict[str, float]] = {
    "gpu-v1": {
        "mobilenet_v3_small_infer": 0.03,  # ~250 small kernels per forward: launch bound
        "resnet50_train": 0.40,  # cuDNN IEEE-fp32 convolutions on CUDA cores
        "resnet50_infer": 0.08,  # bf16 NCHW: layout conversions and BN/ReLU memory traffic
        "efficientnet_b0_infer": 0.08,  # depthwise convolutions are memory bound
        "convnext_tiny_train": 0.06,  # 7x7 depthwise convs, LayerNorm permutes
        "vit_b_16_train": 0.25,
        "vit_l_16_infer": 0.45,
        "vit_h_14_infer": 0.50,
        "distilbert_infer": 0.40,  # IEEE fp32 GEMMs
        "bert_base_train": 0.35,
        "bert_large_infer": 0.50,
        "bert_large_train": 0.40,
        "gpt2_small_generate": 0.0008,  # batch 1: 12 layers x 0.6 ms + 1 ms per token
        "gpt2_medium_infer": 0.40,
        "gpt2_large_train": 0.35,
        "gpt2_xl_generate": 0.008,  # 48 layers x 0.6 ms + 1 ms per token, batch 16
        "llama_1b3_train": 0.40,
        "llama_7b_prefill": 0.55,
        "llama_7b_decode": 0.05,
        "llama_13b_prefill": 0.55,
    },
    # From iteration times measured on a 2-core EPYC (Zen 4) VM, halved for the
    # poorer scaling of small batches over 32 cores; batch-1 decode stays host bound.
    "cpu-v1": {
        "mobilenet_v3_small_infer": 0.03,
        "mobilenet_v3_small_train": 0.05,
        "resnet18_infer": 0.35,
        "resnet50_infer": 0.20,
        "bert_small_infer": 0.25,
        "bert_small_train": 0.15,
        "gpt2_small_generate": 0.013,
    },
}

# What one pass of a track costs besides its measured windows (stated assumptions).
IDLE_S_PER_WORKLOAD = 3.0  # idle power measured before each workload's windows
BUILD_S_PER_WORKLOAD = 2.0  # model built on the device, inputs drawn, memory freed after
PASS_STARTUP_S = 10.0  # process start, imports, CUDA context: once per pass
GPU_V1_PASS_BUDGET_S = 480.0  # one full gpu-v1 pass, 3 repeats, on one H100

TARGET_WINDOW_S = 5.5  # 55 updates of a 100 ms NVML energy counter
TARGET_WARMUP_S = 1.0


def has_reference(track: str) -> bool:
    return track in REFERENCES


def assumed_mfu(spec: WorkloadSpec) -> float:
    try:
        return ASSUMED_MFU[spec.track][spec.id]
    except KeyError:
        raise KeyError(
            f"no assumed MFU for {spec.track}/{spec.id}: add one to joulebench.catalog.sizing.ASSUMED_MFU"
        ) from None


def estimate_iteration_s(spec: WorkloadSpec) -> float:
    reference = REFERENCES[spec.track]
    peak = reference.peak_tflops[spec.dtype] * 1e12
    return spec.flops_per_iteration / (peak * assumed_mfu(spec))


def estimate_window_s(spec: WorkloadSpec) -> float:
    return spec.measured_iterations * estimate_iteration_s(spec)


def window_note(spec: WorkloadSpec) -> str:
    """One line that says where target_window_s comes from (written beside it in the YAML)."""
    reference = REFERENCES[spec.track]
    return (
        f"estimate, not measured: {spec.measured_iterations} x {spec.flops_per_iteration:.3g} FLOP / "
        f"({reference.peak_tflops[spec.dtype]:g} TFLOPS {spec.dtype} x MFU {assumed_mfu(spec):g}) "
        f"on {reference.name}"
    )


def suggest_iterations(spec: WorkloadSpec, window_s: float = TARGET_WINDOW_S) -> tuple[int, int]:
    """(warmup_iterations, measured_iterations) for a window of about window_s.

    Warm-up covers about TARGET_WARMUP_S (clocks and power settle, allocator and
    kernel choices warm up), at least one iteration; an iteration longer than a
    second (generation) warms up with one.
    """
    iteration_s = estimate_iteration_s(spec)
    measured = max(1, round(window_s / iteration_s))
    warmup = max(1, math.ceil(TARGET_WARMUP_S / iteration_s)) if iteration_s < TARGET_WARMUP_S else 1
    return warmup, measured


def estimate_workload_pass_s(spec: WorkloadSpec) -> float:
    """Wall time of one workload in a pass: idle, build, warm-up and its repeated windows."""
    iteration_s = estimate_iteration_s(spec)
    windows = spec.repeats * (spec.target_window_s if spec.target_window_s is not None else estimate_window_s(spec))
    return IDLE_S_PER_WORKLOAD + BUILD_S_PER_WORKLOAD + spec.warmup_iterations * iteration_s + windows


def estimate_pass_s(specs: list[WorkloadSpec]) -> float:
    return PASS_STARTUP_S + sum(estimate_workload_pass_s(s) for s in specs)

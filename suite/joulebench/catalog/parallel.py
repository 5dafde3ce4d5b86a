"""Public facts of multi-rank workloads: the bytes one iteration communicates, and window sizing.

No torch here: both come from the spec alone (its layout, parameter count,
dtype, batch and model shape), so static estimators and `joulebench launch`
can use them anywhere.

Communication is counted as the bytes *sent* by all ranks together in one
iteration, for the collectives each strategy needs, with the ring algorithms
NCCL and gloo use for large messages (a ring all-reduce of S bytes over N
ranks sends 2(N-1)/N x S per rank; an all-gather or a reduce-scatter
(N-1)/N x S per rank). Small control messages, and traffic a library adds on
top (bucketing overlaps, re-sends), are not counted. Each spec stores the
number and the formula (`comm_method`); a test recomputes both.

Window sizing, like catalog/sizing.py for gpu-v1: an iteration is estimated to
take flops_per_iteration / (world_size x peak x assumed MFU), with the peak of
one reference GPU. These are estimates, not measurements; re-tune them (and
the MFUs) once the track has run on real multi-GPU machines.
"""

from __future__ import annotations

from joulebench.catalog.sizing import REFERENCES
from joulebench.formats import WorkloadSpec

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}

# Assumed model FLOPs utilisation per GPU, on the gpu-v1 reference GPU (one H100 SXM).
ASSUMED_MFU: dict[str, dict[str, float]] = {
    "gpu-v1-multi": {
        # gpu-v1's llama_1b3_train assumes 0.40 on one GPU; NVLink all-reduce overlaps
        # with the backward, so a few points are lost per doubling.
        "llama_1b3_ddp1_train": 0.40,
        "llama_1b3_ddp2_train": 0.38,
        "llama_1b3_ddp4_train": 0.37,
        "llama_1b3_ddp8_train": 0.36,
        "llama_7b_fsdp8_train": 0.40,
        "llama_7b_fsdp16_train": 0.33,  # the inter-node fabric is ~10x slower than NVLink
        # GPipe with 4 stages and 8 micro-batches idles 3/11 of the time (the bubble).
        "llama_7b_pp4_train": 0.28,
        "llama_13b_tp2_prefill": 0.45,  # two activation all-reduces per layer on the critical path
    },
}
REFERENCE_TRACK = "gpu-v1"  # the GPU whose peak the multi-GPU estimates use


def _hidden_and_layers(spec: WorkloadSpec) -> tuple[int, int]:
    config = spec.model.config
    hidden = config.get("hidden_size", config.get("n_embd"))
    layers = config.get("num_hidden_layers", config.get("n_layer"))
    if not isinstance(hidden, int) or not isinstance(layers, int):
        raise ValueError(f"workload {spec.id}: the model config names no hidden size and layer count, "
                         "which activation traffic is counted from")
    return hidden, layers


def comm_bytes(spec: WorkloadSpec) -> tuple[int, str]:
    """(bytes all ranks send in one iteration, the formula in words) for a spec with a parallel layout."""
    layout = spec.parallel
    if layout is None:
        raise ValueError(f"workload {spec.id} has no parallel layout")
    n = layout.world_size
    b = DTYPE_BYTES[spec.dtype]
    sum_note = "summed over all ranks; ring collectives; control messages not counted"
    if layout.strategy == "pipeline":
        sum_note = "summed over all ranks; point-to-point sends; control messages not counted"
    if layout.strategy == "ddp":
        if spec.task != "train":
            raise ValueError(f"workload {spec.id}: ddp is a training layout")
        total = 2 * (n - 1) * spec.params * b
        formula = (f"ddp: one ring all-reduce of the gradients per iteration = 2 (N-1) x params x "
                   f"{b} bytes ({spec.dtype}), N = {n}")
    elif layout.strategy == "fsdp":
        if spec.task != "train":
            raise ValueError(f"workload {spec.id}: fsdp is a training layout")
        rb = DTYPE_BYTES[layout.reduce_dtype or spec.dtype]
        if layout.sharding != "full_shard":
            raise ValueError(f"workload {spec.id}: comm bytes are counted for full_shard only, got {layout.sharding}")
        total = 3 * (n - 1) * spec.params * rb
        formula = (f"fsdp full_shard: all-gather the parameters in the forward and again in the backward, "
                   f"reduce-scatter the gradients = 3 (N-1) x params x {rb} bytes "
                   f"({layout.reduce_dtype or spec.dtype}), N = {n}")
    elif layout.strategy == "pipeline":
        hidden, _ = _hidden_and_layers(spec)
        directions = 2 if spec.task == "train" else 1
        s = layout.pipeline_parallel
        activations = spec.batch_size * (spec.seq_len or 0) * hidden * b
        total = directions * (s - 1) * activations
        formula = (f"pipeline: every micro-batch's activations cross each of the S-1 stage boundaries"
                   f"{' forward and their gradients backward' if directions == 2 else ''} = "
                   f"{directions} (S-1) x batch x seq_len x hidden x {b} bytes, S = {s}")
    else:  # tensor
        hidden, layers = _hidden_and_layers(spec)
        if spec.task == "generate":
            raise ValueError(f"workload {spec.id}: comm bytes of tensor-parallel generation are not counted yet")
        passes = 2 if spec.task == "train" else 1
        t = layout.tensor_parallel
        activations = spec.batch_size * (spec.seq_len or 0) * hidden * b
        total = passes * layers * 2 * 2 * (t - 1) * activations
        formula = (f"tensor (Megatron-style): two all-reduces of the activations per layer"
                   f"{' in the forward and two in the backward' if passes == 2 else ''} = "
                   f"{passes} x layers x 2 x 2 (T-1) x batch x seq_len x hidden x {b} bytes, T = {t}")
    return int(total), f"{formula}; {sum_note}"


def assumed_mfu(spec: WorkloadSpec) -> float:
    try:
        return ASSUMED_MFU[spec.track][spec.id]
    except KeyError:
        raise KeyError(f"no assumed MFU for {spec.track}/{spec.id}: add one to joulebench.catalog.parallel.ASSUMED_MFU") from None


def estimate_iteration_s(spec: WorkloadSpec) -> float:
    peak = REFERENCES[REFERENCE_TRACK].peak_tflops[spec.dtype] * 1e12
    return spec.flops_per_iteration / (spec.world_size * peak * assumed_mfu(spec))


def estimate_window_s(spec: WorkloadSpec) -> float:
    return spec.measured_iterations * estimate_iteration_s(spec)


def window_note(spec: WorkloadSpec) -> str:
    reference = REFERENCES[REFERENCE_TRACK]
    return (
        f"estimate, not measured: {spec.measured_iterations} x {spec.flops_per_iteration:.3g} FLOP / "
        f"({spec.world_size} GPUs x {reference.peak_tflops[spec.dtype]:g} TFLOPS {spec.dtype} x MFU "
        f"{assumed_mfu(spec):g}) on {reference.name.replace('one ', '')} each"
    )

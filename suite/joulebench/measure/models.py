"""Model builders: a WorkloadSpec becomes a model with random weights, synthetic data and one step().

Nothing is downloaded: torchvision models come from their builder with
`weights=None`, transformers models from `AutoConfig.for_model` and the model
class's `_from_config`. Weights are drawn under `spec.seed`; inputs are fixed
random tensors drawn once, on the device, from a generator seeded with
`spec.seed`, so every iteration does the same work.

Models are created directly on the target device in their dtype (under
`torch.device(device)` with the default dtype set): a 13B model in bf16 built
in fp32 first and then cast needs 52 GB and fails on an 80 GB H100.

The same code builds on the meta device for counting: parameters and FLOPs of
a 13B model cost no memory and little time there.

torch is imported inside functions, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field
from typing import Any, Callable

from joulebench.errors import InputError
from joulebench.formats import WorkloadSpec

# Plain-language description of what count_params_and_flops counts, per task.
_COUNTED = (
    "torch.utils.flop_counter.FlopCounterMode on the meta device (2 FLOPs per multiply-add; "
    "matmuls, convolutions and attention only, elementwise ops not counted; grouped-convolution "
    "weight gradients divided by groups, which torch's formula omits)"
)
FLOPS_METHODS = {
    "train": f"{_COUNTED}; one step(): forward + loss + backward, optimizer step excluded",
    "infer": f"{_COUNTED}; one step(): one forward",
    "generate": (
        f"{_COUNTED}; one step(): prefill of seq_len prompt tokens (logits of the last position) "
        "+ (new_tokens - 1) single-token decode forwards with a KV cache; decode steps are counted "
        "exactly at two context lengths and summed as the arithmetic series they form "
        "(decode FLOPs grow linearly with the context)"
    ),
}

# Labels for vision training when the config does not name num_classes.
_DEFAULT_NUM_CLASSES = 1000


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


@contextlib.contextmanager
def _default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _set_fp32_precision(ieee: bool) -> Callable[[], None]:
    """Pin what float32 means on CUDA; return a function that restores the previous settings.

    PyTorch runs fp32 convolutions in TF32 by default (matmuls in IEEE fp32), so a
    "float32" workload would silently be a TF32 one for convnets. We pin IEEE fp32
    for float32 workloads so the dtype in the spec is what the hardware executes.
    """
    import torch

    cudnn_conv = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", None)
    matmul = getattr(torch.backends.cuda.matmul, "fp32_precision", None)
    if cudnn_conv is not None and matmul is not None:
        wanted = "ieee" if ieee else "tf32"
        torch.backends.cudnn.conv.fp32_precision = wanted
        torch.backends.cuda.matmul.fp32_precision = wanted

        def restore() -> None:
            torch.backends.cudnn.conv.fp32_precision = cudnn_conv
            torch.backends.cuda.matmul.fp32_precision = matmul

        return restore
    # torch < 2.9: the legacy switches.
    old = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = not ieee
    torch.backends.cuda.matmul.allow_tf32 = not ieee

    def restore_legacy() -> None:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old

    return restore_legacy


# --------------------------------------------------------------------------- models


def _transformers_config(spec: WorkloadSpec):
    import transformers

    config = dict(spec.model.config)
    model_type = config.pop("model_type")
    try:
        return transformers.AutoConfig.for_model(model_type, **config)
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"workload {spec.id}: field 'model.config': transformers cannot build it: {exc}") from None


def _check_positions(spec: WorkloadSpec, config) -> None:
    limit = getattr(config, "max_position_embeddings", None)
    needed = (spec.seq_len or 0) + (spec.new_tokens or 0)
    if limit is not None and needed > limit:
        raise InputError(
            f"workload {spec.id}: field 'seq_len': seq_len + new_tokens = {needed} exceeds the model's "
            f"max_position_embeddings {limit}"
        )


def build_model(spec: WorkloadSpec, device: str):
    """The spec's model with random weights under spec.seed, created on `device` in spec.dtype."""
    import torch

    dtype = _torch_dtype(spec.dtype)
    torch.manual_seed(spec.seed)
    if spec.model.library == "torchvision":
        import torchvision

        builder = getattr(torchvision.models, spec.model.architecture, None)
        if builder is None or not callable(builder):
            raise InputError(
                f"workload {spec.id}: field 'model.architecture': torchvision.models has no builder "
                f"{spec.model.architecture!r}"
            )
        with torch.device(device), _default_dtype(dtype):
            model = builder(weights=None, **spec.model.config)
    else:
        import transformers

        cls = getattr(transformers, spec.model.architecture, None)
        if cls is None:
            raise InputError(
                f"workload {spec.id}: field 'model.architecture': transformers has no model class "
                f"{spec.model.architecture!r}"
            )
        config = _transformers_config(spec)
        _check_positions(spec, config)
        # transformers < 5 calls the dtype argument torch_dtype.
        dtype_kwarg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        # sdpa is pinned so the attention kernel family does not depend on what is installed.
        with torch.device(device), _default_dtype(dtype):
            model = cls._from_config(config, attn_implementation="sdpa", **{dtype_kwarg: dtype})
    model.train(spec.task == "train")
    return model


def count_params(model) -> int:
    """Unique parameters: tied weights (an LM head sharing the embedding) count once."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- data


@dataclass
class _Inputs:
    images: Any = None
    labels: Any = None
    token_ids: Any = None


def _vocab_size(model) -> int:
    return int(model.config.vocab_size)


def make_inputs(spec: WorkloadSpec, model, device: str) -> _Inputs:
    """Fixed synthetic inputs, drawn once on the device from a generator seeded with spec.seed."""
    import torch

    dtype = _torch_dtype(spec.dtype)
    b = spec.batch_size
    on_meta = torch.device(device).type == "meta"
    generator = None if on_meta else torch.Generator(device=device).manual_seed(spec.seed)
    if spec.domain == "vision":
        size = spec.image_size
        num_classes = int(spec.model.config.get("num_classes", _DEFAULT_NUM_CLASSES))
        images = torch.randn(b, 3, size, size, device=device, dtype=dtype, generator=generator)
        labels = None
        if spec.task == "train":
            labels = torch.randint(0, num_classes, (b,), device=device, generator=generator)
        return _Inputs(images=images, labels=labels)
    ids = torch.randint(0, _vocab_size(model), (b, spec.seq_len), device=device, generator=generator)
    return _Inputs(token_ids=ids)


# --------------------------------------------------------------------------- one iteration


def make_optimizer(spec: WorkloadSpec, model, device: str):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=spec.learning_rate or 0.01, momentum=0.9)
    on_cuda = torch.device(device).type == "cuda"
    # Fused AdamW is one kernel per parameter group on CUDA: what a tuned trainer uses.
    return torch.optim.AdamW(params, lr=spec.learning_rate or 1e-4, fused=True if on_cuda else None)


@dataclass(frozen=True)
class _Calls:
    """How to call a language model's forward; read once from its signature, not per step."""

    no_cache: dict  # {"use_cache": False} where the model takes it
    cache_kwarg: str  # transformers >= 5.2x: "cache"; earlier: "past_key_values"
    last_logits_only: dict  # {"logits_to_keep": 1} where the model takes it


def _calls(model) -> _Calls:
    import inspect

    names = set(inspect.signature(model.forward).parameters)
    return _Calls(
        no_cache={"use_cache": False} if "use_cache" in names else {},
        cache_kwarg="cache" if "cache" in names else "past_key_values",
        last_logits_only={"logits_to_keep": 1} if "logits_to_keep" in names else {},
    )


def _loss(spec: WorkloadSpec, model, inputs: _Inputs, calls: _Calls | None):
    import torch.nn.functional as F

    if spec.domain == "vision":
        return F.cross_entropy(model(inputs.images), inputs.labels)
    # Decoders: causal LM loss (the model shifts labels). Encoders (masked LM heads):
    # MLM-style loss with every position as a target.
    return model(input_ids=inputs.token_ids, labels=inputs.token_ids, **calls.no_cache).loss


def _forward(spec: WorkloadSpec, model, inputs: _Inputs, calls: _Calls | None):
    if spec.domain == "vision":
        return model(inputs.images)
    out = model(input_ids=inputs.token_ids, **calls.no_cache)
    logits = getattr(out, "logits", None)
    return logits if logits is not None else out.last_hidden_state


def _cache_of(out):
    # transformers >= 5.2x names the KV cache `cache`; earlier versions `past_key_values`.
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _greedy(logits):
    return logits[:, -1:, :].argmax(dim=-1)


def _prefill(model, prompt, calls: _Calls):
    # Only the last position's logits are needed to pick the next token (as generate() does).
    out = model(input_ids=prompt, use_cache=True, **calls.last_logits_only)
    return _cache_of(out), _greedy(out.logits)


def _decode(model, token, cache, calls: _Calls):
    out = model(input_ids=token, use_cache=True, **{calls.cache_kwarg: cache})
    return _cache_of(out), _greedy(out.logits)


def _generate(spec: WorkloadSpec, model, prompt, calls: _Calls):
    """Prefill, then greedy decode: exactly new_tokens tokens per sequence, every time.

    The prefill picks the first new token, then new_tokens - 1 decode forwards pick
    the rest (what generate(max_new_tokens=min_new_tokens=new_tokens) does). An
    explicit loop rather than model.generate(): no stopping criteria, no sampling
    machinery, so every iteration does the same work.
    """
    import torch

    cache, token = _prefill(model, prompt, calls)
    tokens = [token]
    for _ in range(spec.new_tokens - 1):
        cache, token = _decode(model, token, cache, calls)
        tokens.append(token)
    return torch.cat(tokens, dim=1)


@dataclass
class Workload:
    """A built workload: call step() for one iteration, sync() at window edges, close() when done."""

    spec: WorkloadSpec
    device: str
    model: Any
    inputs: _Inputs
    optimizer: Any = None
    params: int = 0
    _calls: _Calls | None = field(default=None, repr=False)
    _restore: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def step(self):
        """One iteration. Returns the loss (train), output (infer) or generated tokens (generate),
        without synchronising: call sync() to wait for the device."""
        import torch

        spec = self.spec
        if spec.task == "train":
            loss = _loss(spec, self.model, self.inputs, self._calls)
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            return loss.detach()
        with torch.inference_mode():
            if spec.task == "infer":
                return _forward(spec, self.model, self.inputs, self._calls)
            return _generate(spec, self.model, self.inputs.token_ids, self._calls)

    def sync(self) -> None:
        import torch

        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize(self.device)

    def close(self) -> None:
        """Drop the model, optimizer and inputs and give cached GPU memory back."""
        import torch

        self.model = self.optimizer = None
        self.inputs = _Inputs()
        gc.collect()
        if torch.device(self.device).type == "cuda":
            torch.cuda.empty_cache()
        while self._restore:
            self._restore.pop()()


def build_workload(spec: WorkloadSpec, device: str) -> Workload:
    """Build spec's model, synthetic inputs and optimizer on `device` ("cuda", "cuda:1", "cpu")."""
    import torch

    if spec.parallel is not None:
        # One process running the unsplit model would not be the pinned workload: refuse rather than record it.
        layout = spec.parallel
        raise InputError(
            f"workload {spec.track}/{spec.id} runs on {spec.world_size} ranks ({layout.strategy}, {layout.nodes} "
            f"node(s) x {layout.ranks_per_node}); one process cannot be run as it: start its ranks with "
            f"`joulebench run --nproc-per-node {layout.ranks_per_node}` on one node, or under torchrun on "
            f"{layout.nodes} node(s) (joulebench.measure.parallel_models builds each rank's part)"
        )

    restore = []
    if torch.device(device).type == "cuda":
        restore.append(_set_fp32_precision(ieee=spec.dtype == "float32"))
    model = build_model(spec, device)
    inputs = make_inputs(spec, model, device)
    optimizer = make_optimizer(spec, model, device) if spec.task == "train" else None
    return assemble_workload(spec, device, model, inputs, optimizer, restore=restore)


def assemble_workload(spec: WorkloadSpec, device: str, model, inputs, optimizer=None, *, unwrapped=None,
                      restore: list[Callable[[], None]] | None = None) -> Workload:
    """A Workload around a model someone else built (a wrapped or sharded one: see parallel_models).

    `unwrapped` is the plain model under a wrapper such as DistributedDataParallel,
    whose forward signature says which keyword arguments the model takes.
    """
    plain = model if unwrapped is None else unwrapped
    return Workload(
        spec=spec,
        device=device,
        model=model,
        inputs=inputs,
        optimizer=optimizer,
        params=count_params(plain),
        _calls=_calls(plain) if spec.domain == "language" else None,
        _restore=list(restore or []),
    )


def per_rank_spec(spec: WorkloadSpec, batch_size: int, seed: int | None = None) -> WorkloadSpec:
    """The single-process view of one rank's share of a multi-rank spec: its batch, no layout (not for records)."""
    return spec.model_copy(update={"batch_size": batch_size, "seed": spec.seed if seed is None else seed,
                                   "parallel": None, "comm_bytes_per_iteration": None, "comm_method": None})


def fp32_precision(spec: WorkloadSpec, device: str) -> list[Callable[[], None]]:
    """Pin what float32 means on CUDA for `spec` (see _set_fp32_precision); the functions that restore it."""
    import torch

    return [_set_fp32_precision(ieee=spec.dtype == "float32")] if torch.device(device).type == "cuda" else []


def torch_dtype(name: str):
    """The torch dtype of a spec's dtype name."""
    return _torch_dtype(name)


# --------------------------------------------------------------------------- counting


@contextlib.contextmanager
def _meta_safe_transformers():
    """Let transformers run on meta tensors without changing what it computes.

    Without a cache or an attention mask, transformers inspects the position ids
    for packed sequences with a data-dependent `.all()`, which a meta tensor cannot
    answer. Our synthetic batches are never packed (positions 0..n-1 in every row),
    so the answer on a real device is always "not packed" (None): we give that
    answer directly while counting.
    """
    try:
        from transformers import masking_utils
    except ImportError:
        yield
        return
    original = getattr(masking_utils, "find_packed_sequence_indices", None)
    if original is None:
        yield
        return
    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    try:
        yield
    finally:
        masking_utils.find_packed_sequence_indices = original


def _conv_backward_flops(
    grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed, _output_padding,
    groups, output_mask, out_shape, **kwargs
) -> int:
    """FLOPs of aten.convolution_backward, with `groups` honoured in the weight-gradient term.

    torch's own formula (up to at least 2.14) computes the weight gradient as a
    dense convolution of the input with the output gradient and forgets to divide
    by groups, so a depthwise conv's backward is overcounted by its channel count
    (MobileNetV3-Small training came out 35x its forward). The input-gradient term
    uses the (already per-group) weight shape and is right as it is.
    """
    from torch.utils.flop_counter import conv_flop_count

    def t(shape):
        return [shape[1], shape[0], *shape[2:]]

    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        if transposed:
            dense = conv_flop_count(t(grad_out_shape), t(x_shape), t(out_shape[1]), transposed=False)
        else:
            dense = conv_flop_count(t(x_shape), t(grad_out_shape), t(out_shape[1]), transposed=False)
        flops += dense // groups
    return flops


def count_flops(fn) -> int:
    """FLOPs of everything `fn` runs, as FlopCounterMode counts them (with the grouped-conv fix)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(
        display=False, custom_mapping={torch.ops.aten.convolution_backward: _conv_backward_flops}
    )
    with _meta_safe_transformers(), counter:
        fn()
    return int(counter.get_total_flops())


def _generate_flops(spec: WorkloadSpec, model, prompt) -> int:
    """FLOPs of one generate step(), counted on the meta device.

    The prefill is counted as run. A decode step at context length c costs
    a + b*c (projections and MLP are fixed; attention over the cache grows
    linearly), so the new_tokens - 1 decode steps sum to an arithmetic series:
    we count the first two decode steps exactly and sum the series. Running
    every step on the meta device gives the same number, minutes instead of
    seconds for the big models; a test checks the series against a full loop.
    """
    import torch

    calls = _calls(model)
    state = {}

    def prefill():
        state["cache"], state["token"] = _prefill(model, prompt, calls)

    def decode():
        state["cache"], state["token"] = _decode(model, state["token"], state["cache"], calls)

    steps = spec.new_tokens - 1
    with torch.inference_mode():
        total = count_flops(prefill)
        if steps == 0:
            return total
        first = count_flops(decode)
        if steps == 1:
            return total + first
        second = count_flops(decode)
    slope = second - first
    return total + steps * first + slope * steps * (steps - 1) // 2


def generate_flops_by_full_loop(spec: WorkloadSpec) -> int:
    """Count every decode step one by one (slow for big models): the check on the series shortcut."""
    import torch

    model = build_model(spec, "meta")
    prompt = make_inputs(spec, model, "meta").token_ids
    with torch.inference_mode():
        return count_flops(lambda: _generate(spec, model, prompt, _calls(model)))


def count_params_and_flops(spec: WorkloadSpec) -> tuple[int, float]:
    """(unique parameters, FLOPs of one step()) counted on the meta device; see FLOPS_METHODS."""
    import torch

    model = build_model(spec, "meta")
    params = count_params(model)
    inputs = make_inputs(spec, model, "meta")
    calls = _calls(model) if spec.domain == "language" else None
    if spec.task == "train":
        flops = count_flops(lambda: _loss(spec, model, inputs, calls).backward())
    elif spec.task == "infer":
        with torch.inference_mode():
            flops = count_flops(lambda: _forward(spec, model, inputs, calls))
    else:
        flops = _generate_flops(spec, model, inputs.token_ids)
    return params, float(flops)

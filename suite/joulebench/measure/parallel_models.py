"""Builders for multi-rank workloads: this rank's part of a spec with a parallel layout, as real torch.distributed code.

Each builder returns a workload with step(), sync() and close(), as
measure.models does for one process; the default process group must exist
(the distributed runner creates it, with the layout's backend: gloo on CPU,
NCCL on GPUs). Nothing is simulated: every collective the strategy needs runs.

- ddp: the single-process model of one rank's batch (the global batch /
  data_parallel), built on every rank under the spec's seed and wrapped in
  DistributedDataParallel (which also broadcasts rank 0's weights); each rank
  draws its own inputs (seed + rank). The gradients are all-reduced in the
  backward.
- fsdp: FSDP2 (torch.distributed.fsdp.fully_shard), FULL_SHARD: the model is
  built on the meta device, every block the model names in its
  `_no_split_modules` (a decoder layer) is sharded, then the root; the shards
  are materialised on the device (to_empty) and their weights drawn there
  (transformers' own _init_weights) under seed + rank. The layout's
  reduce_dtype is the gradients' reduce-scatter dtype. One rank's batch as for
  ddp.
- pipeline: torch.distributed.pipelining. A Llama-shaped decoder's layers are
  cut into pipeline_parallel stages of equal length (stage 0 also holds the
  token embedding, the last stage the final norm, the LM head and the loss),
  one stage per rank, run by the layout's schedule (GPipe or 1F1B) over
  micro_batches micro-batches of the global batch. Every rank builds the whole
  model under the seed (the same weights one process would have) and keeps its
  stage, so the split model computes what the unsplit one does.
- tensor: torch.distributed.tensor.parallel on a one-dimensional DeviceMesh,
  Megatron style: in every decoder layer the q/k/v and gate/up projections are
  column-parallel (each rank holds a share of the attention heads and MLP
  columns) and the o and down projections row-parallel (one all-reduce each:
  two per layer); the LM head is column-parallel and each rank keeps its share
  of the vocabulary's logits (nothing is gathered); embeddings and norms are
  replicated. Every rank runs the same batch. Inference only (task infer).

What runs where: all four run on CPU with gloo at smoke size (tests run them
with two ranks). On GPUs with NCCL at gpu-v1-multi size they are untested
until multi-GPU hardware runs them.

torch is imported inside functions, so importing this module costs nothing.
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass
from typing import Any

from joulebench.errors import InputError
from joulebench.formats import WorkloadSpec
from joulebench.measure import models

# The tasks each strategy is built for.
TASKS = {"ddp": ("train",), "fsdp": ("train",), "pipeline": ("train",), "tensor": ("infer",)}
# Strategies whose builder reaches into a Llama-shaped decoder's modules.
LLAMA_ONLY = ("pipeline", "tensor")
# DTensor warns that its random ops are incomplete on a CPU mesh; the draws are still random (under seed + rank).
_DTENSOR_CPU_RANDOM = "DTensor random operators may not have complete support"


def check_buildable(spec: WorkloadSpec) -> None:
    """Refuse, with the reason, a spec no builder here can build; the same answer on every rank, before any collective."""
    layout = spec.parallel
    where = f"workload {spec.track}/{spec.id}"
    if layout is None:
        raise InputError(f"{where} has no parallel layout; it runs as one process (without torchrun)")
    if spec.task not in TASKS[layout.strategy]:
        raise InputError(f"{where}: field 'task': the {layout.strategy} builder builds {' and '.join(TASKS[layout.strategy])} "
                         f"workloads, not {spec.task}")
    config = spec.model.config
    if layout.strategy in LLAMA_ONLY and (spec.model.library != "transformers" or config.get("model_type") != "llama"):
        raise InputError(f"{where}: field 'model': the {layout.strategy} builder splits Llama-shaped decoders "
                         f"(transformers, model_type llama), not {spec.model.library} {config.get('model_type', spec.model.architecture)}")
    if layout.strategy == "fsdp":
        if spec.model.library != "transformers":
            raise InputError(f"{where}: field 'model.library': the fsdp builder shards transformers models "
                             "(their blocks are named by _no_split_modules)")
        if layout.sharding != "full_shard":
            raise InputError(f"{where}: field 'parallel.sharding': only full_shard is built, not {layout.sharding}")
    if layout.strategy == "pipeline":
        layers = config.get("num_hidden_layers")
        if not isinstance(layers, int) or layers % layout.pipeline_parallel:
            raise InputError(f"{where}: field 'model.config.num_hidden_layers': {layers} layers do not cut into "
                             f"{layout.pipeline_parallel} stages of equal length")
        if config.get("tie_word_embeddings", False):  # transformers' LlamaConfig leaves them untied by default
            raise InputError(f"{where}: field 'model.config.tie_word_embeddings': a pipeline's first stage (the embedding) "
                             "and last stage (the LM head) cannot share a weight across ranks: set it to false")
    if layout.strategy == "tensor":
        t = layout.tensor_parallel
        for key in ("num_attention_heads", "num_key_value_heads", "intermediate_size", "vocab_size"):
            value = config.get(key, config.get("num_attention_heads") if key == "num_key_value_heads" else None)
            if not isinstance(value, int) or value % t:
                raise InputError(f"{where}: field 'model.config.{key}': {value} does not split over tensor_parallel {t}")


def build_parallel_workload(spec: WorkloadSpec, device: str) -> Any:
    """This rank's part of `spec` on `device` ("cpu", or this rank's "cuda:N"); the process group must exist."""
    import torch.distributed as dist

    check_buildable(spec)
    if not dist.is_initialized():
        raise RuntimeError("torch.distributed is not initialised: the distributed runner creates the process group")
    builder = {"ddp": _ddp, "fsdp": _fsdp, "pipeline": _pipeline, "tensor": _tensor}[spec.parallel.strategy]
    return builder(spec, dist.get_rank(), dist.get_world_size(), device)


def _device_ids(device: str) -> list[int] | None:
    import torch

    where = torch.device(device)
    return [where.index or 0] if where.type == "cuda" else None


# --------------------------------------------------------------------------- data parallel


def _ddp(spec: WorkloadSpec, rank: int, world: int, device: str):
    from torch.nn.parallel import DistributedDataParallel

    per_rank = models.per_rank_spec(spec, spec.batch_size // spec.parallel.data_parallel)
    restore = models.fp32_precision(per_rank, device)
    model = models.build_model(per_rank, device)
    inputs = models.make_inputs(models.per_rank_spec(spec, per_rank.batch_size, seed=spec.seed + rank), model, device)
    wrapped = DistributedDataParallel(model, device_ids=_device_ids(device))
    optimizer = models.make_optimizer(per_rank, wrapped, device)
    return models.assemble_workload(per_rank, device, wrapped, inputs, optimizer, unwrapped=model, restore=restore)


def _fsdp(spec: WorkloadSpec, rank: int, world: int, device: str):
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    layout = spec.parallel
    per_rank = models.per_rank_spec(spec, spec.batch_size // layout.data_parallel)
    restore = models.fp32_precision(per_rank, device)
    model = models.build_model(per_rank, "meta")
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    if not blocks:
        raise InputError(f"workload {spec.track}/{spec.id}: {spec.model.architecture} names no blocks "
                         "(_no_split_modules) to shard one by one")
    policy = MixedPrecisionPolicy(reduce_dtype=models.torch_dtype(layout.reduce_dtype) if layout.reduce_dtype else None)
    for module in list(model.modules()):
        if type(module).__name__ in blocks:
            fully_shard(module, mp_policy=policy, reshard_after_forward=True)
    fully_shard(model, mp_policy=policy, reshard_after_forward=True)
    model.to_empty(device=device)
    torch.manual_seed(spec.seed + rank)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DTENSOR_CPU_RANDOM)
        model.apply(model._init_weights)  # transformers' initialisation, on each rank's shards
    model.train()
    inputs = models.make_inputs(models.per_rank_spec(spec, per_rank.batch_size, seed=spec.seed + rank), model, device)
    optimizer = models.make_optimizer(per_rank, model, device)
    return models.assemble_workload(per_rank, device, model, inputs, optimizer, restore=restore)


# --------------------------------------------------------------------------- pipeline


def _causal_lm_loss(logits, target):
    """The causal LM loss transformers computes (predict token t+1 from position t), in float32."""
    import torch.nn.functional as F

    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), target[:, 1:].flatten())


def decoder_stage(model, stage: int, stages: int):
    """One pipeline stage of a Llama-shaped decoder: its share of the layers, with what comes before and after.

    The layer calls are those of transformers' LlamaModel.forward (the same
    causal mask, rotary embeddings and position ids, recomputed on each
    stage), so the stages together compute the unsplit model.
    """
    import torch
    from torch import nn
    from transformers.masking_utils import create_causal_mask

    layers = model.model.layers
    per = len(layers) // stages
    first, last = stage == 0, stage == stages - 1

    class DecoderStage(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = model.config
            self.embed_tokens = model.model.embed_tokens if first else None
            self.layers = nn.ModuleList(layers[stage * per:(stage + 1) * per])
            self.rotary_emb = model.model.rotary_emb
            self.norm = model.model.norm if last else None
            self.lm_head = model.lm_head if last else None

        def forward(self, x):
            hidden = self.embed_tokens(x) if self.embed_tokens is not None else x
            positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
            mask = create_causal_mask(config=self.config, inputs_embeds=hidden, attention_mask=None, cache=None,
                                      position_ids=positions)
            rotary = self.rotary_emb(hidden, position_ids=positions)
            for layer in self.layers:
                hidden = layer(hidden, attention_mask=mask, position_embeddings=rotary, position_ids=positions)
            if self.lm_head is not None:
                hidden = self.lm_head(self.norm(hidden))
            return hidden

    return DecoderStage()


@dataclass
class PipelineWorkload:
    """One rank's pipeline stage: step() runs one iteration of the schedule (every micro-batch), then the optimizer."""

    spec: WorkloadSpec
    device: str
    stage: Any  # the stage's nn.Module
    schedule: Any
    token_ids: Any
    optimizer: Any
    first: bool
    last: bool
    params: int
    restore: list

    def step(self):
        losses: list = []
        if self.first and self.last:
            self.schedule.step(self.token_ids, target=self.token_ids, losses=losses)
        elif self.first:
            self.schedule.step(self.token_ids)
        elif self.last:
            self.schedule.step(target=self.token_ids, losses=losses)
        else:
            self.schedule.step()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return losses

    def sync(self) -> None:
        import torch

        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize(self.device)

    def close(self) -> None:
        import torch

        self.stage = self.schedule = self.optimizer = self.token_ids = None
        gc.collect()
        if torch.device(self.device).type == "cuda":
            torch.cuda.empty_cache()
        while self.restore:
            self.restore.pop()()


def _pipeline(spec: WorkloadSpec, rank: int, world: int, device: str):
    import torch
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

    layout = spec.parallel
    whole = models.per_rank_spec(spec, spec.batch_size)  # the stages together run the global batch
    restore = models.fp32_precision(whole, device)
    model = models.build_model(whole, device)
    module = decoder_stage(model, rank, world)
    del model
    gc.collect()
    stage = PipelineStage(module, rank, world, torch.device(device))
    schedule_class = {"gpipe": ScheduleGPipe, "1f1b": Schedule1F1B}[layout.schedule]
    schedule = schedule_class(stage, n_microbatches=layout.micro_batches, loss_fn=_causal_lm_loss)
    token_ids = models.make_inputs(whole, module, device).token_ids  # the same batch on every rank (seed)
    return PipelineWorkload(
        spec=spec, device=device, stage=module, schedule=schedule, token_ids=token_ids,
        optimizer=models.make_optimizer(whole, module, device), first=rank == 0, last=rank == world - 1,
        params=models.count_params(module), restore=restore,
    )


# --------------------------------------------------------------------------- tensor parallel


def tensor_plan(model) -> dict[str, Any]:
    """The Megatron-style plan for a Llama-shaped decoder: module path -> ColwiseParallel / RowwiseParallel."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    plan: dict[str, Any] = {"lm_head": ColwiseParallel()}
    for i in range(len(model.model.layers)):
        prefix = f"model.layers.{i}."
        for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"):
            plan[prefix + name] = ColwiseParallel()
        for name in ("self_attn.o_proj", "mlp.down_proj"):
            plan[prefix + name] = RowwiseParallel()
    return plan


def _tensor(spec: WorkloadSpec, rank: int, world: int, device: str):
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import parallelize_module

    whole = models.per_rank_spec(spec, spec.batch_size)
    restore = models.fp32_precision(whole, device)
    model = models.build_model(whole, device)  # the seed's weights; each rank keeps its shard
    mesh = init_device_mesh(torch.device(device).type, (world,))
    parallelize_module(model, mesh, tensor_plan(model))
    gc.collect()
    inputs = models.make_inputs(whole, model, device)  # the same batch on every rank
    return models.assemble_workload(whole, device, model, inputs, None, restore=restore)

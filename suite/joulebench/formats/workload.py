"""The workload spec: one pinned, rebuildable workload (workloads/<track>/<id>.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import (
    MAX_COUNT,
    Domain,
    DType,
    Identifier,
    JsonObject,
    Seconds,
    Strict,
    Task,
    Text,
    Version,
    content_hash,
    omit_none,
)

ParallelStrategy = Literal["ddp", "fsdp", "pipeline", "tensor"]
DistributedBackend = Literal["nccl", "gloo"]

class ModelConfig(Strict):
    """Enough to rebuild the model with random weights, without a download."""

    # "external": a model joulebench cannot rebuild (an imported study's Keras
    # or Ollama model); such specs only appear inside imported run records.
    library: Literal["torchvision", "transformers", "external"]
    # torchvision: the builder function (resnet50); transformers: the model
    # class (LlamaForCausalLM), built from `config` via AutoConfig.for_model.
    architecture: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    config: JsonObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _transformers_needs_model_type(self) -> ModelConfig:
        if self.library == "transformers" and "model_type" not in self.config:
            raise ValueError("a transformers model needs config.model_type (e.g. 'llama')")
        return self


class ParallelLayout(Strict):
    """How one iteration is spread over ranks (one process per GPU; on CPU tracks, one per core group).

    The ranks form a grid of data x tensor x pipeline parallel degrees that
    fills `nodes` x `ranks_per_node` exactly. With a layout, the spec's
    `batch_size` is the *global* batch of one iteration (over all data-parallel
    ranks) and `flops_per_iteration` the FLOPs of the whole job's iteration.
    """

    strategy: ParallelStrategy
    backend: DistributedBackend
    nodes: int = Field(ge=1)
    ranks_per_node: int = Field(ge=1)
    data_parallel: int = Field(default=1, ge=1)
    tensor_parallel: int = Field(default=1, ge=1)
    pipeline_parallel: int = Field(default=1, ge=1)
    # fsdp: how parameters, gradients and optimizer state are sharded.
    sharding: Literal["full_shard", "shard_grad_op", "hybrid_shard"] | None = None
    # fsdp: the dtype parameters are gathered and gradients reduced in (mixed precision).
    reduce_dtype: DType | None = None
    # pipeline: the schedule and how many micro-batches one iteration is cut into.
    schedule: Literal["gpipe", "1f1b"] | None = None
    micro_batches: int | None = Field(default=None, ge=1)

    @property
    def world_size(self) -> int:
        return self.nodes * self.ranks_per_node

    @model_validator(mode="after")
    def _grid_fills_the_ranks(self) -> ParallelLayout:
        grid = self.data_parallel * self.tensor_parallel * self.pipeline_parallel
        if grid != self.world_size:
            raise ValueError(
                f"data_parallel x tensor_parallel x pipeline_parallel = {grid} must equal "
                f"nodes x ranks_per_node = {self.world_size}"
            )
        expected = {"ddp": "data_parallel", "fsdp": "data_parallel", "pipeline": "pipeline_parallel",
                    "tensor": "tensor_parallel"}[self.strategy]
        if getattr(self, expected) != self.world_size:
            raise ValueError(f"a {self.strategy} layout spreads over {expected} = world size {self.world_size}, "
                             f"got {getattr(self, expected)}")
        if (self.sharding is None) != (self.strategy != "fsdp"):
            raise ValueError("sharding is required for fsdp and only applies to fsdp")
        if self.reduce_dtype is not None and self.strategy != "fsdp":
            raise ValueError("reduce_dtype only applies to fsdp")
        pipeline = self.strategy == "pipeline"
        if pipeline and (self.schedule is None or self.micro_batches is None):
            raise ValueError("a pipeline layout needs schedule and micro_batches")
        if not pipeline and (self.schedule is not None or self.micro_batches is not None):
            raise ValueError("schedule and micro_batches only apply to pipeline layouts")
        return self


class WorkloadSpec(Strict):
    # Added with multi-GPU tracks; left out of the dump (and the hash) when unset.
    id: Identifier
    track: Identifier
    domain: Domain
    task: Task
    description: Text = ""
    model: ModelConfig
    dtype: DType
    batch_size: int = Field(gt=0, le=10_000_000)
    image_size: int | None = Field(default=None, gt=0, le=100_000)
    seq_len: int | None = Field(default=None, gt=0, le=100_000_000, description="prompt / sequence length in tokens")
    new_tokens: int | None = Field(default=None, gt=0, le=100_000_000, description="tokens generated per iteration")
    optimizer: Literal["sgd", "adamw"] | None = None
    learning_rate: float | None = Field(default=None, gt=0, le=100)
    warmup_iterations: int = Field(ge=0, le=1_000_000_000)
    measured_iterations: int = Field(gt=0, le=MAX_COUNT)
    repeats: int = Field(gt=0, le=10_000)
    seed: int = Field(ge=0, le=2**63 - 1)
    # Counted when the spec was pinned, so static estimators need no torch.
    # None only for an external model whose size is not known (an imported MLPerf
    # RNN-T or DLRM joulebench cannot build) or where parameters mean nothing (NPB).
    params: int | None = Field(gt=0, le=10**15)
    # At most 1e24 FLOPs per iteration: a whole frontier training run is about 1e25.
    flops_per_iteration: float | None = Field(default=None, gt=0, le=1e24)
    flops_method: Text = ""
    # What one measured window is sized for; an estimate until measured.
    target_window_s: Seconds | None = None
    pinned_with: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)], Version] = Field(
        default_factory=dict, max_length=100
    )
    # Multi-rank workloads (gpu-v1-multi, smoke-multi): the layout, and the bytes
    # one iteration communicates over all ranks, a public fact computed from the
    # layout by the formula `comm_method` states (joulebench.catalog.parallel).
    parallel: ParallelLayout | None = Field(default=None, exclude_if=omit_none)
    comm_bytes_per_iteration: int | None = Field(default=None, ge=0, le=10**18, exclude_if=omit_none)
    comm_method: Text | None = Field(default=None, exclude_if=omit_none)

    @model_validator(mode="after")
    def _task_fields(self) -> WorkloadSpec:
        external = self.model.library == "external"
        if self.flops_per_iteration is None and not external:
            raise ValueError("flops_per_iteration is required (run `joulebench workloads pin`)")
        if self.params is None and not external:
            raise ValueError("params is required (run `joulebench workloads pin`)")
        # An imported (external) workload may leave its input shape unknown: ML.ENERGY
        # and MLPerf do not publish prompt lengths, KiTS19 volumes have no one size.
        if self.domain == "vision" and self.image_size is None and not external:
            raise ValueError("a vision workload needs image_size")
        if self.domain == "language" and self.seq_len is None and not external:
            raise ValueError("a language workload needs seq_len")
        if self.task == "generate" and self.domain == "language" and self.new_tokens is None:
            raise ValueError("a generate workload needs new_tokens")
        if self.new_tokens is not None and (self.task != "generate" or self.domain != "language"):
            raise ValueError(f"new_tokens only applies to language generate workloads, not {self.domain} {self.task}")
        if self.task == "train" and self.optimizer is None:
            raise ValueError("a train workload needs optimizer (sgd or adamw)")
        if self.task != "train" and self.optimizer is not None:
            raise ValueError(f"optimizer only applies to train workloads, not {self.task}")
        return self._parallel_fields()

    def _parallel_fields(self) -> WorkloadSpec:
        layout = self.parallel
        if layout is None:
            if self.comm_bytes_per_iteration is not None or self.comm_method is not None:
                raise ValueError("comm_bytes_per_iteration and comm_method only apply to workloads with a parallel layout")
            return self
        if self.comm_bytes_per_iteration is None or not self.comm_method:
            raise ValueError("a parallel workload needs comm_bytes_per_iteration and the comm_method that counted it")
        split = layout.data_parallel * (layout.micro_batches or 1)
        if self.batch_size % split:
            raise ValueError(f"batch_size {self.batch_size} (the global batch) must divide into data_parallel "
                             f"{layout.data_parallel} x micro_batches {layout.micro_batches or 1} = {split}")
        return self

    @property
    def spec_hash(self) -> str:
        return content_hash(self)

    @property
    def world_size(self) -> int:
        """Ranks one iteration runs on (1 without a parallel layout)."""
        return self.parallel.world_size if self.parallel else 1

    @property
    def node_count(self) -> int:
        return self.parallel.nodes if self.parallel else 1

    @property
    def items_per_iteration(self) -> int:
        """Images or sequences processed by one iteration."""
        return self.batch_size

    @property
    def tokens_per_iteration(self) -> int | None:
        """Tokens one iteration processes; None when not a language workload or not known."""
        if self.domain != "language":
            return None
        per_sequence = self.new_tokens if self.task == "generate" else self.seq_len
        return self.batch_size * per_sequence if per_sequence is not None else None

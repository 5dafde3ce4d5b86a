"""The workload spec: one pinned, rebuildable workload (workloads/<track>/<id>.yaml)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import (
    MAX_COUNT,
    DType,
    Domain,
    Identifier,
    JsonObject,
    Line,
    Seconds,
    Strict,
    Task,
    Text,
    Version,
    content_hash,
)

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


class WorkloadSpec(Strict):
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
    params: int = Field(gt=0, le=10**15)
    # At most 1e24 FLOPs per iteration: a whole frontier training run is about 1e25.
    flops_per_iteration: float | None = Field(default=None, gt=0, le=1e24)
    flops_method: Text = ""
    # What one measured window is sized for; an estimate until measured.
    target_window_s: Seconds | None = None
    pinned_with: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)], Version] = Field(
        default_factory=dict, max_length=100
    )

    @model_validator(mode="after")
    def _task_fields(self) -> WorkloadSpec:
        if self.flops_per_iteration is None and self.model.library != "external":
            raise ValueError("flops_per_iteration is required (run `joulebench workloads pin`)")
        if self.domain == "vision" and self.image_size is None:
            raise ValueError("a vision workload needs image_size")
        if self.domain == "language" and self.seq_len is None:
            raise ValueError("a language workload needs seq_len")
        if self.task == "generate" and self.new_tokens is None:
            raise ValueError("a generate workload needs new_tokens")
        if self.task != "generate" and self.new_tokens is not None:
            raise ValueError(f"new_tokens only applies to generate workloads, not {self.task}")
        if self.task == "train" and self.optimizer is None:
            raise ValueError("a train workload needs optimizer (sgd or adamw)")
        if self.task != "train" and self.optimizer is not None:
            raise ValueError(f"optimizer only applies to train workloads, not {self.task}")
        return self

    @property
    def spec_hash(self) -> str:
        return content_hash(self)

    @property
    def items_per_iteration(self) -> int:
        """Images or sequences processed by one iteration."""
        return self.batch_size

    @property
    def tokens_per_iteration(self) -> int | None:
        if self.domain != "language":
            return None
        if self.task == "generate":
            return self.batch_size * (self.new_tokens or 0)
        return self.batch_size * (self.seq_len or 0)

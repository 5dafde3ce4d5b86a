"""The workload spec: one pinned, rebuildable workload (workloads/<track>/<id>.yaml)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from joulebench.formats.vocabulary import DType, Domain, Identifier, Seconds, Strict, Task, content_hash

class ModelConfig(Strict):
    """Enough to rebuild the model with random weights, without a download."""

    # "external": a model joulebench cannot rebuild (an imported study's Keras
    # or Ollama model); such specs only appear inside imported run records.
    library: Literal["torchvision", "transformers", "external"]
    # torchvision: the builder function (resnet50); transformers: the model
    # class (LlamaForCausalLM), built from `config` via AutoConfig.for_model.
    architecture: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    config: dict[str, Any] = Field(default_factory=dict)

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
    description: str = ""
    model: ModelConfig
    dtype: DType
    batch_size: int = Field(gt=0)
    image_size: int | None = Field(default=None, gt=0)
    seq_len: int | None = Field(default=None, gt=0, description="prompt / sequence length in tokens")
    new_tokens: int | None = Field(default=None, gt=0, description="tokens generated per iteration")
    optimizer: Literal["sgd", "adamw"] | None = None
    learning_rate: float | None = Field(default=None, gt=0)
    warmup_iterations: int = Field(ge=0)
    measured_iterations: int = Field(gt=0)
    repeats: int = Field(gt=0)
    seed: int = Field(ge=0)
    # Counted when the spec was pinned, so static estimators need no torch.
    # None only for an external model whose size is not known (an imported MLPerf
    # RNN-T or DLRM joulebench cannot build) or where parameters mean nothing (NPB).
    params: int | None = Field(gt=0)
    flops_per_iteration: float | None = Field(default=None, gt=0)
    flops_method: str = ""
    # What one measured window is sized for; an estimate until measured.
    target_window_s: Seconds | None = None
    pinned_with: dict[str, str] = Field(default_factory=dict)

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
        """Tokens one iteration processes; None when not a language workload or not known."""
        if self.domain != "language":
            return None
        per_sequence = self.new_tokens if self.task == "generate" else self.seq_len
        return self.batch_size * per_sequence if per_sequence is not None else None

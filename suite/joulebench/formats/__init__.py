"""Pydantic models of every file format joulebench reads or writes.

Units live in field names (`_w`, `_j`, `_s`, `_gib`) and a value in a YAML file
may carry its unit as text ("700 W"); a different unit ("0.7 kW") is refused
rather than converted, so a typo never silently changes a number.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

RECORD_SCHEMA_VERSION = 1

Boundary = Literal["gpu", "cpu", "dram", "node"]
BOUNDARIES: tuple[str, ...] = ("gpu", "cpu", "dram", "node")
MeterMethod = Literal["counter", "integrated"]
Domain = Literal["vision", "language"]
Task = Literal["train", "infer", "generate"]
DType = Literal["float32", "bfloat16", "float16"]

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=120)]

_QUANTITY = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/%]+)?\s*$")


def _unit_parser(unit: str):
    """Accept a number, or a string "<number> <unit>" whose unit is exactly `unit`."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            match = _QUANTITY.match(value)
            if not match:
                raise ValueError(f"expected a number in {unit}, got {value!r}")
            number, given = match.groups()
            if given is not None and given != unit:
                raise ValueError(f"expected a value in {unit}, got unit {given!r} in {value!r}")
            return float(number)
        return value

    return BeforeValidator(parse)


Watts = Annotated[float, _unit_parser("W"), Field(gt=0)]
GiB = Annotated[float, _unit_parser("GiB"), Field(gt=0)]
TFLOPS = Annotated[float, _unit_parser("TFLOPS"), Field(gt=0)]
Seconds = Annotated[float, _unit_parser("s"), Field(ge=0)]


class Strict(BaseModel):
    """Base for file formats: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def content_hash(model: BaseModel) -> str:
    """sha256 of a model's canonical JSON (sorted keys, no whitespace)."""
    # model_dump_json is cheap; the canonical form is computed once per distinct
    # content (thousands of records embed the same few specs and profiles).
    return _canonical_hash(model.model_dump_json())


@functools.lru_cache(maxsize=4096)
def _canonical_hash(dumped: str) -> str:
    payload = json.dumps(json.loads(dumped), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


# --------------------------------------------------------------------------- workloads


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
    params: int = Field(gt=0)
    flops_per_iteration: float | None = Field(default=None, gt=0)
    flops_method: str = ""
    # What one measured window is sized for; an estimate until measured.
    target_window_s: Seconds | None = None
    pinned_with: dict[str, str] = Field(default_factory=dict)

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


# --------------------------------------------------------------------------- hardware


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


# --------------------------------------------------------------------------- run records


class DetectedGpu(Strict):
    index: int
    name: str
    memory_gib: float | None = None
    power_limit_w: float | None = None
    uuid_hash: str | None = None  # sha256 prefix: identifies a board without publishing its UUID


class DetectedHardware(Strict):
    gpus: list[DetectedGpu] = Field(default_factory=list)
    gpu_driver: str | None = None
    cpu_model: str | None = None
    cpu_sockets: int | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    memory_gib: float | None = None


class HardwareCheck(Strict):
    profile_id: str
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Environment(Strict):
    python: str
    platform: str
    joulebench: str
    torch: str | None = None
    cuda: str | None = None
    cudnn: str | None = None
    gpu_driver: str | None = None
    torchvision: str | None = None
    transformers: str | None = None
    nvidia_ml_py: str | None = None
    container_image_digest: str | None = None


class BoundaryEnergy(Strict):
    """What one meter measured over one window."""

    boundary: Boundary
    meter_id: str
    method: MeterMethod
    update_period_s: float = Field(gt=0)
    energy_j: float = Field(ge=0)
    mean_power_w: float = Field(ge=0)
    idle_power_w: float | None = Field(default=None, ge=0)
    # idle_power_w x duration: what the boundary draws doing nothing.
    static_energy_j: float | None = Field(default=None, ge=0)
    # energy_j - static_energy_j; can be slightly negative on a noisy idle.
    dynamic_energy_j: float | None = None
    per_device_j: dict[str, float] = Field(default_factory=dict)
    # The smallest step the meter can show (1 Wh = 3600 J for a kWh display).
    resolution_j: float | None = Field(default=None, gt=0)


class MissingBoundary(Strict):
    boundary: Boundary
    reason: str


class PowerTrace(Strict):
    """Downsampled samples taken in the background during the window."""

    period_s: float = Field(gt=0)
    t_s: list[float]
    power_w: dict[str, list[float | None]] = Field(default_factory=dict)
    gpu_util_pct: list[float | None] = Field(default_factory=list)
    cpu_util_pct: list[float | None] = Field(default_factory=list)

    @property
    def mean_gpu_util_pct(self) -> float | None:
        values = [v for v in self.gpu_util_pct if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def mean_cpu_util_pct(self) -> float | None:
        values = [v for v in self.cpu_util_pct if v is not None]
        return sum(values) / len(values) if values else None


class LiveEstimate(Strict):
    """What a live estimator said about the same window, raw output kept."""

    estimator_id: str
    estimator_version: str
    boundary: Boundary
    energy_j: float = Field(ge=0)
    mode: str = ""
    raw: dict[str, Any] = Field(default_factory=dict)


class Provenance(Strict):
    """Where a record that joulebench did not measure itself comes from."""

    source: str
    citation: str
    repository: str | None = None
    files: list[str] = Field(default_factory=list)
    commit: str | None = None
    note: str = ""


class RunRecord(Strict):
    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    run_id: str
    suite_version: str
    site: Identifier
    repeat: int = Field(ge=1)
    workload: WorkloadSpec
    spec_hash: str
    profile: HardwareProfile
    profile_hash: str
    hardware: DetectedHardware
    hardware_check: HardwareCheck
    environment: Environment
    started_at: datetime
    ended_at: datetime
    duration_s: float = Field(gt=0)
    iterations: int = Field(gt=0)
    items: int = Field(ge=0)
    tokens: int | None = Field(default=None, ge=0)
    device_count: int = Field(ge=0)
    idle_window_s: float = Field(ge=0)
    energy: list[BoundaryEnergy] = Field(description="primary meter per boundary: the truth")
    cross_checks: list[BoundaryEnergy] = Field(default_factory=list)
    missing_boundaries: list[MissingBoundary] = Field(default_factory=list)
    trace: PowerTrace | None = None
    live_estimates: list[LiveEstimate] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RunRecord:
        if self.spec_hash != self.workload.spec_hash:
            raise ValueError("spec_hash does not match the embedded workload spec")
        if self.profile_hash != self.profile.profile_hash:
            raise ValueError("profile_hash does not match the embedded hardware profile")
        seen = [e.boundary for e in self.energy]
        if len(seen) != len(set(seen)):
            raise ValueError(f"more than one primary meter for a boundary: {seen}")
        return self

    def truth_j(self, boundary: str) -> float | None:
        """Metered energy for a boundary, or None when no meter covered it."""
        for entry in self.energy:
            if entry.boundary == boundary:
                return entry.energy_j
        return None


def make_run_id(site: str, spec: WorkloadSpec, repeat: int) -> str:
    """Deterministic, so a rerun finds (and skips) windows already recorded."""
    return f"{site}.{spec.id}.{spec.spec_hash[:10]}.r{repeat:02d}"


# --------------------------------------------------------------------------- site meters (--meters CONFIG)

_SECRET_KEYS = ("password", "passwd", "pass", "secret", "token", "api_key", "key")
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=120)]


def _base_url(value: Any) -> Any:
    """An http(s) base URL with no user:password@ (credentials never live in the file)."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// address, got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("an address must not carry user:password@; use the credentials block (password_env or password_file)")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a base address without ?query or #fragment, got {value!r}")
    return value.rstrip("/")


BaseUrl = Annotated[str, BeforeValidator(_base_url)]


class MeterCredentialsConfig(Strict):
    """Where a meter's credentials come from; never the values themselves."""

    username: str | None = None  # a user name is not a secret
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    password_file: str | None = Field(default=None, description="a file readable by its owner only (chmod 600)")

    @model_validator(mode="before")
    @classmethod
    def _no_plain_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if str(key).lower() in _SECRET_KEYS:
                    raise ValueError(
                        f"a {key!r} written in the meters file is refused: name an environment variable "
                        "(password_env) or a private file (password_file) instead"
                    )
        return data

    @model_validator(mode="after")
    def _one_source_each(self) -> MeterCredentialsConfig:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if self.username and self.username_env:
            raise ValueError("give username or username_env, not both")
        return self


class _ExternalMeterConfig(Strict):
    id: Identifier
    boundary: Boundary = "node"
    # The first primary meter of a boundary is its truth; a cross-check is compared with it.
    role: Literal["primary", "cross-check"] = "primary"
    url: BaseUrl
    method: Literal["auto", "counter", "integrated"] = "auto"
    poll_period_s: Annotated[float, _unit_parser("s"), Field(gt=0, le=60)] = 1.0
    # Largest gap between good samples before an integrated window is invalid (default 3 polls).
    max_gap_s: Annotated[float, _unit_parser("s"), Field(gt=0)] | None = None
    timeout_s: Annotated[float, _unit_parser("s"), Field(gt=0, le=30)] = 2.0
    credentials: MeterCredentialsConfig | None = None


class RedfishMeterConfig(_ExternalMeterConfig):
    kind: Literal["redfish"]
    chassis: str | None = Field(default=None, description="the Chassis member id; default: the first")
    source: Literal["auto", "environment-metrics", "power"] = "auto"
    power_control: int = Field(default=0, ge=0, description="index into Power.PowerControl (legacy source)")
    auth: Literal["session", "basic"] = "session"
    ca_file: str | None = Field(default=None, description="CA bundle to verify the BMC's TLS certificate")


class ShellyMeterConfig(_ExternalMeterConfig):
    kind: Literal["shelly"]
    component: Literal["switch", "pm1"] = "switch"
    channel: int = Field(default=0, ge=0)


ExternalMeterConfig = Annotated[RedfishMeterConfig | ShellyMeterConfig, Field(discriminator="kind")]


class MetersConfig(Strict):
    """The external meters a site declares (`joulebench certify --meters CONFIG`)."""

    meters: list[ExternalMeterConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MetersConfig:
        ids = [m.id for m in self.meters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"meter ids must be unique; repeated: {duplicates}")
        primaries = [m.boundary for m in self.meters if m.role == "primary"]
        twice = sorted({b for b in primaries if primaries.count(b) > 1})
        if twice:
            raise ValueError(f"more than one primary meter for boundary {twice}; mark the others role: cross-check")
        return self


# --------------------------------------------------------------------------- site certificates

Tier = Literal["A", "B", "C", "uncertified"]
TIERS: tuple[str, ...] = ("A", "B", "C", "uncertified")  # best first
CheckStatus = Literal["pass", "fail", "skip", "info"]
CheckKind = Literal[
    "hardware-profile",
    "declared-meter",
    "meter-update-period",
    "meter-read-cost",
    "meter-resolution",
    "meter-monotonic",
    "idle-stability",
    "load-step",
    "agreement",
    "cross-boundary",
    "repeatability",
    "clock",
]


class CertificationCheck(Strict):
    """One measured check: what was measured, against what, and the verdict."""

    id: str
    kind: CheckKind
    subject: str = Field(description="a meter id, a workload id, or 'site'")
    boundary: Boundary | None = Field(default=None, description="the boundary a failure decertifies; None: site-wide")
    value: float | None = None
    unit: str = ""
    threshold: str = ""
    status: CheckStatus
    detail: str = ""
    measurements: dict[str, Any] = Field(default_factory=dict)
    caps_tier: Tier | None = Field(default=None, description="on a failure: the best tier it leaves the site")


class CertificationPlan(Strict):
    """Durations and thresholds a certification ran with; all recorded in the certificate."""

    probe_s: float = Field(default=5.0, gt=0)
    idle_s: float = Field(default=30.0, gt=0)
    idle_bucket_s: float = Field(default=1.0, gt=0)
    idle_cv_max: float = Field(default=0.05, gt=0)
    step_baseline_s: float = Field(default=10.0, gt=0)
    step_load_s: float = Field(default=20.0, gt=0)
    step_bucket_s: float = Field(default=0.5, gt=0)
    step_rise_max_s_component: float = Field(default=2.0, gt=0)
    step_rise_max_s_node: float = Field(default=5.0, gt=0)
    step_min_rise_fraction: float = Field(default=0.10, gt=0)
    step_settle_cv_max: float = Field(default=0.05, gt=0)
    max_update_period_s: float = Field(default=1.0, gt=0, description="integrated meters: at least 1 Hz")
    max_counter_update_period_s: float = Field(default=2.0, gt=0)
    read_cost_max_fraction: float = Field(default=0.5, gt=0, description="of the update period")
    reference_window_s: float = Field(default=10.0, gt=0)
    resolution_max_fraction: float = Field(default=0.01, gt=0)
    agreement_max: float = Field(default=0.03, gt=0)
    cross_boundary_min_ratio: float = Field(default=1.0, gt=0)
    repeats: int = Field(default=3, gt=0)
    repeatability_cv_max: float = Field(default=0.02, gt=0)
    compute_bound_util_min_pct: float = Field(default=80.0, ge=0, le=100)
    clock_offset_max_s: float = Field(default=2.0, gt=0)
    workloads: list[str] = Field(default_factory=list)

    #: the least a certification may do and still count on the leaderboard
    STANDARD_MIN_IDLE_S: ClassVar[float] = 30.0
    STANDARD_MIN_REPEATS: ClassVar[int] = 3
    STANDARD_MIN_WORKLOADS: ClassVar[int] = 3

    def meets_standard(self) -> list[str]:
        """Why this plan falls short of the standard one (empty: it does not)."""
        short = []
        if self.idle_s < self.STANDARD_MIN_IDLE_S:
            short.append(f"idle window {self.idle_s:g} s < {self.STANDARD_MIN_IDLE_S:g} s")
        if self.repeats < self.STANDARD_MIN_REPEATS:
            short.append(f"{self.repeats} repeats < {self.STANDARD_MIN_REPEATS}")
        if len(self.workloads) < self.STANDARD_MIN_WORKLOADS:
            short.append(f"{len(self.workloads)} workloads < {self.STANDARD_MIN_WORKLOADS}")
        defaults = CertificationPlan()
        for name in ("idle_cv_max", "agreement_max", "repeatability_cv_max", "cross_boundary_min_ratio"):
            looser = getattr(self, name) < getattr(defaults, name) if name == "cross_boundary_min_ratio" else getattr(self, name) > getattr(defaults, name)
            if looser:
                short.append(f"{name} {getattr(self, name):g} is looser than the standard {getattr(defaults, name):g}")
        return short


class RecordDigest(Strict):
    path: str = Field(description="relative to the certificate's folder")
    run_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class CertificateSignature(Strict):
    algorithm: Literal["ed25519"]
    public_key: str = Field(description="raw 32-byte public key, base64")
    key_id: str = Field(description="sha256 of the raw public key, first 16 hex digits")
    value: str = Field(description="base64 signature over the certificate's canonical JSON without `signature`")


class Certificate(Strict):
    schema_version: Literal[1] = 1
    site: Identifier
    profile_id: str
    profile_hash: str
    suite_version: str
    created_at: datetime
    tier: Tier
    tier_reasons: list[str] = Field(default_factory=list)
    certified_boundaries: list[Boundary] = Field(default_factory=list)
    standard_plan: bool
    plan: CertificationPlan
    hardware: DetectedHardware | None = None
    meters: list[dict[str, Any]] = Field(default_factory=list)
    checks: list[CertificationCheck]
    records: list[RecordDigest] = Field(default_factory=list)
    signature: CertificateSignature | None = None




# --------------------------------------------------------------------------- estimates and scores


class RunFacts(Strict):
    """What a static estimator may know about a run: only what any user could know.

    The spec, the declared hardware and what a user observes while the job runs
    (how long, how many iterations, how busy the devices looked). Never the
    metered energy and never the power trace: an estimator that saw those would
    be reading the answer. The sandbox pipes this model, as JSON, into
    estimators it does not trust.
    """

    run_id: str
    workload: WorkloadSpec
    profile: HardwareProfile
    duration_s: float = Field(gt=0)
    iterations: int = Field(gt=0)
    items: int = Field(ge=0)
    tokens: int | None = Field(default=None, ge=0)
    device_count: int = Field(ge=0, description="accelerators the run used")
    # Means of the utilisation samples of the trace; None when there was no trace.
    mean_gpu_util_pct: float | None = Field(default=None, ge=0)
    mean_cpu_util_pct: float | None = Field(default=None, ge=0)

    @classmethod
    def from_record(cls, record: RunRecord) -> RunFacts:
        trace = record.trace
        return cls(
            run_id=record.run_id,
            workload=record.workload,
            profile=record.profile,
            duration_s=record.duration_s,
            iterations=record.iterations,
            items=record.items,
            tokens=record.tokens,
            device_count=record.device_count,
            mean_gpu_util_pct=trace.mean_gpu_util_pct if trace else None,
            mean_cpu_util_pct=trace.mean_cpu_util_pct if trace else None,
        )


class Estimate(Strict):
    """One row of an estimates file: what an estimator said one run drew at one boundary."""

    estimator_id: Identifier
    estimator_version: Annotated[str, Field(min_length=1, max_length=64)]
    run_id: Annotated[str, Field(min_length=1, max_length=300)]
    boundary: Boundary
    energy_j: float = Field(ge=0, allow_inf_nan=False, description="joules (1 kWh = 3,600,000 J)")
    # Optional; when given it must say joules, so a file in kWh is refused, not misread.
    unit: Literal["J"] = "J"


class EstimateFile(Strict):
    """A submission of estimates produced outside joulebench (JSON form; CSV has the same columns)."""

    schema_version: Literal[1] = 1
    estimates: list[Estimate] = Field(min_length=1)


SliceDimension = Literal["all", "domain", "task", "size", "profile", "site"]
EstimatorSource = Literal["static", "live", "submission"]


class Interval(Strict):
    low: float
    high: float


class MetricInfo(Strict):
    """How to read one metric; travels with the scores so a renderer needs no code."""

    name: str
    display: str
    unit: str
    lower_is_better: bool | None
    description: str


class ScoredEstimator(Strict):
    id: str
    version: str
    source: EstimatorSource
    boundaries: list[Boundary]
    available: bool = True
    reason: str = ""
    # Runs the estimator was asked about and failed on (an exception or an invalid value).
    failures: int = 0


class Score(Strict):
    """One estimator on one boundary over one slice of the runs.

    Relative errors are (estimate - truth) / truth, in percent. n counts runs
    with both metered truth and an estimate; coverage = n / n_truth, the share
    of the runs it could be scored on that it did answer for.
    """

    estimator_id: str
    estimator_version: str
    source: EstimatorSource
    boundary: Boundary
    slice: SliceDimension
    slice_value: str
    n_runs: int = Field(ge=0, description="runs in the slice")
    n_truth: int = Field(ge=0, description="runs in the slice with metered truth at this boundary")
    n_estimates: int = Field(ge=0, description="runs in the slice with an estimate at this boundary")
    n: int = Field(ge=0, description="runs scored: truth and estimate both present")
    n_workloads: int = Field(ge=0, description="distinct workloads among the scored runs")
    coverage: float | None = None
    mape_pct: float | None = None
    mape_ci_pct: Interval | None = None
    median_ape_pct: float | None = None
    signed_mean_error_pct: float | None = None
    signed_mean_error_ci_pct: Interval | None = None
    p90_ape_pct: float | None = None
    max_ape_pct: float | None = None
    rank: int | None = Field(default=None, description="by MAPE; tied estimators share the rank of the first of their group")
    tied_with_previous: bool | None = None


class Comparison(Strict):
    """Paired comparison of two neighbours in a ranking, on the runs both answered."""

    boundary: Boundary
    slice: SliceDimension
    slice_value: str
    better: str
    worse: str
    n_common: int
    n_common_workloads: int
    mape_diff_pct: float | None = None
    mape_diff_ci_pct: Interval | None = None
    tied: bool
    basis: str


class ScoringSettings(Strict):
    resamples: int
    confidence: float
    seed: int
    resampling_unit: Literal["workload"] = "workload"
    ci_method: str
    tie_rule: str


class RunsOverview(Strict):
    n_runs: int
    n_workloads: int
    sites: list[str]
    profiles: list[str]
    truth_runs: dict[str, int] = Field(description="runs with metered truth, per boundary")
    run_ids_sha256: str = Field(description="sha256 of the sorted run ids scored")
    filters: dict[str, str] = Field(default_factory=dict)


class ScoreSummary(Strict):
    """Everything the leaderboard reads: it never opens run records itself."""

    schema_version: Literal[1] = 1
    suite_version: str
    settings: ScoringSettings
    runs: RunsOverview
    metrics: list[MetricInfo]
    estimators: list[ScoredEstimator]
    scores: list[Score]
    comparisons: list[Comparison]
    problems: list[str] = Field(default_factory=list)


# `joulebench schema NAME` prints these.
SCHEMAS: dict[str, type[BaseModel]] = {
    "workload": WorkloadSpec,
    "profile": HardwareProfile,
    "run": RunRecord,
    "meters": MetersConfig,
    "certificate": Certificate,
    "estimate": EstimateFile,
    "run-facts": RunFacts,
    "scores": ScoreSummary,
}

"""The site certificate: measured checks, the tier they allow, and the records they cover."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from joulebench.formats.record import DetectedHardware
from joulebench.formats.vocabulary import (
    Boundary,
    CheckStatus,
    Identifier,
    JsonObject,
    Line,
    RunId,
    Sha256,
    Strict,
    Text,
    Tier,
)

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

    id: Line
    kind: CheckKind
    subject: Line = Field(description="a meter id, a workload id, or 'site'")
    boundary: Boundary | None = Field(default=None, description="the boundary a failure decertifies; None: site-wide")
    value: float | None = None
    unit: Line = ""
    threshold: Line = ""
    status: CheckStatus
    detail: Text = ""
    measurements: JsonObject = Field(default_factory=dict)
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
    repeats: int = Field(default=3, gt=0, le=1000)
    repeatability_cv_max: float = Field(default=0.02, gt=0)
    compute_bound_util_min_pct: float = Field(default=80.0, ge=0, le=100)
    clock_offset_max_s: float = Field(default=2.0, gt=0)
    workloads: list[Identifier] = Field(default_factory=list, max_length=1000)

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
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*\.json$", max_length=310)] = Field(
        description="the record's file name in the certificate's folder")
    run_id: RunId
    sha256: Sha256


def _base64_of(size: int, what: str):
    def check(value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"expected {what} in base64") from None
        if len(raw) != size:
            raise ValueError(f"expected {what} of {size} bytes in base64, got {len(raw)} bytes")
        return value

    return AfterValidator(check)


PublicKey = Annotated[str, Field(max_length=100), _base64_of(32, "a raw ed25519 public key")]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class CertificateSignature(Strict):
    algorithm: Literal["ed25519"]
    public_key: PublicKey = Field(description="raw 32-byte public key, base64")
    key_id: KeyId = Field(description="sha256 of the raw public key, first 16 hex digits")
    value: Annotated[str, Field(max_length=200), _base64_of(64, "an ed25519 signature")] = Field(
        description="base64 signature over the certificate's canonical JSON without `signature`")


class Certificate(Strict):
    schema_version: Literal[1] = 1
    site: Identifier
    profile_id: Identifier
    profile_hash: Sha256
    suite_version: Line
    created_at: datetime
    tier: Tier
    tier_reasons: list[Text] = Field(default_factory=list, max_length=10_000)
    certified_boundaries: list[Boundary] = Field(default_factory=list, max_length=4)
    standard_plan: bool
    plan: CertificationPlan
    hardware: DetectedHardware | None = None
    meters: list[JsonObject] = Field(default_factory=list, max_length=64)
    checks: list[CertificationCheck] = Field(max_length=100_000)
    records: list[RecordDigest] = Field(default_factory=list, max_length=1_000_000)
    signature: CertificateSignature | None = None

    @model_validator(mode="after")
    def _records_once(self) -> Certificate:
        paths = [r.path for r in self.records]
        if len(paths) != len(set(paths)):
            twice = sorted({p for p in paths if paths.count(p) > 1})[:3]
            raise ValueError(f"records: a record is listed twice ({', '.join(twice)})")
        return self


class TrustedKey(Strict):
    """A public key whose signatures grant tiers, and the sites it may certify."""

    id: Identifier = Field(description="a name for people: who holds the key")
    public_key: PublicKey = Field(description="the raw 32-byte ed25519 public key, base64 (as in a certificate's signature)")
    sites: list[Identifier] = Field(min_length=1, max_length=10_000, description="the site folders this key may certify")
    note: Text = Field(default="", description="who reviewed it, and when")


class TrustedKeys(Strict):
    """trusted-keys.yaml: the only keys whose certificates count. Kept in the repository, reviewed like code."""

    schema_version: Literal[1] = 1
    keys: list[TrustedKey] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _unique(self) -> TrustedKeys:
        ids = [k.id for k in self.keys]
        keys = [k.public_key for k in self.keys]
        if len(ids) != len(set(ids)):
            raise ValueError(f"keys: an id is used twice ({sorted({i for i in ids if ids.count(i) > 1})[0]})")
        if len(keys) != len(set(keys)):
            raise ValueError("keys: a public key is listed twice; list its sites under one entry")
        return self

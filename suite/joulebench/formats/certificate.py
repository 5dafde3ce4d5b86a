"""The site certificate: measured checks, the tier they allow, and the records they cover."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from joulebench.formats.record import DetectedHardware
from joulebench.formats.vocabulary import Boundary, CheckStatus, Identifier, Strict, Tier

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

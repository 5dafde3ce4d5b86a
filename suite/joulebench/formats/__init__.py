"""Every file format joulebench reads or writes, as pydantic models: one module per file kind.

- vocabulary: boundaries, tiers, ids, units, the strict base model, content hashes
- workload: WorkloadSpec (workloads/<track>/<id>.yaml)
- profile: HardwareProfile (profiles/<id>.yaml)
- record: RunRecord (results/<site>/<run_id>.json)
- meters: MetersConfig (a site's --meters CONFIG)
- certificate: Certificate (results/<site>/certificate.json)
- estimate: RunFacts (what a static estimator may see), estimates files
- scores: ScoreSummary (what the leaderboard reads)
- submission: SubmissionManifest (submissions/<id>/submission.yaml)
- launch: LaunchManifest (results/<site>/_launch/<id>/manifest.json)

Everything is re-exported here, so callers write `from joulebench.formats import RunRecord`.
"""

from __future__ import annotations

from pydantic import BaseModel

from joulebench.formats.certificate import (
    Certificate,
    CertificateSignature,
    CertificationCheck,
    CertificationPlan,
    CheckKind,
    RecordDigest,
)
from joulebench.formats.estimate import Estimate, EstimateFile, RunFacts
from joulebench.formats.launch import LaunchJob, LaunchManifest, LaunchTask, SlurmSettings, TimeLimitRule
from joulebench.formats.meters import (
    ExternalMeterConfig,
    MeterCredentialsConfig,
    MetersConfig,
    RedfishMeterConfig,
    ShellyMeterConfig,
)
from joulebench.formats.profile import (
    AcceleratorSpec,
    CpuSpec,
    DeclaredMeter,
    HardwareProfile,
    MemorySpec,
    PeakThroughput,
)
from joulebench.formats.record import (
    RECORD_SCHEMA_VERSION,
    BoundaryEnergy,
    DetectedGpu,
    DetectedHardware,
    Environment,
    HardwareCheck,
    LiveEstimate,
    MissingBoundary,
    NodeEnergy,
    PowerTrace,
    Provenance,
    RunRecord,
    SchedulerInfo,
    SourceLine,
    Topology,
    TruthUncertainty,
    WindowSync,
    make_run_id,
)
from joulebench.formats.scores import (
    Comparison,
    EstimatorAnswers,
    FitOverlap,
    Interval,
    MetricInfo,
    PerRun,
    RunsOverview,
    Score,
    ScoredEstimator,
    ScoreSummary,
    ScoringSettings,
    SubmissionProvenance,
)
from joulebench.formats.submission import (
    DEFAULT_BASE_IMAGE,
    SUBMISSION_KINDS,
    SUBMISSION_MANIFEST,
    EstimatesEntry,
    FittedOn,
    ImageEntry,
    PackageEntry,
    RunMatch,
    SubmissionKind,
    SubmissionManifest,
)
from joulebench.formats.vocabulary import (
    BOUNDARIES,
    CHECK_STATUSES,
    ID_PATTERN,
    SLICE_DIMENSIONS,
    TIERS,
    Boundary,
    CheckStatus,
    Domain,
    DType,
    EstimatorKind,
    EstimatorSource,
    Identifier,
    MeterMethod,
    SliceDimension,
    Strict,
    Task,
    Tier,
    content_hash,
)
from joulebench.formats.workload import ModelConfig, ParallelLayout, WorkloadSpec

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
    "submission": SubmissionManifest,
    "launch": LaunchManifest,
}

__all__ = [
    "SubmissionProvenance",
    "SubmissionManifest",
    "SubmissionKind",
    "RunMatch",
    "PackageEntry",
    "ImageEntry",
    "FittedOn",
    "FitOverlap",
    "EstimatesEntry",
    "SUBMISSION_MANIFEST",
    "SUBMISSION_KINDS",
    "DEFAULT_BASE_IMAGE",
    "AcceleratorSpec",
    "BOUNDARIES",
    "Boundary",
    "BoundaryEnergy",
    "CHECK_STATUSES",
    "Certificate",
    "CertificateSignature",
    "CertificationCheck",
    "CertificationPlan",
    "CheckKind",
    "CheckStatus",
    "Comparison",
    "CpuSpec",
    "DType",
    "DeclaredMeter",
    "DetectedGpu",
    "DetectedHardware",
    "Domain",
    "Environment",
    "Estimate",
    "EstimateFile",
    "EstimatorAnswers",
    "EstimatorKind",
    "EstimatorSource",
    "ExternalMeterConfig",
    "HardwareCheck",
    "HardwareProfile",
    "ID_PATTERN",
    "Identifier",
    "Interval",
    "LaunchJob",
    "LaunchManifest",
    "LaunchTask",
    "LiveEstimate",
    "MemorySpec",
    "MeterCredentialsConfig",
    "MeterMethod",
    "MetersConfig",
    "MetricInfo",
    "MissingBoundary",
    "ModelConfig",
    "NodeEnergy",
    "ParallelLayout",
    "PeakThroughput",
    "PerRun",
    "PowerTrace",
    "Provenance",
    "RECORD_SCHEMA_VERSION",
    "RecordDigest",
    "RedfishMeterConfig",
    "RunFacts",
    "RunRecord",
    "RunsOverview",
    "SCHEMAS",
    "SLICE_DIMENSIONS",
    "SchedulerInfo",
    "Score",
    "ScoreSummary",
    "ScoredEstimator",
    "ScoringSettings",
    "ShellyMeterConfig",
    "SliceDimension",
    "SlurmSettings",
    "SourceLine",
    "Strict",
    "TIERS",
    "Task",
    "Tier",
    "TimeLimitRule",
    "Topology",
    "TruthUncertainty",
    "WindowSync",
    "WorkloadSpec",
    "content_hash",
    "make_run_id",
]

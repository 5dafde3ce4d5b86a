"""The score summary: everything the leaderboard reads (`joulebench score --format json`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from joulebench.formats.vocabulary import (
    Boundary,
    EstimatorSource,
    SliceDimension,
    Strict,
    Tier,
    omit_none,
)


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


class FitOverlap(Strict):
    """Data an estimator was fitted on, and how many of the scored runs are in it (in-sample)."""

    description: str
    url: str | None = None
    n_runs: int = Field(ge=0, description="runs of this summary that the manifest's selector picks")


class SubmissionProvenance(Strict):
    """Where a submitted estimator comes from (its manifest) and how its numbers were obtained (the badge)."""

    folder: str = Field(description="the submission's folder, as given to the scorer")
    name: str
    version: str
    authors: list[str]
    licence: str
    source_url: str
    kind: Literal["package", "estimates", "image"]
    claimed_boundaries: list[Boundary]
    reproduce: str
    badge: Literal["reproduced", "self-reported", "not-reproduced"] = Field(
        description="reproduced: joulebench ran the package or image itself; self-reported: an estimates file "
        "scored as given; not-reproduced: it could not be run here (badge_reason says why)"
    )
    badge_reason: str
    fitted_on: list[FitOverlap] = Field(default_factory=list)
    out_of_sample: list[Score] = Field(
        default_factory=list,
        description="slice 'all' per boundary on the runs outside fitted_on, unranked; empty when none overlap",
    )


class ScoredEstimator(Strict):
    id: str
    version: str
    source: EstimatorSource
    boundaries: list[Boundary]
    available: bool = True
    reason: str = ""
    # Runs the estimator was asked about and failed on (an exception or an invalid value).
    failures: int = 0
    description: str = Field(default="", description="what it is and its defaults (Markdown), from its docstring")
    # Added with the submissions registry (issue 12); left out of the JSON while None, so a summary
    # without submissions reads and prints as before.
    submission: SubmissionProvenance | None = Field(default=None, exclude_if=omit_none,
                                                    description="set for an entry of submissions/")
    node_total_of: list[Boundary] = Field(
        default_factory=list, exclude_if=lambda v: not v,
        description="it gives no node figure: its node scores are of the sum of these boundaries' figures, "
                    "the total it reports",
    )


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
    truth_bound_pct: float | None = Field(
        default=None, exclude_if=omit_none,
        description="the headline counts only runs whose truth states an uncertainty bound of at most this; "
                    "the others are scored apart (slice 'truth')",
    )


class RunsOverview(Strict):
    n_runs: int
    n_workloads: int
    sites: list[str]
    profiles: list[str]
    truth_runs: dict[str, int] = Field(description="runs with metered truth, per boundary")
    headline_truth_runs: dict[str, int] | None = Field(
        default=None, exclude_if=omit_none, description="of those, runs whose truth is within the headline's bound"
    )
    run_ids_sha256: str = Field(description="sha256 of the sorted run ids scored")
    filters: dict[str, str] = Field(default_factory=dict)


class EstimatorAnswers(Strict):
    """One estimator's answers at one boundary, run by run, aligned with `PerRun.run_ids`."""

    estimator_id: str
    estimator_version: str
    boundary: Boundary
    energy_j: list[float | None] = Field(description="joules; null where it gave no answer for that run")


class PerRun(Strict):
    """What the pages plot and tabulate run by run: the truth the scorer used and every answer.

    `run_ids` are in the scorer's order (by workload, then run id); truth is
    null where the run has no usable metered truth at that boundary.
    """

    run_ids: list[str]
    truth_j: dict[Boundary, list[float | None]]
    answers: list[EstimatorAnswers]
    # The truth's stated uncertainty bound in % per run (null: not stated); within the bound: the headline.
    truth_bound_pct: dict[Boundary, list[float | None]] = Field(default_factory=dict, exclude_if=lambda v: not v)


class UncertifiedRun(Strict):
    run_id: str
    reason: str


class SiteTier(Strict):
    """The tier a site's runs count at, and why: granted only by a certificate that verifies against a trusted key.

    `tier` is granted to the runs the certificate covers by hash; every other
    run of the site (added after signing, changed, in another folder) is
    listed in `uncertified` with its reason.
    """

    site: str
    tier: Tier
    reason: str
    key_id: str | None = None
    certified_runs: int = Field(ge=0)
    uncertified: list[UncertifiedRun] = Field(default_factory=list)


class TrustSummary(Strict):
    """Which keys were trusted, and what each site was granted."""

    trusted_keys: str = Field(description="the name of the trusted-keys file that was read (its sha256 identifies it)")
    trusted_keys_sha256: str
    sites: list[SiteTier] = Field(default_factory=list)

    def tier_of(self, run_id: str, site: str) -> str:
        """The tier one run counts at."""
        for entry in self.sites:
            if entry.site == site:
                if any(u.run_id == run_id for u in entry.uncertified):
                    return "uncertified"
                return entry.tier
        return "uncertified"


class ScoreSummary(Strict):
    """Everything the leaderboard's numbers come from: the one output of scoring.

    `joulebench score --format json` prints it and `joulebench leaderboard
    build` renders it; the site opens run records only for what they alone
    hold (hardware, meters, provenance), never to recompute a number.
    """

    schema_version: Literal[1] = 1
    suite_version: str
    settings: ScoringSettings
    runs: RunsOverview
    metrics: list[MetricInfo]
    estimators: list[ScoredEstimator]
    scores: list[Score]
    comparisons: list[Comparison]
    problems: list[str] = Field(default_factory=list)
    per_run: PerRun | None = None
    trust: TrustSummary | None = Field(default=None, description="each site's tier and why; runs not covered")

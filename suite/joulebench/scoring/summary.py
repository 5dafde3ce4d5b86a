"""The score summary: the one output of scoring, which `joulebench score` prints and the leaderboard renders."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Sequence

import numpy as np

from joulebench import SUITE_VERSION
from joulebench.formats import (
    BOUNDARIES,
    SLICE_DIMENSIONS,
    EstimatorAnswers,
    MetricInfo,
    PerRun,
    RunRecord,
    RunsOverview,
    ScoredEstimator,
    ScoreSummary,
    ScoringSettings,
)
from joulebench.scoring.bootstrap import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    score_table,
)
from joulebench.scoring.table import (
    BEYOND_BOUND,
    TRUTH_BOUND_PCT,
    EstimatorColumn,
    RunTable,
)

METRICS = [
    MetricInfo(name="n", display="n", unit="runs", lower_is_better=None, description="runs with both metered truth and an estimate"),
    MetricInfo(name="coverage", display="coverage", unit="fraction", lower_is_better=False,
               description="n / runs with metered truth at this boundary: the share it answered for"),
    MetricInfo(name="mape_pct", display="MAPE", unit="%", lower_is_better=True,
               description="mean of |estimate - truth| / truth over the scored runs"),
    MetricInfo(name="median_ape_pct", display="median APE", unit="%", lower_is_better=True,
               description="median of |estimate - truth| / truth"),
    MetricInfo(name="signed_mean_error_pct", display="bias", unit="%", lower_is_better=None,
               description="mean of (estimate - truth) / truth: > 0 overestimates, < 0 underestimates"),
    MetricInfo(name="p90_ape_pct", display="P90 APE", unit="%", lower_is_better=True,
               description="90th percentile of |estimate - truth| / truth"),
    MetricInfo(name="max_ape_pct", display="max APE", unit="%", lower_is_better=True,
               description="largest |estimate - truth| / truth"),
]


def _overview(table: RunTable, records: Sequence[RunRecord], filters: dict[str, str]) -> RunsOverview:
    digest = hashlib.sha256("\n".join(sorted(table.run_ids)).encode()).hexdigest()
    return RunsOverview(
        n_runs=table.n,
        n_workloads=len(table.workloads),
        sites=sorted({r.site for r in records}),
        profiles=sorted({r.profile.id for r in records}),
        truth_runs={b: int((~np.isnan(table.truth[b])).sum()) if b in table.truth else 0 for b in BOUNDARIES},
        headline_truth_runs={b: int((~np.isnan(table.truth[b]) & table.truth_within_bound(b)).sum()) if b in table.truth
                             else 0 for b in BOUNDARIES},
        run_ids_sha256=digest,
        filters=filters,
    )


def settings(resamples: int, seed: int, confidence: float = CONFIDENCE) -> ScoringSettings:
    return ScoringSettings(
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        ci_method="percentile bootstrap over workloads (ratio of resampled sums), widened to include the point estimate",
        truth_bound_pct=TRUTH_BOUND_PCT,
        tie_rule="neighbours by MAPE are tied when the paired bootstrap CI of their MAPE difference on common runs "
        "contains 0, or they share fewer than 2 workloads",
    )


def summarize(
    table: RunTable,
    records: Sequence[RunRecord],
    columns: Sequence[EstimatorColumn],
    *,
    boundaries: Sequence[str] = BOUNDARIES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    unavailable: Sequence[ScoredEstimator] = (),
    problems: Sequence[str] = (),
    filters: dict[str, str] | None = None,
    descriptions: dict[str, str] | None = None,
    provenance: dict | None = None,
) -> ScoreSummary:
    """The summary of `columns` scored on `table`: scores, comparisons and the per-run answers behind them.

    `descriptions` maps "id@version" to what the estimator is (its docstring);
    `provenance` maps a submitted estimator's id to its SubmissionProvenance.
    """
    # The headline (slice "all" and every other slice) counts only truth within the stated bound;
    # the runs whose truth is looser or states no bound are scored apart, as slice "truth".
    headline, apart = table.split_by_truth_bound()
    scores, comparisons = score_table(headline, columns, boundaries, resamples, seed,
                                      dimensions=[d for d in SLICE_DIMENSIONS if d != "truth"])
    apart_scores, apart_comparisons = [], []
    if any(not np.isnan(truth).all() for truth in apart.truth.values()):
        apart_scores, apart_comparisons = score_table(apart, columns, boundaries, resamples, seed, dimensions=["all"])
    scores += [s.model_copy(update={"slice": "truth", "slice_value": BEYOND_BOUND})
               for s in apart_scores if s.n_truth > 0]
    comparisons += [c.model_copy(update={"slice": "truth", "slice_value": BEYOND_BOUND})
                    for c in apart_comparisons if c.n_common > 0]
    where = {b: i for i, b in enumerate(BOUNDARIES)}
    dims = {d: i for i, d in enumerate(SLICE_DIMENSIONS)}
    # Within a rank, the ranking's own order (MAPE, then id): a tied row stays under the row it ties with.
    scores.sort(key=lambda s: (where[s.boundary], dims[s.slice], s.slice_value, s.rank is None, s.rank or 0,
                               math.inf if s.mape_pct is None else s.mape_pct, s.estimator_id, s.estimator_version))
    notes = list(problems)
    if table.zero_truth:
        notes.append(f"truth of 0 J (no relative error exists) not scored: {', '.join(table.zero_truth[:20])}")
    descriptions = descriptions or {}
    provenance = provenance or {}
    estimators = [
        ScoredEstimator(id=c.id, version=c.version, source=c.source, boundaries=list(c.boundaries), failures=c.failures,
                        description=descriptions.get(c.key, ""), submission=provenance.get(c.id),
                        node_total_of=list(c.node_total_of))
        for c in columns
    ] + [u if u.submission is not None or u.id not in provenance else u.model_copy(update={"submission": provenance[u.id]})
         for u in unavailable]
    return ScoreSummary(
        suite_version=SUITE_VERSION,
        settings=settings(resamples, seed),
        runs=_overview(table, records, filters or {}),
        metrics=METRICS,
        estimators=estimators,
        scores=scores,
        comparisons=comparisons,
        problems=notes,
        per_run=per_run(table, columns, boundaries),
    )


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # NaN -> null


def per_run(table: RunTable, columns: Sequence[EstimatorColumn], boundaries: Sequence[str] = BOUNDARIES) -> PerRun:
    """Every answer and the truth it was scored against, run by run, in the table's order."""
    answers = [
        EstimatorAnswers.model_construct(estimator_id=c.id, estimator_version=c.version, boundary=b,
                                         energy_j=_listed(c.values[b]))
        for c in columns
        for b in BOUNDARIES
        if b in boundaries and b in c.values
    ]
    truth = {b: _listed(table.truth[b]) for b in BOUNDARIES if b in boundaries and b in table.truth}
    bounds = {b: _listed(table.truth_bound_pct[b]) for b in truth if b in table.truth_bound_pct}
    return PerRun.model_construct(run_ids=list(table.run_ids), truth_j=truth, answers=answers, truth_bound_pct=bounds)


SCORE_CSV_COLUMNS = [
    "boundary", "slice", "slice_value", "estimator_id", "estimator_version", "source", "rank", "tied_with_previous",
    "n_runs", "n_truth", "n_estimates", "n", "n_workloads", "coverage",
    "mape_pct", "mape_ci_low_pct", "mape_ci_high_pct", "median_ape_pct",
    "signed_mean_error_pct", "signed_mean_error_ci_low_pct", "signed_mean_error_ci_high_pct",
    "p90_ape_pct", "max_ape_pct",
]  # fmt: skip


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), =cmd|...).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CSV_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def csv_text(value: object) -> str:
    """A text cell made inert: control characters removed, a leading = + - @ (tab, CR) escaped with a quote.

    Numbers are written by the writers themselves and never pass through here,
    so a negative number stays a number.
    """
    if value is None:
        return ""
    text = _CSV_CONTROL.sub("", str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


TEXT_COLUMNS = {"boundary", "slice", "slice_value", "estimator_id", "estimator_version", "source"}


def scores_csv(summary: ScoreSummary, slice_filter: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SCORE_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in summary.scores:
        if slice_filter and s.slice != slice_filter:
            continue
        row = s.model_dump(exclude={"mape_ci_pct", "signed_mean_error_ci_pct"})
        row["mape_ci_low_pct"] = s.mape_ci_pct.low if s.mape_ci_pct else None
        row["mape_ci_high_pct"] = s.mape_ci_pct.high if s.mape_ci_pct else None
        row["signed_mean_error_ci_low_pct"] = s.signed_mean_error_ci_pct.low if s.signed_mean_error_ci_pct else None
        row["signed_mean_error_ci_high_pct"] = s.signed_mean_error_ci_pct.high if s.signed_mean_error_ci_pct else None
        writer.writerow({k: ("" if row[k] is None else csv_text(row[k]) if k in TEXT_COLUMNS else row[k])
                         for k in SCORE_CSV_COLUMNS})
    return out.getvalue()

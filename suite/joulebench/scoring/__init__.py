"""Scoring: estimates against metered truth, per estimator x boundary x slice. numpy only, no torch.

Read -> gather (table) -> score (bootstrap) -> summary, as separate modules; selection ties them together:

- `joulebench.records.load_records` validates every run record in a results folder;
- `RunTable` holds what scoring needs of the runs (truth per boundary, the
  labels that define slices, the workload each run belongs to);
- static estimates are recomputed from the records now, live ones come from
  `record.live_estimates`, submitted ones from an estimates file; each becomes
  an `EstimatorColumn` aligned with the table;
- `score_table` computes the metrics; `score_runs` does all of it and returns
  the `ScoreSummary` that the leaderboard reads.

Definitions (all errors relative to the metered truth, in percent):
- truth for a boundary is only `record.truth_j(boundary)`: the primary meter
  that covers that boundary; a run without one is not scored there, and a
  truth of 0 J (no relative error exists) is reported as a problem;
- APE = |estimate - truth| / truth; signed error = (estimate - truth) / truth;
- MAPE and signed mean error weigh every scored run equally; median and P90
  interpolate linearly between order statistics (numpy's default);
- 95% CIs: percentile bootstrap resampling *workloads* with replacement (all
  runs of a drawn workload, every repeat and site, come along), the ratio of
  resampled sums; the same draws serve every estimator of a slice, so CIs of
  one estimator do not change when another is added. A CI needs at least 2
  workloads; in the rare case the percentile interval misses the point
  estimate it is widened to include it;
- ranking per boundary and slice by MAPE; two neighbours are tied when the
  paired bootstrap CI (same workload draws) of their MAPE difference on the
  runs both answered contains 0, or when they share fewer than 2 workloads.
"""

from __future__ import annotations

from joulebench.scoring.selection import (
    default_registry,
    default_static_selection,
    filter_by_tier,
    score_records,
    score_runs,
)
from joulebench.scoring.summary import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    METRICS,
    SCORE_CSV_COLUMNS,
    scores_csv,
    settings,
    summarize,
)
from joulebench.scoring.table import (
    TRUTH_BOUND_PCT,
    EstimatorColumn,
    RunTable,
    size_label,
)

__all__ = [
    "CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "METRICS",
    "SCORE_CSV_COLUMNS",
    "TRUTH_BOUND_PCT",
    "EstimatorColumn",
    "RunTable",
    "default_registry",
    "default_static_selection",
    "filter_by_tier",
    "score_records",
    "score_runs",
    "scores_csv",
    "settings",
    "size_label",
    "summarize",
]

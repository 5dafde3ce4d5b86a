"""Scoring: estimates against metered truth, per estimator x boundary x slice. numpy only, no torch.

Read -> gather -> score -> summary, as separate functions:

- `load_records` validates every run record in a results folder;
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

import contextlib
import hashlib
import math
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from joulebench import SUITE_VERSION
from joulebench.catalog import format_validation_error
from joulebench.errors import InputError
from joulebench.formats import (
    BOUNDARIES,
    SLICE_DIMENSIONS,
    Comparison,
    Estimate,
    Interval,
    MetricInfo,
    RunFacts,
    RunRecord,
    RunsOverview,
    Score,
    ScoredEstimator,
    ScoreSummary,
    ScoringSettings,
)

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20251128
CONFIDENCE = 0.95

# results/<site>/ also holds the site's certificate; it is not a run record.
NOT_RECORDS = {"certificate.json"}
MAX_FAILURES_LISTED = 5

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


# --------------------------------------------------------------------------- reading


def record_files(runs_dir: Path) -> list[Path]:
    """Every run record under a results folder, sorted; hidden files and folders and certificates skipped."""
    runs_dir = Path(runs_dir)
    return [runs_dir.joinpath(*parts) for parts in _record_parts(runs_dir)]


def _record_parts(runs_dir: Path) -> list[tuple[str, ...]]:
    """`record_files` as path components relative to runs_dir, sorted as the Paths sort.

    The same files as `runs_dir.rglob("*.json")` minus the skipped ones, found with
    os.scandir: pathlib's glob and Path objects were a third of reading 10,000 records.
    """
    found: list[tuple[str, ...]] = []

    def walk(folder: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:
            return
        for entry in entries:
            name = entry.name
            # "_name.json" files beside records are reports (an import's), not records.
            if name.startswith((".", "_")):
                continue
            if name.endswith(".json") and name not in NOT_RECORDS:
                found.append((*parts, name))
            try:
                is_folder = entry.is_dir(follow_symlinks=False)  # as rglob: symlinked folders are not entered
            except OSError:
                is_folder = False
            if is_folder:
                walk(entry.path, (*parts, name))

    walk(str(runs_dir), ())
    found.sort()  # by path components, as sorting the Paths did
    return found


def load_records(runs_dir: Path, digests: dict[str, str] | None = None) -> list[RunRecord]:
    """Validate every record; all bad files are reported together, each with its fields.

    With `digests`, the sha256 of each file read is stored there (its path relative to
    runs_dir, with "/", -> hex), from the same bytes that were validated, so a caller
    needing both reads each file once.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise InputError(f"{runs_dir}: folder not found")
    if not runs_dir.is_dir():
        raise InputError(f"{runs_dir}: not a folder (expected results/<site>/<run_id>.json files)")
    records: list[RunRecord] = []
    problems: list[str] = []
    where: dict[str, tuple[str, ...]] = {}
    validate = RunRecord.model_validate_json
    base = str(runs_dir)
    for parts in _record_parts(runs_dir):
        try:
            with open(os.path.join(base, *parts), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            problems.append(f"{runs_dir.joinpath(*parts)}: cannot read: {exc.strerror}")
            continue
        if digests is not None:
            digests["/".join(parts)] = hashlib.sha256(data).hexdigest()
        try:
            record = validate(data)
        except ValidationError as exc:
            problems.append(format_validation_error(str(runs_dir.joinpath(*parts)), exc))
            continue
        if record.run_id in where:
            path, first = runs_dir.joinpath(*parts), runs_dir.joinpath(*where[record.run_id])
            problems.append(f"{path}: field 'run_id': {record.run_id!r} is also the run_id of {first}")
            continue
        if record.live_estimates:
            seen: set[tuple[str, str, str]] = set()
            for i, live in enumerate(record.live_estimates):
                key = (live.estimator_id, live.estimator_version, live.boundary)
                if key in seen:
                    problems.append(f"{runs_dir.joinpath(*parts)}: field 'live_estimates.{i}': a second {live.estimator_id} "
                                    f"{live.estimator_version} estimate for boundary {live.boundary}")
                seen.add(key)
        where[record.run_id] = parts
        records.append(record)
    if problems:
        raise InputError(f"{len(problems)} bad run record(s) under {runs_dir}; nothing was scored:\n" + "\n".join(problems))
    return records


# --------------------------------------------------------------------------- the runs as arrays


def size_label(params: int | None) -> str:
    """The decade of the parameter count, e.g. 25.6M -> "10M-100M"; "unknown" when not stated."""
    if params is None:
        return "unknown"
    decade = int(math.floor(math.log10(params)))

    def name(exp: int) -> str:
        for step, suffix in ((12, "T"), (9, "B"), (6, "M"), (3, "k")):
            if exp >= step:
                return f"{10 ** (exp - step)}{suffix}"
        return str(10**exp)

    return f"{name(decade)}-{name(decade + 1)}"


@dataclass
class RunTable:
    """Runs sorted by workload (then run id), so each workload's runs are contiguous."""

    run_ids: list[str]
    workload_index: np.ndarray  # int, non-decreasing
    workloads: list[str]
    labels: dict[str, np.ndarray]  # slice dimension -> label per run
    truth: dict[str, np.ndarray]  # boundary -> joules, NaN where no usable truth
    zero_truth: list[str] = field(default_factory=list)
    _position: dict[str, int] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.run_ids)

    @classmethod
    def build(
        cls,
        run_ids: Sequence[str],
        workload_keys: Sequence[str],
        labels: dict[str, Sequence[str]],
        truth: dict[str, Sequence[float | None]],
    ) -> RunTable:
        order = sorted(range(len(run_ids)), key=lambda i: (workload_keys[i], run_ids[i]))
        workloads = sorted(set(workload_keys))
        position = {w: i for i, w in enumerate(workloads)}
        zero = []
        truth_arrays = {}
        for boundary, values in truth.items():
            arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)[order]
            not_positive = arr <= 0  # NaN (no truth) compares False
            zero += [f"{run_ids[order[j]]} ({boundary})" for j in np.flatnonzero(not_positive).tolist()]
            arr[not_positive] = np.nan
            truth_arrays[boundary] = arr
        return cls(
            run_ids=[run_ids[i] for i in order],
            workload_index=np.array([position[workload_keys[i]] for i in order], dtype=np.int64),
            workloads=workloads,
            labels={dim: np.array([values[i] for i in order], dtype=object) for dim, values in labels.items()},
            truth=truth_arrays,
            zero_truth=zero,
        )

    @classmethod
    def from_records(cls, records: Sequence[RunRecord]) -> RunTable:
        return cls.build(
            run_ids=[r.run_id for r in records],
            workload_keys=[f"{r.workload.track}/{r.workload.id}" for r in records],
            labels={
                "domain": [r.workload.domain for r in records],
                "task": [r.workload.task for r in records],
                "size": [size_label(r.workload.params) for r in records],
                "profile": [r.profile.id for r in records],
                "site": [r.site for r in records],
            },
            truth=_truth_lists(records),
        )

    def position(self) -> dict[str, int]:
        if self._position is None:
            self._position = {rid: i for i, rid in enumerate(self.run_ids)}
        return self._position

    def column(self, values_by_run: dict[str, float]) -> np.ndarray:
        """An estimator's values (run id -> joules) as an array in table order, NaN where absent."""
        index = self.position()
        arr = np.full(self.n, np.nan)
        for rid, value in values_by_run.items():
            arr[index[rid]] = value
        return arr


def _truth_lists(records: Sequence[RunRecord]) -> dict[str, list[float | None]]:
    """`record.truth_j(b)` for every boundary and record, in one pass over each record's meters."""
    lists: dict[str, list[float | None]] = {b: [] for b in BOUNDARIES}
    for r in records:
        found: dict[str, float] = {}
        for entry in r.energy:
            found.setdefault(entry.boundary, entry.energy_j)  # the first entry, as truth_j returns
        for b, values in lists.items():
            values.append(found.get(b))
    return lists


@dataclass
class EstimatorColumn:
    """One estimator's answers, aligned with a RunTable; NaN where it gave none."""

    id: str
    version: str
    source: str  # static | live | submission
    boundaries: tuple[str, ...]
    values: dict[str, np.ndarray]
    failures: int = 0

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


# --------------------------------------------------------------------------- gathering estimates


def static_columns(
    table: RunTable, facts: Sequence[RunFacts], estimators: Sequence, problems: list[str]
) -> list[EstimatorColumn]:
    """Recompute each static estimator on every run; a failure is counted and listed, never filled in."""
    from joulebench.estimators.base import check_estimates

    columns = []
    for estimator in estimators:
        per_boundary: dict[str, dict[str, float]] = {b: {} for b in estimator.boundaries}
        failures: list[str] = []
        for fact in facts:
            try:
                values = check_estimates(estimator.id, tuple(estimator.boundaries), estimator.estimate(fact))
            except Exception as exc:  # one estimator's bug must not hide the others' scores
                failures.append(f"{fact.run_id}: {type(exc).__name__}: {exc}")
                continue
            for boundary, value in values.items():
                per_boundary[boundary][fact.run_id] = value
        if failures:
            shown = "; ".join(failures[:MAX_FAILURES_LISTED])
            more = f" (and {len(failures) - MAX_FAILURES_LISTED} more)" if len(failures) > MAX_FAILURES_LISTED else ""
            problems.append(f"static estimator {estimator.id} failed on {len(failures)} run(s): {shown}{more}")
        columns.append(
            EstimatorColumn(
                id=estimator.id,
                version=estimator.current_version(),
                source="static",
                boundaries=tuple(estimator.boundaries),
                values={b: table.column(v) for b, v in per_boundary.items()},
                failures=len(failures),
            )
        )
    return columns


def _columns(table: RunTable, rows: Iterable[tuple[str, str, str, str, float]], source: str) -> list[EstimatorColumn]:
    """One column per (estimator id, version) from (id, version, run_id, boundary, joules) rows."""
    found: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for eid, version, run_id, boundary, joules in rows:
        found.setdefault((eid, version), {}).setdefault(boundary, {})[run_id] = joules
    return [
        EstimatorColumn(
            id=eid,
            version=version,
            source=source,
            boundaries=tuple(b for b in BOUNDARIES if b in per_boundary),
            values={b: table.column(v) for b, v in per_boundary.items()},
        )
        for (eid, version), per_boundary in sorted(found.items())
    ]


def live_columns(table: RunTable, records: Sequence[RunRecord]) -> list[EstimatorColumn]:
    """One column per (live estimator id, version) found in the records; it claims the boundaries it reported."""
    rows = ((e.estimator_id, e.estimator_version, r.run_id, e.boundary, e.energy_j)
            for r in records for e in r.live_estimates)
    return _columns(table, rows, "live")


def submission_columns(table: RunTable, estimates: Iterable[Estimate]) -> list[EstimatorColumn]:
    known = set(table.run_ids)
    # Rows for runs filtered out (another site) are not scored here.
    rows = ((e.estimator_id, e.estimator_version, e.run_id, e.boundary, e.energy_j)
            for e in estimates if e.run_id in known)
    return _columns(table, rows, "submission")


def resample_counts(rng: np.random.Generator, resamples: int, clusters: int) -> np.ndarray:
    """How often each cluster is drawn in each resample (resamples x clusters), as floats for matmul."""
    draws = rng.integers(0, clusters, size=(resamples, clusters))
    flat = (draws + np.arange(resamples)[:, None] * clusters).ravel()
    return np.bincount(flat, minlength=resamples * clusters).reshape(resamples, clusters).astype(np.float64)


def _slice_rng(seed: int, dimension: str, value: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{dimension}={value}".encode())])


def row_quantiles(values: np.ndarray, valid: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, P90 (linear interpolation, as numpy's default) and max of each row's valid entries; NaN where n = 0."""
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)  # invalid entries sort last
    rows = np.arange(values.shape[0])
    top = np.maximum(n, 1) - 1
    median = (ordered[rows, top // 2] + ordered[rows, (top + 1) // 2]) / 2
    pos = 0.9 * top
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    with np.errstate(invalid="ignore"):  # rows with n = 0 hold inf - inf here; set to NaN below
        p90 = ordered[rows, lo] + (ordered[rows, hi] - ordered[rows, lo]) * (pos - lo)
    largest = ordered[rows, top]
    empty = n == 0
    for result in (median, p90, largest):
        result[empty] = np.nan
    return median, p90, largest


def percentile_interval(boot: np.ndarray, confidence: float) -> np.ndarray:
    """(2, K) lower and upper percentiles of each column of a (resamples, K) array, ignoring NaN draws.

    Linear interpolation between order statistics, as numpy's default percentile.
    """
    tail = 50 * (1 - confidence)
    if not np.isnan(boot).any():
        draws = boot.shape[0]
        pos = np.array([tail, 100 - tail]) / 100 * (draws - 1)
        lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
        part = np.partition(boot, sorted({*lo.tolist(), *hi.tolist()}), axis=0)
        return part[lo] + (part[hi] - part[lo]) * (pos - lo)[:, None]
    # Columns with NaN draws: each column's percentiles over its valid draws. Columns with the same
    # number of valid draws go through np.percentile together (the same arithmetic per column as
    # one call each, thousands of calls fewer).
    out = np.full((2, boot.shape[1]), np.nan)
    valid = ~np.isnan(boot)
    counts = valid.sum(axis=0)
    ordered = np.sort(boot, axis=0)  # NaN sorts last: each column's valid draws come first
    for count in np.unique(counts):
        if count == 0:
            continue
        columns = np.flatnonzero(counts == count)
        out[:, columns] = np.percentile(ordered[:count, columns], [tail, 100 - tail], axis=0)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _interval(point: float, bounds: np.ndarray, usable: bool) -> Interval | None:
    if not usable or math.isnan(point) or np.isnan(bounds).any():
        return None
    return Interval.model_construct(low=float(min(bounds[0], point)), high=float(max(bounds[1], point)))


def _intervals(points: np.ndarray, bounds: np.ndarray, usable: np.ndarray) -> list[Interval | None]:
    """`_interval` for each column at once: points (K,), bounds (2, K), usable (K,)."""
    ok = (usable & ~np.isnan(points) & ~np.isnan(bounds).any(axis=0)).tolist()
    lows, highs, values = bounds[0].tolist(), bounds[1].tolist(), points.tolist()
    return [
        Interval.model_construct(low=float(min(lows[k], values[k])), high=float(max(highs[k], values[k])))
        if ok[k] else None
        for k in range(len(ok))
    ]


def _opt(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass
class _Slice:
    dimension: str
    value: str
    index: np.ndarray
    starts: np.ndarray  # first position (within index) of each workload
    counts: np.ndarray  # resamples x workloads


def _slices(table: RunTable, resamples: int, seed: int) -> Iterable[_Slice]:
    for dimension in SLICE_DIMENSIONS:
        labels = np.full(table.n, "all", dtype=object) if dimension == "all" else table.labels.get(dimension)
        if labels is None:
            continue
        for value in sorted(set(labels.tolist())):
            index = np.arange(table.n) if dimension == "all" else np.flatnonzero(labels == value)
            clusters = table.workload_index[index]
            starts = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])
            counts = resample_counts(_slice_rng(seed, dimension, value), resamples, len(starts))
            yield _Slice(dimension, str(value), index, starts, counts)


@dataclass
class _Prepared:
    """One boundary's errors for every run, computed once and sliced many times."""

    claimants: list[EstimatorColumn]
    has_truth: np.ndarray  # runs
    has_estimate: np.ndarray  # estimators x runs
    valid: np.ndarray  # estimators x runs: truth and estimate
    weight: np.ndarray  # valid as 0.0 / 1.0, for sums
    rel: np.ndarray  # (estimate - truth) / truth, 0 where not valid
    ape: np.ndarray  # |rel|


def _prepare(table: RunTable, columns: Sequence[EstimatorColumn], boundary: str) -> _Prepared | None:
    claimants = [c for c in columns if boundary in c.boundaries]
    if not claimants:
        return None
    nan_column = np.full(table.n, np.nan)
    estimates = np.vstack([c.values.get(boundary, nan_column) for c in claimants])
    truth = table.truth.get(boundary, nan_column)
    has_truth = ~np.isnan(truth)
    has_estimate = ~np.isnan(estimates)
    valid = has_estimate & has_truth
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(valid, (estimates - truth) / np.where(has_truth, truth, 1.0), 0.0)
    return _Prepared(claimants, has_truth, has_estimate, valid, valid.astype(np.float64), rel, np.abs(rel))


def score_table(
    table: RunTable,
    columns: Sequence[EstimatorColumn],
    boundaries: Sequence[str] = BOUNDARIES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[list[Score], list[Comparison]]:
    """Every metric for every estimator x claimed boundary x slice, and the paired comparisons behind the ranking."""
    if resamples < 1:
        raise InputError(f"resamples must be >= 1, got {resamples}")
    prepared = {b: p for b in boundaries if (p := _prepare(table, columns, b)) is not None}
    scores: list[Score] = []
    comparisons: list[Comparison] = []
    if not prepared or table.n == 0:
        return scores, comparisons
    with _one_blas_thread():
        _score_slices(table, prepared, resamples, seed, confidence, scores, comparisons)
    return scores, comparisons


def _one_blas_thread():
    """Run the bootstrap products on one BLAS thread.

    They are small (resamples x workloads x a few hundred columns): a second
    thread saves little on an idle machine and, when another process holds a
    core, spin-waits and doubles the wall time (measured on the 2-core dev
    machine). threadpoolctl is optional; without it BLAS keeps its default.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _score_slices(table, prepared, resamples, seed, confidence, scores, comparisons) -> None:
    for piece in _slices(table, resamples, seed):
        blocks = [_Block(boundary, prep, piece) for boundary, prep in prepared.items()]
        # One matrix product per slice: every boundary's cluster sums against the same workload draws.
        stacked = np.vstack([m for block in blocks for m in block.sums()])
        drawn = piece.counts @ stacked.T
        offset = 0
        for block in blocks:
            width = block.width()
            s, c = block.finish(drawn[:, offset : offset + width], confidence)
            offset += width
            scores.extend(s)
            comparisons.extend(c)


class _Block:
    """One boundary over one slice: point metrics now, bootstrap bounds once the draws are multiplied in."""

    def __init__(self, boundary: str, prep: _Prepared, piece: _Slice):
        self.boundary, self.piece, self.claimants = boundary, piece, prep.claimants
        index, starts = piece.index, piece.starts
        whole = piece.dimension == "all"
        valid = prep.valid if whole else prep.valid[:, index]
        ape = prep.ape if whole else prep.ape[:, index]
        rel = prep.rel if whole else prep.rel[:, index]
        self.n_runs = len(index)
        self.n_truth = int(prep.has_truth[index].sum())
        self.n_estimates = (prep.has_estimate if whole else prep.has_estimate[:, index]).sum(axis=1)
        self.n = valid.sum(axis=1)
        self.ape_c = np.add.reduceat(ape, starts, axis=1)
        self.rel_c = np.add.reduceat(rel, starts, axis=1)
        self.n_c = np.add.reduceat(prep.weight if whole else prep.weight[:, index], starts, axis=1)
        self.workloads = (self.n_c > 0).sum(axis=1)
        self.mape = _ratio(self.ape_c.sum(axis=1), self.n) * 100
        self.signed = _ratio(self.rel_c.sum(axis=1), self.n) * 100
        self.median, self.p90, self.largest = row_quantiles(ape, valid, self.n)
        # Ranking: scored estimators by MAPE; neighbours compared on the runs both answered.
        scored = [i for i in range(len(self.claimants)) if self.n[i] > 0]
        self.order = sorted(scored, key=lambda i: (self.mape[i], self.claimants[i].key))
        pairs = len(self.order) - 1
        clusters = len(starts)
        self.diff_c = np.zeros((max(pairs, 0), clusters))
        self.common_c = np.zeros((max(pairs, 0), clusters))
        if pairs > 0:
            first, second = np.array(self.order[:-1]), np.array(self.order[1:])
            common = valid[first] & valid[second]
            diff = np.where(common, ape[second] - ape[first], 0.0)
            self.diff_c = np.add.reduceat(diff, starts, axis=1)
            self.common_c = np.add.reduceat(common.astype(np.float64), starts, axis=1)

    def sums(self) -> list[np.ndarray]:
        return [self.ape_c, self.rel_c, self.n_c, self.diff_c, self.common_c]

    def width(self) -> int:
        return sum(m.shape[0] for m in self.sums())

    def finish(self, drawn: np.ndarray, confidence: float) -> tuple[list[Score], list[Comparison]]:
        e, p = len(self.claimants), self.diff_c.shape[0]
        ape_b, rel_b, n_b = drawn[:, :e], drawn[:, e : 2 * e], drawn[:, 2 * e : 3 * e]
        diff_b, common_b = drawn[:, 3 * e : 3 * e + p], drawn[:, 3 * e + p :]
        ratios = np.hstack([_ratio(ape_b, n_b), _ratio(rel_b, n_b), _ratio(diff_b, common_b)]) * 100
        bounds = percentile_interval(ratios, confidence)
        mape_bounds, signed_bounds, diff_bounds = bounds[:, :e], bounds[:, e : 2 * e], bounds[:, 2 * e :]
        comparisons, rank, tied_prev = self._ranking(diff_bounds, confidence)
        return self._scores(mape_bounds, signed_bounds, rank, tied_prev), comparisons

    def _ranking(self, diff_bounds: np.ndarray, confidence: float):
        order, piece = self.order, self.piece
        rank: dict[int, int] = {}
        tied_prev: dict[int, bool] = {}
        comparisons = []
        if order:
            rank[order[0]], tied_prev[order[0]] = 1, False
        for k, (a, b) in enumerate(zip(order[:-1], order[1:])):
            n_common = int(self.common_c[k].sum())
            common_workloads = int((self.common_c[k] > 0).sum())
            point = float(self.diff_c[k].sum() / n_common * 100) if n_common else math.nan
            interval = _interval(point, diff_bounds[:, k], common_workloads >= 2)
            if n_common == 0:
                tied, basis = True, "no runs in common: not distinguishable"
            elif interval is None:
                tied, basis = True, "fewer than 2 workloads in common: not distinguishable"
            else:
                tied = interval.low <= 0.0 <= interval.high
                basis = f"paired bootstrap by workload, {round(confidence * 100)}% CI of the MAPE difference"
            tied_prev[b] = tied
            rank[b] = rank[a] if tied else k + 2
            comparisons.append(
                Comparison.model_construct(
                    boundary=self.boundary,
                    slice=piece.dimension,
                    slice_value=piece.value,
                    better=self.claimants[a].key,
                    worse=self.claimants[b].key,
                    n_common=n_common,
                    n_common_workloads=common_workloads,
                    mape_diff_pct=_opt(point),
                    mape_diff_ci_pct=interval,
                    tied=tied,
                    basis=basis,
                )
            )
        return comparisons, rank, tied_prev

    def _scores(self, mape_bounds, signed_bounds, rank, tied_prev) -> list[Score]:
        # Scores are built from computed numbers, not user input: constructed without re-validation.
        # Every per-estimator number is taken out of numpy once, as lists, rather than element by element.
        piece, out = self.piece, []
        enough = self.workloads >= 2
        mape_ci = _intervals(self.mape, mape_bounds, enough)
        signed_ci = _intervals(self.signed, signed_bounds, enough)
        mape, signed = [_opt(v) for v in self.mape.tolist()], [_opt(v) for v in self.signed.tolist()]
        median = [_opt(v) for v in (self.median * 100).tolist()]
        p90 = [_opt(v) for v in (self.p90 * 100).tolist()]
        largest = [_opt(v) for v in (self.largest * 100).tolist()]
        n_estimates, ns, workloads = self.n_estimates.tolist(), self.n.tolist(), self.workloads.tolist()
        for i, column in enumerate(self.claimants):
            n_est = int(n_estimates[i])
            if piece.dimension != "all" and self.n_truth == 0 and n_est == 0:
                continue  # nothing to say about this estimator here; "all" always keeps its row
            n = int(ns[i])
            out.append(
                Score.model_construct(
                    estimator_id=column.id,
                    estimator_version=column.version,
                    source=column.source,
                    boundary=self.boundary,
                    slice=piece.dimension,
                    slice_value=piece.value,
                    n_runs=self.n_runs,
                    n_truth=self.n_truth,
                    n_estimates=n_est,
                    n=n,
                    n_workloads=int(workloads[i]),
                    coverage=(n / self.n_truth) if self.n_truth else None,
                    mape_pct=mape[i],
                    mape_ci_pct=mape_ci[i],
                    median_ape_pct=median[i],
                    signed_mean_error_pct=signed[i],
                    signed_mean_error_ci_pct=signed_ci[i],
                    p90_ape_pct=p90[i],
                    max_ape_pct=largest[i],
                    rank=rank.get(i),
                    tied_with_previous=tied_prev.get(i),
                )
            )
        return out


# --------------------------------------------------------------------------- the whole job


def _overview(table: RunTable, records: Sequence[RunRecord], filters: dict[str, str]) -> RunsOverview:
    digest = hashlib.sha256("\n".join(sorted(table.run_ids)).encode()).hexdigest()
    return RunsOverview(
        n_runs=table.n,
        n_workloads=len(table.workloads),
        sites=sorted({r.site for r in records}),
        profiles=sorted({r.profile.id for r in records}),
        truth_runs={b: int((~np.isnan(table.truth[b])).sum()) if b in table.truth else 0 for b in BOUNDARIES},
        run_ids_sha256=digest,
        filters=filters,
    )


def settings(resamples: int, seed: int, confidence: float = CONFIDENCE) -> ScoringSettings:
    return ScoringSettings(
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        ci_method="percentile bootstrap over workloads (ratio of resampled sums), widened to include the point estimate",
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
) -> ScoreSummary:
    scores, comparisons = score_table(table, columns, boundaries, resamples, seed)
    where = {b: i for i, b in enumerate(BOUNDARIES)}
    dims = {d: i for i, d in enumerate(SLICE_DIMENSIONS)}
    # Within a rank, the ranking's own order (MAPE, then id): a tied row stays under the row it ties with.
    scores.sort(key=lambda s: (where[s.boundary], dims[s.slice], s.slice_value, s.rank is None, s.rank or 0,
                               math.inf if s.mape_pct is None else s.mape_pct, s.estimator_id, s.estimator_version))
    notes = list(problems)
    if table.zero_truth:
        notes.append(f"truth of 0 J (no relative error exists) not scored: {', '.join(table.zero_truth[:20])}")
    estimators = [
        ScoredEstimator(id=c.id, version=c.version, source=c.source, boundaries=list(c.boundaries), failures=c.failures)
        for c in columns
    ] + list(unavailable)
    return ScoreSummary(
        suite_version=SUITE_VERSION,
        settings=settings(resamples, seed),
        runs=_overview(table, records, filters or {}),
        metrics=METRICS,
        estimators=estimators,
        scores=scores,
        comparisons=comparisons,
        problems=notes,
    )


def default_static_selection(infos: Iterable) -> tuple[list[str], list[ScoredEstimator]]:
    """Every available static estimator, and the unavailable ones listed with their reason."""
    static_ids: list[str] = []
    unavailable: list[ScoredEstimator] = []
    for info in infos:
        if info.kind == "static" and info.available:
            static_ids.append(info.id)
        elif info.kind in ("static", "unknown") and not info.available:
            unavailable.append(ScoredEstimator(id=info.id, version=info.version or "?", source="static",
                                               boundaries=list(info.boundaries), available=False, reason=info.reason))
    return static_ids, unavailable


def score_runs(
    runs_dir: Path,
    *,
    estimator_ids: Sequence[str] | None = None,
    submissions: Sequence[Path] = (),
    boundary: str | None = None,
    site: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> ScoreSummary:
    """Load, gather and score: what `joulebench score` and the leaderboard run."""
    from joulebench.scoring import submission as submission_files
    from joulebench.estimators import registry

    if boundary is not None and boundary not in BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; boundaries are: {', '.join(BOUNDARIES)}")
    records = load_records(runs_dir)
    if not records:
        raise InputError(f"no runs in {runs_dir}: nothing to score (expected run records at {runs_dir}/<site>/<run_id>.json)")

    registered = {info.id: info for info in registry.list_estimators()}
    live_ids = {e.estimator_id for r in records for e in r.live_estimates}
    reserved = {eid: "a registered estimator's id" for eid in registered}
    reserved.update({eid: "the id of a live estimator in the run records" for eid in live_ids})
    all_run_ids = {r.run_id for r in records}
    submitted: list[Estimate] = []
    first_file: dict[tuple, Path] = {}
    for path in submissions:
        sub = submission_files.read_submission(path)
        submission_files.check_against_runs(sub, all_run_ids, reserved)
        for est in sub.estimates:
            key = (est.estimator_id, est.estimator_version, est.run_id, est.boundary)
            if key in first_file:
                raise InputError(f"{path}: estimator {key[0]} {key[1]}, run {key[2]}, boundary {key[3]} "
                                 f"is also in {first_file[key]}; nothing was scored")
            first_file[key] = sub.path
        submitted.extend(sub.estimates)

    if site is not None:
        sites = sorted({r.site for r in records})
        records = [r for r in records if r.site == site]
        if not records:
            raise InputError(f"no runs from site {site!r} in {runs_dir}; sites are: {', '.join(sites)}")

    submitted_ids = {e.estimator_id for e in submitted}
    problems: list[str] = []
    unavailable: list[ScoredEstimator] = []
    static_ids: list[str] = []
    if estimator_ids:
        choices = sorted(set(registered) | live_ids | submitted_ids)
        for eid in estimator_ids:
            if eid not in choices:
                raise registry.unknown_estimator(eid, choices)
        wanted = set(estimator_ids)
        static_ids = [eid for eid in estimator_ids if eid in registered and registered[eid].kind == "static"]
        for eid in estimator_ids:
            info = registered.get(eid)
            if info is not None and info.kind == "live" and eid not in live_ids:
                problems.append(f"live estimator {eid} has no outputs in these runs (it runs during `joulebench run "
                                f"--live-estimator {eid}`)")
    else:
        wanted = None
        static_ids, unavailable = default_static_selection(registered.values())

    table = RunTable.from_records(records)
    statics = [registry.create_static(eid) for eid in static_ids]
    facts = [RunFacts.from_record(r) for r in records] if statics else []
    columns = static_columns(table, facts, statics, problems)
    columns += [c for c in live_columns(table, records) if wanted is None or c.id in wanted]
    columns += [c for c in submission_columns(table, submitted) if wanted is None or c.id in wanted]
    for eid in estimator_ids or ():
        info = registered.get(eid)
        if info is not None and info.kind == "live" and eid not in live_ids:
            columns.append(EstimatorColumn(eid, info.version, "live", tuple(info.boundaries), {}))

    filters = {k: v for k, v in (("site", site), ("boundary", boundary)) if v is not None}
    return summarize(
        table,
        records,
        columns,
        boundaries=[boundary] if boundary else BOUNDARIES,
        resamples=resamples,
        seed=seed,
        unavailable=unavailable,
        problems=problems,
        filters=filters,
    )

"""The metrics and their bootstrap confidence intervals, per boundary and slice, and the ranking with ties."""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from joulebench.errors import InputError
from joulebench.formats import BOUNDARIES, SLICE_DIMENSIONS, Comparison, Interval, Score
from joulebench.scoring.table import EstimatorColumn, RunTable

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20251128
CONFIDENCE = 0.95


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


# Shown only where they tell runs apart: one study, node count, rank count or layout everywhere adds nothing to "all".
ONLY_WHERE_THEY_DIFFER = {"study", "nodes", "ranks", "parallel"}


def _slices(table: RunTable, resamples: int, seed: int, dimensions: Sequence[str]) -> Iterable[_Slice]:
    for dimension in dimensions:
        labels = np.full(table.n, "all", dtype=object) if dimension == "all" else table.labels.get(dimension)
        if labels is None:
            continue
        values = sorted(set(labels.tolist()))
        if dimension in ONLY_WHERE_THEY_DIFFER and len(values) < 2:
            continue
        for value in values:
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
    dimensions: Sequence[str] = SLICE_DIMENSIONS,
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
        _score_slices(table, prepared, resamples, seed, confidence, dimensions, scores, comparisons)
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


def _score_slices(table, prepared, resamples, seed, confidence, dimensions, scores, comparisons) -> None:
    for piece in _slices(table, resamples, seed, dimensions):
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

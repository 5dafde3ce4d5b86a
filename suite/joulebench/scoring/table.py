"""The runs as arrays, and every estimator's answers aligned with them.

`RunTable` holds what scoring needs of the runs: truth per boundary (the
primary meter's energy; NaN where none, or where it is not positive), the labels
that define slices, and the workload each run belongs to (runs sorted by
workload, so each workload's runs are contiguous). Static estimates are
recomputed from the run facts now, live ones come from `record.live_estimates`,
submitted ones from an estimates file; each becomes an `EstimatorColumn`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from joulebench.formats import BOUNDARIES, Estimate, RunFacts, RunRecord

MAX_FAILURES_LISTED = 5

# The headline uses only runs whose truth is good to within this bound, in % of the truth (issue 11):
# estimators' errors differ by tens of percent, so a truth known to 5% ranks them; looser truth (a plug's
# 1 Wh step on a short run, a meter with no stated accuracy) is shown apart, never mixed in.
TRUTH_BOUND_PCT = 5.0
WITHIN_BOUND = f"truth within {TRUTH_BOUND_PCT:g}%"
BEYOND_BOUND = f"truth over {TRUTH_BOUND_PCT:g}% or not stated"


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
    # boundary -> the truth's stated uncertainty bound in % (NaN: not stated); missing: none stated at all
    truth_bound_pct: dict[str, np.ndarray] = field(default_factory=dict)
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
        truth_bound_pct: dict[str, Sequence[float | None]] | None = None,
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
            truth_bound_pct={b: np.array([np.nan if v is None else v for v in values], dtype=np.float64)[order]
                             for b, values in (truth_bound_pct or {}).items()},
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
                "study": [r.provenance.study if r.provenance and r.provenance.study else "joulebench" for r in records],
                "nodes": [str(r.topology.nodes if r.topology else r.profile.node_count) for r in records],
                "ranks": [str(r.topology.world_size if r.topology else 1) for r in records],
                "parallel": [r.workload.parallel.strategy if r.workload.parallel else "none" for r in records],
            },
            truth=_truth_lists(records),
            truth_bound_pct=_bound_lists(records),
        )

    def with_truth(self, keep: dict[str, np.ndarray]) -> RunTable:
        """The same runs with truth only where `keep[boundary]` is True (elsewhere: none)."""
        return replace(self, truth={b: np.where(keep[b], t, np.nan) for b, t in self.truth.items()}, _position=None)

    def truth_within_bound(self, boundary: str) -> np.ndarray:
        """Per run: whether its truth at `boundary` states a bound of at most TRUTH_BOUND_PCT."""
        bound = self.truth_bound_pct.get(boundary)
        if bound is None:
            return np.zeros(self.n, dtype=bool)
        return bound <= TRUTH_BOUND_PCT  # NaN (not stated) compares False

    def split_by_truth_bound(self) -> tuple[RunTable, RunTable]:
        """(the headline: truth within the bound, the rest: truth over it or not stated)."""
        within = {b: self.truth_within_bound(b) for b in self.truth}
        return self.with_truth(within), self.with_truth({b: ~w for b, w in within.items()})

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


def _bound_lists(records: Sequence[RunRecord]) -> dict[str, list[float | None]]:
    """The stated uncertainty bound of each record's truth per boundary (None: not stated, or no truth)."""
    lists: dict[str, list[float | None]] = {b: [] for b in BOUNDARIES}
    for r in records:
        found: dict[str, float | None] = {}
        for entry in r.energy:
            found.setdefault(entry.boundary, entry.uncertainty.bound_pct if entry.uncertainty else None)
        for b, values in lists.items():
            values.append(found.get(b))
    return lists


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
    # The boundaries whose figures make up its `node` values when it claims no node figure of its own.
    node_total_of: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


def with_node_total(column: EstimatorColumn, table: RunTable) -> EstimatorColumn:
    """Every estimator is scored on the total it reports, at the node boundary (the number its users quote).

    An estimator that gives a node figure is scored on it; one that gives only
    components (a GPU figure, GPU + CPU) is scored at `node` on their sum, run by
    run, over the components it answered for that run. The node truth is the
    whole machine, so such a total is expected to fall short: that shortfall is
    what a user quoting the estimator's total would miss.
    """
    parts = [b for b in column.boundaries if b != "node" and b in column.values]
    node_truth = table.truth.get("node")
    if "node" in column.boundaries or not parts or node_truth is None or np.isnan(node_truth).all():
        return column  # it has a node figure, nothing to add up, or there is no node truth to score it on
    stacked = np.vstack([column.values[b] for b in parts])
    answered = ~np.isnan(stacked).all(axis=0)
    total = np.where(answered, np.nansum(stacked, axis=0), np.nan)
    return replace(column, boundaries=(*column.boundaries, "node"), values={**column.values, "node": total},
                   node_total_of=tuple(parts))


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

"""Commands for estimators and scores: `estimators list`, `score`."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from joulebench.files import write_text_atomic
from joulebench.formats import BOUNDARIES, ScoreSummary

SCORE_CSV_COLUMNS = [
    "boundary", "slice", "slice_value", "estimator_id", "estimator_version", "source", "rank", "tied_with_previous",
    "n_runs", "n_truth", "n_estimates", "n", "n_workloads", "coverage",
    "mape_pct", "mape_ci_low_pct", "mape_ci_high_pct", "median_ape_pct",
    "signed_mean_error_pct", "signed_mean_error_ci_low_pct", "signed_mean_error_ci_high_pct",
    "p90_ape_pct", "max_ape_pct",
]  # fmt: skip


# --------------------------------------------------------------------------- estimators list


def _estimators_list(args) -> int:
    from joulebench.estimators import list_estimators

    rows = [info.as_dict() for info in list_estimators()]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="estimators")
    for col in ("id", "version", "kind", "boundaries", "available", "reason / source"):
        table.add_column(col)
    for row in rows:
        note = row["reason"] or ("" if row["source"] == "builtin" else row["source"])
        table.add_row(row["id"], row["version"], row["kind"], ", ".join(row["boundaries"]),
                      "yes" if row["available"] else "no", note)
    Console(markup=False).print(table)
    return 0


# --------------------------------------------------------------------------- score


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
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in SCORE_CSV_COLUMNS})
    return out.getvalue()


def _pct(value: float | None, interval=None) -> str:
    if value is None:
        return "-"
    text = f"{value:.1f}"
    if interval is not None:
        text += f" [{interval.low:.1f}, {interval.high:.1f}]"
    return text


def render_table(summary: ScoreSummary, slice_filter: str | None = None) -> str:
    """Plain-text tables, one per boundary and slice value, ranked; ties marked with '='."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=200, record=True, markup=False)
    runs = summary.runs
    console.print(
        f"{runs.n_runs} runs, {runs.n_workloads} workloads, sites: {', '.join(runs.sites)}; "
        f"metered truth per boundary: " + ", ".join(f"{b} {runs.truth_runs.get(b, 0)}" for b in BOUNDARIES)
    )
    dimension = slice_filter or "all"
    groups: dict[tuple[str, str], list] = {}
    for s in summary.scores:
        if s.slice == dimension:
            groups.setdefault((s.boundary, s.slice_value), []).append(s)
    order = {b: i for i, b in enumerate(BOUNDARIES)}
    for (boundary, value), rows in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        title = f"{boundary} boundary" + ("" if dimension == "all" else f", {dimension} = {value}")
        if rows[0].n_truth == 0:
            console.print(f"{title}: no metered truth in these runs; not scored "
                          f"({', '.join(sorted({r.estimator_id for r in rows}))} claim it)")
            continue
        table = Table(title=title)
        for col in ("rank", "estimator", "source", "n", "coverage", "MAPE % [95% CI]", "median APE %",
                    "bias % [95% CI]", "P90 APE %", "max APE %"):
            table.add_column(col)
        rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.mape_pct or 0.0, r.estimator_id))
        for r in rows:
            rank = "-" if r.rank is None else (f"={r.rank}" if r.tied_with_previous else str(r.rank))
            coverage = "-" if r.coverage is None else f"{r.n}/{r.n_truth}"
            table.add_row(rank, f"{r.estimator_id} {r.estimator_version}", r.source, str(r.n), coverage,
                          _pct(r.mape_pct, r.mape_ci_pct), _pct(r.median_ape_pct),
                          _pct(r.signed_mean_error_pct, r.signed_mean_error_ci_pct), _pct(r.p90_ape_pct),
                          _pct(r.max_ape_pct))
        console.print(table)
    unavailable = [e for e in summary.estimators if not e.available]
    for e in unavailable:
        console.print(f"not scored: {e.id}: {e.reason}")
    for problem in summary.problems:
        console.print(f"note: {problem}")
    console.print("'=' marks a statistical tie with the row above (paired bootstrap by workload).")
    return console.export_text()


def _score(args) -> int:
    from joulebench.scoring import score_runs

    summary = score_runs(
        Path(args.runs),
        estimator_ids=args.estimator,
        submissions=[Path(p) for p in args.submission or []],
        boundary=args.boundary,
        site=args.site,
        resamples=args.resamples,
        seed=args.seed,
    )
    if args.format == "json":
        text = summary.model_dump_json(indent=2) + "\n"
    elif args.format == "csv":
        text = scores_csv(summary, args.slice)
    else:
        text = render_table(summary, args.slice)
    if args.out:
        write_text_atomic(Path(args.out), text)
        sys.stderr.write(f"wrote {args.out}\n")
    else:
        sys.stdout.write(text)
    for problem in summary.problems:
        sys.stderr.write(f"joulebench: note: {problem}\n")
    return 0


def register(subparsers) -> None:
    from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED, SLICE_DIMENSIONS

    estimators = subparsers.add_parser("estimators", help="the registered energy estimators")
    esub = estimators.add_subparsers(dest="action", required=True)
    elist = esub.add_parser("list", help="list estimators: built-ins and installed plugins, with availability")
    elist.add_argument("--format", choices=["table", "json"], default="table")
    elist.set_defaults(handler=_estimators_list)

    score = subparsers.add_parser("score", help="score estimators against metered truth")
    score.add_argument("--runs", default="results", help="folder of run records (default: results)")
    score.add_argument("--estimator", action="append", metavar="ID",
                       help="score only this estimator (repeatable); default: every static one, every live one "
                            "in the records, every submitted one")
    score.add_argument("--submission", action="append", metavar="FILE", help="an estimates file, .csv or .json (repeatable)")
    score.add_argument("--boundary", choices=list(BOUNDARIES), help="only this boundary")
    score.add_argument("--site", help="only runs from this site")
    score.add_argument("--slice", choices=list(SLICE_DIMENSIONS), default=None,
                       help="table and csv: only this slice dimension (table default: all)")
    score.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples (default: %(default)s)")
    score.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default: %(default)s)")
    score.add_argument("--format", choices=["table", "json", "csv"], default="table")
    score.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    score.set_defaults(handler=_score)

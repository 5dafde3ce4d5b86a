"""Commands for estimators and scores: `estimators list`, `score`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from joulebench.cli import output
from joulebench.cli.arguments import identifier
from joulebench.cli.arguments import resamples as resamples_type
from joulebench.cli.arguments import seed as seed_type
from joulebench.errors import InputError
from joulebench.files import inside, write_text_atomic
from joulebench.formats import BOUNDARIES, SLICE_DIMENSIONS, ScoreSummary
from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED, scores_csv

# --------------------------------------------------------------------------- estimators list


def _estimators_list(args) -> int:
    from joulebench.estimators import list_estimators

    rows = [info.as_dict() for info in list_estimators()]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for row in rows:
        row["reason"] = output.clean(row["reason"])
        row["reason / source"] = row["reason"] or ("" if row["source"] == "builtin" else row["source"])
    output.table(rows, ["id", "version", "kind", "boundaries", "available", "reason / source"], "estimators")
    return 0


# --------------------------------------------------------------------------- score


def _pct(value: float | None, interval=None) -> str:
    if value is None:
        return "-"
    text = f"{value:.1f}"
    if interval is not None:
        text += f" [{interval.low:.1f}, {interval.high:.1f}]"
    return text


def render_table(summary: ScoreSummary, slice_filter: str | None = None) -> str:
    """Plain-text tables, one per boundary and slice value, ranked; ties marked with '='."""
    parts: list[str] = []
    runs = summary.runs
    parts.append(
        f"{runs.n_runs} runs, {runs.n_workloads} workloads, sites: {', '.join(runs.sites)}; "
        f"metered truth per boundary: " + ", ".join(f"{b} {runs.truth_runs.get(b, 0)}" for b in BOUNDARIES)
    )
    if summary.trust is not None:
        for entry in summary.trust.sites:
            if entry.tier == "uncertified":
                parts.append(f"site {entry.site}: uncertified: {entry.reason}")
            else:
                extra = f"; {len(entry.uncertified)} run(s) uncertified (see --format json)" if entry.uncertified else ""
                parts.append(f"site {entry.site}: tier {entry.tier} for {entry.certified_runs} run(s): {entry.reason}{extra}")
    dimension = slice_filter or "all"
    groups: dict[tuple[str, str], list] = {}
    for s in summary.scores:
        if s.slice == dimension:
            groups.setdefault((s.boundary, s.slice_value), []).append(s)
    order = {b: i for i, b in enumerate(BOUNDARIES)}
    for (boundary, value), rows in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        title = f"{boundary} boundary" + ("" if dimension == "all" else f", {dimension} = {value}")
        if rows[0].n_truth == 0:
            parts.append(f"{title}: no metered truth in these runs; not scored "
                         f"({', '.join(sorted({r.estimator_id for r in rows}))} claim it)")
            continue
        rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.mape_pct or 0.0, r.estimator_id))
        cells = []
        for r in rows:
            rank = "-" if r.rank is None else (f"={r.rank}" if r.tied_with_previous else str(r.rank))
            coverage = "-" if r.coverage is None else f"{r.n}/{r.n_truth}"
            cells.append([rank, output.clean(f"{r.estimator_id} {r.estimator_version}"), r.source, str(r.n), coverage,
                          _pct(r.mape_pct, r.mape_ci_pct), _pct(r.median_ape_pct),
                          _pct(r.signed_mean_error_pct, r.signed_mean_error_ci_pct), _pct(r.p90_ape_pct),
                          _pct(r.max_ape_pct)])
        parts.append(output.plain_table(cells, TABLE_COLUMNS, title))
    for e in summary.estimators:
        if e.available and e.submission is not None:
            parts.append(f"submission {e.id} {e.version} ({e.submission.kind}): {e.submission.badge.replace('-', ' ')}: "
                         f"{e.submission.badge_reason}")
            for fit in e.submission.fitted_on:
                if fit.n_runs:
                    parts.append(f"  in-sample: {fit.n_runs} of these runs are in the data it was fitted on; "
                                 "its scores without them: " + ", ".join(
                                     f"{s.boundary} MAPE {_pct(s.mape_pct)} (n {s.n})" for s in e.submission.out_of_sample))
    for e in summary.estimators:
        if not e.available:
            parts.append(f"not scored: {e.id}: {e.reason}")
    parts += [f"note: {problem}" for problem in summary.problems]
    parts.append("'=' marks a statistical tie with the row above (paired bootstrap by workload).")
    return output.clean("\n".join(parts)) + "\n"


TABLE_COLUMNS = ("rank", "estimator", "source", "n", "coverage", "MAPE % [95% CI]", "median APE %",
                 "bias % [95% CI]", "P90 APE %", "max APE %")


def check_out_file(out: Path, runs: Path) -> None:
    """--out must be a file path outside the results folder (else the next run reads it as a record)."""
    if inside(out, runs):
        raise InputError(f"--out {out}: is inside --runs {runs}; the next run would read it as a run record. "
                         "Write it outside the results folder")
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; expected the path of a file to write")


def submissions_folder(args) -> Path | None:
    """--submissions DIR, or the submissions/ folder beside --runs when it exists; None with --no-submissions."""
    from joulebench.scoring import default_registry

    if args.no_submissions:
        return None
    if args.submissions is not None:
        return Path(args.submissions)
    return default_registry(Path(args.runs))


def add_submissions_arguments(parser) -> None:
    """The same two options on `score` and `leaderboard build`, so both score the same submissions."""
    parser.add_argument("--submissions", metavar="DIR", default=None,
                        help="the submissions registry, DIR/<id>/submission.yaml (default: the submissions/ folder "
                             "beside --runs, when it exists)")
    parser.add_argument("--no-submissions", action="store_true",
                        help="score without the submissions registry (built-ins, live outputs in the records, "
                             "--submission files and installed plugins only)")


def _score(args) -> int:
    from joulebench.scoring import score_runs

    if args.out:
        check_out_file(Path(args.out), Path(args.runs))
    summary = score_runs(
        Path(args.runs),
        estimator_ids=args.estimator,
        submissions=[Path(p) for p in args.submission or []],
        submissions_dir=submissions_folder(args),
        boundary=args.boundary,
        site=args.site,
        resamples=args.resamples,
        seed=args.seed,
        min_tier=args.min_tier,
        trusted_keys=Path(args.trusted_keys) if args.trusted_keys else None,
    )
    if args.format == "json":
        text = summary.model_dump_json(indent=2) + "\n"
    elif args.format == "csv":
        text = scores_csv(summary, args.slice)
    else:
        text = render_table(summary, args.slice)
    if args.out:
        write_text_atomic(Path(args.out), text)
        output.say(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    for problem in summary.problems:
        output.note(problem)
    return 0


def register(subparsers) -> None:
    estimators = subparsers.add_parser("estimators", help="the registered energy estimators")
    esub = estimators.add_subparsers(dest="action", required=True)
    elist = esub.add_parser("list", help="list estimators: built-ins and installed plugins, with availability")
    elist.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    elist.set_defaults(handler=_estimators_list)

    score = subparsers.add_parser("score", help="score estimators against metered truth")
    score.add_argument("--runs", default="results", help="folder of run records (default: results)")
    score.add_argument("--estimator", action="append", metavar="ID",
                       help="score only this estimator (repeatable); default: every static one, every live one "
                            "in the records, every submitted one")
    score.add_argument("--submission", action="append", metavar="FILE",
                       help="an ad hoc estimates file, .csv or .json (repeatable); see also --submissions")
    add_submissions_arguments(score)
    score.add_argument("--boundary", choices=list(BOUNDARIES), help="only this boundary")
    score.add_argument("--site", type=identifier, help="only runs from this site")
    score.add_argument("--min-tier", choices=["A", "B", "C"], default=None,
                       help="only runs counted at this tier or better (certified, covered by a trusted certificate)")
    score.add_argument("--trusted-keys", default=None, metavar="FILE",
                       help="the keys whose certificates grant tiers (default: the repository's trusted-keys.yaml)")
    score.add_argument("--slice", choices=list(SLICE_DIMENSIONS), default=None,
                       help="table and csv: only this slice dimension (table default: all)")
    score.add_argument("--resamples", type=resamples_type, default=DEFAULT_RESAMPLES,
                       help="bootstrap resamples, 1 to 100,000 (default: %(default)s)")
    score.add_argument("--seed", type=seed_type, default=DEFAULT_SEED, help="bootstrap seed, 0 to 2**32-1 (default: %(default)s)")
    score.add_argument("--format", choices=["table", "json", "csv"], default="table",
                       help="table: ranked per boundary; json: the score summary the leaderboard renders; csv: one row per score")
    score.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    score.set_defaults(handler=_score)

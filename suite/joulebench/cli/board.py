"""`joulebench leaderboard build`: the static HTML site from the scored runs."""

from __future__ import annotations

import sys
from pathlib import Path

from joulebench.board import build_site
from joulebench.cli.score import add_submissions_arguments, submissions_folder
from joulebench.formats import TIERS
from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED


def _build_command(args) -> int:
    view = build_site(Path(args.runs), Path(args.out), min_tier=args.min_tier, resamples=args.resamples, seed=args.seed,
                      submissions_dir=submissions_folder(args),
                      previous=Path(args.previous) if args.previous else None)
    index = Path(args.out) / "index.html"
    if view.n_runs == 0:
        sys.stderr.write(f"joulebench: note: no runs to score in {args.runs}; the site says so\n")
    sys.stderr.write(f"wrote {index} ({view.n_runs} runs, {len(view.estimators)} estimators, "
                     f"{len(view.workloads)} workloads, {len([s for s in view.sites if s.runs])} sites; "
                     f"data sha256 {view.data_sha256})\n")
    return 0


def register(subparsers) -> None:
    board = subparsers.add_parser("leaderboard", help="the static HTML leaderboard")
    sub = board.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="score the runs and render the site into a folder (works from file://)")
    build.add_argument("--runs", default="results", help="folder of run records, results/<site>/<run_id>.json (default: results)")
    build.add_argument("--out", default="leaderboard/site", help="output folder, replaced as a whole (default: leaderboard/site)")
    build.add_argument("--min-tier", choices=list(TIERS), default=None,
                       help="only runs from sites certified at this tier or better")
    build.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="bootstrap resamples (default: %(default)s)")
    build.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default: %(default)s)")
    add_submissions_arguments(build)
    build.add_argument("--previous", metavar="SCORES_JSON", default=None,
                       help="a score summary from an earlier suite version (its site's data/scores.json, or "
                            "`joulebench score --format json`): each estimator page shows how it moved")
    build.set_defaults(handler=_build_command)

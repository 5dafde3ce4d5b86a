"""`joulebench leaderboard build`: the static HTML site from the scored runs."""

from __future__ import annotations

from pathlib import Path

from joulebench.board import build_site
from joulebench.cli import output
from joulebench.cli.arguments import resamples as resamples_type
from joulebench.cli.arguments import seed as seed_type
from joulebench.cli.score import add_submissions_arguments, submissions_folder
from joulebench.formats import TIERS
from joulebench.scoring import DEFAULT_RESAMPLES, DEFAULT_SEED


def _build_command(args) -> int:
    view = build_site(Path(args.runs), Path(args.out), min_tier=args.min_tier, resamples=args.resamples, seed=args.seed,
                      trusted_keys=Path(args.trusted_keys) if args.trusted_keys else None,
                      submissions_dir=submissions_folder(args),
                      previous=Path(args.previous) if args.previous else None)
    index = Path(args.out) / "index.html"
    if view.unmetered:
        output.note(f"refused {len(view.unmetered)} unmetered run record(s) (no meter measured them): "
                    f"{', '.join(view.unmetered[:5])}{', ...' if len(view.unmetered) > 5 else ''}")
    if view.n_runs == 0:
        output.note(f"no runs to score in {args.runs}; the site says so")
    output.say(f"wrote {index} ({view.n_runs} runs, {len(view.estimators)} estimators, "
               f"{len(view.workloads)} workloads, {len([s for s in view.sites if s.runs])} sites; "
               f"data sha256 {view.data_sha256})")
    return 0


def register(subparsers) -> None:
    board = subparsers.add_parser("leaderboard", help="the static HTML leaderboard")
    sub = board.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="score the runs and render the site into a folder (works from file://)")
    build.add_argument("--runs", default="results", help="folder of run records, results/<site>/<run_id>.json (default: results)")
    build.add_argument("--out", default="leaderboard/site", help="output folder, replaced as a whole (default: leaderboard/site)")
    build.add_argument("--min-tier", choices=list(TIERS), default=None,
                       help="only runs counted at this tier or better (covered by a certificate the trusted keys verify)")
    build.add_argument("--trusted-keys", default=None, metavar="FILE",
                       help="the keys whose certificates grant tiers (default: the repository's trusted-keys.yaml)")
    build.add_argument("--resamples", type=resamples_type, default=DEFAULT_RESAMPLES,
                       help="bootstrap resamples, 1 to 100,000 (default: %(default)s)")
    build.add_argument("--seed", type=seed_type, default=DEFAULT_SEED, help="bootstrap seed, 0 to 2**32-1 (default: %(default)s)")
    add_submissions_arguments(build)
    build.add_argument("--previous", metavar="SCORES_JSON", default=None,
                       help="a score summary from an earlier suite version (its site's data/scores.json, or "
                            "`joulebench score --format json`): each estimator page shows how it moved")
    build.set_defaults(handler=_build_command)

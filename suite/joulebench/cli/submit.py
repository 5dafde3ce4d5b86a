"""`joulebench submit`: what an estimator author runs before opening a pull request.

- `submit check submissions/<id>`: every problem with the submission, as
  `make leaderboard` would find it (manifest, files, package, estimates file,
  claimed boundaries, runs it does not cover); writes nothing;
- `submit packages`: the package submissions' folders (for `pip install`), or
  their pinned requirements; the Makefile installs them with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from joulebench.cli import output

MISSED_SHOWN = 5


def _check(args) -> int:
    from joulebench.scoring.submissions import check_folder

    report = check_folder(Path(args.folder), Path(args.runs) if args.runs else None, build_image=args.build)
    m = report.manifest
    title = f"{args.folder}: " + (f"{m.id} {m.version} ({m.kind})" if m else "submission")
    lines = [output.clean(title)]
    if report.problems:
        lines.append(f"{len(report.problems)} problem(s); `make leaderboard` would refuse it:")
        lines += [f"  {output.clean(p)}" for p in report.problems]
    if report.badge:
        lines.append(f"badge: {report.badge.replace('-', ' ')}: {output.clean(report.badge_reason)}")
    for boundary, answered, with_truth, missed in report.coverage:
        line = f"coverage at {boundary}: answers {answered} of the {with_truth} runs metered there"
        if missed:
            shown = ", ".join(missed[:MISSED_SHOWN]) + (f", ... ({len(missed) - MISSED_SHOWN} more)" if len(missed) > MISSED_SHOWN else "")
            line += f"; not covered: {output.clean(shown)}"
        lines.append(line)
    sys.stdout.write("\n".join(lines) + "\n")
    for note in report.notes:
        output.note(note)
    if report.problems:
        return 2
    sys.stdout.write("no problems found\n")
    return 0


def _packages(args) -> int:
    from joulebench.scoring.submissions import package_folders, package_requirements

    root = Path(args.submissions)
    if args.requirements:
        rows = package_requirements(root, args.estimator)
    else:
        rows = [str(p) for p in package_folders(root, args.estimator)]
    if rows:
        sys.stdout.write("\n".join(rows) + "\n")
    return 0


def register(subparsers) -> None:
    submit = subparsers.add_parser("submit", help="check a leaderboard submission before opening a pull request")
    actions = submit.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="everything wrong with submissions/<id>/ (manifest, files, runs); writes nothing")
    check.add_argument("folder", help="the submission's folder, submissions/<id>/ with a submission.yaml")
    check.add_argument("--runs", default="results", help="the runs it will be scored on (default: results)")
    check.add_argument("--build", action="store_true",
                       help="an image submission: build it and run it in the sandbox over the runs, as "
                            "`make leaderboard` does (adds an image to the local Docker engine; no file is written)")
    check.set_defaults(handler=_check)

    packages = actions.add_parser("packages", help="the package submissions' folders, one per line (for pip install)")
    packages.add_argument("submissions", nargs="?", default="submissions", help="the registry (default: submissions)")
    packages.add_argument("--estimator", choices=["static", "live", "all"], default="all",
                          help="only static or live estimators (default: all)")
    packages.add_argument("--requirements", action="store_true",
                          help="print their pinned dependencies (name==version) instead of their folders")
    packages.set_defaults(handler=_packages)

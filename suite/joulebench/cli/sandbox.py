"""`joulebench sandbox estimate`: a submitted estimator image, run locked down over the run facts."""

from __future__ import annotations

import argparse
from pathlib import Path

from joulebench.cli import output
from joulebench.cli.arguments import int_between, number_between
from joulebench.formats import EstimateFile
from joulebench.scoring import sandbox as sandbox_module
from joulebench.scoring.sandbox import (
    SandboxLimits,
    estimate_in_sandbox,
    facts_from_runs,
)


def _estimate_command(args) -> int:
    from joulebench.cli.score import check_out_file
    from joulebench.files import write_text_atomic

    check_out_file(Path(args.out), Path(args.runs))
    command = list(args.command or [])
    if command[:1] == ["--"]:
        command = command[1:]
    limits = SandboxLimits(
        memory_mib=args.memory_mib,
        cpus=args.cpus,
        pids=args.pids,
        time_s=args.time_limit_s,
        max_output_bytes=int(args.max_output_mib * 1024 * 1024),
    )
    facts = facts_from_runs(Path(args.runs))
    estimates = estimate_in_sandbox(args.image, facts, command or None, limits)
    document = EstimateFile(estimates=estimates)
    write_text_atomic(Path(args.out), document.model_dump_json(indent=1) + "\n")
    output.say(
        f"wrote {len(estimates)} estimate(s) for {len({e.run_id for e in estimates})} of {len(facts)} run(s) to {args.out}; "
        f"score them with: joulebench score --runs {args.runs} --submission {args.out}"
    )
    return 0


def register(subparsers) -> None:
    sandbox = subparsers.add_parser("sandbox", help="run a submitted estimator in a locked-down container")
    actions = sandbox.add_subparsers(dest="action", required=True)
    estimate = actions.add_parser(
        "estimate",
        help="feed run facts to an estimator image (stdin) and keep its validated estimates (stdout)",
        description=sandbox_module.__doc__.split("\n\n")[1],
    )
    estimate.add_argument("--image", required=True, help="the estimator's image (name:tag, name@sha256:..., or an image id)")
    estimate.add_argument("--runs", default="results", help="folder of run records (default: results)")
    estimate.add_argument("--out", required=True, metavar="FILE", help="estimates file to write (.json), for joulebench score --submission")
    defaults = SandboxLimits()
    estimate.add_argument("--memory-mib", type=int_between(16, 1_048_576, "MiB"), default=defaults.memory_mib,
                          help="memory limit, no swap (default: %(default)s)")
    estimate.add_argument("--cpus", type=number_between(0.01, 1024, "CPUs"), default=defaults.cpus, help="CPU limit (default: %(default)s)")
    estimate.add_argument("--pids", type=int_between(1, 100_000, "processes"), default=defaults.pids,
                          help="process limit (default: %(default)s)")
    estimate.add_argument("--time-limit-s", type=number_between(0.1, 1e6, "seconds"), default=defaults.time_s,
                          help="wall-time limit (default: %(default)s)")
    estimate.add_argument("--max-output-mib", type=number_between(0.001, 4096, "MiB"), default=defaults.max_output_bytes / 2**20,
                          help="standard output limit (default: %(default)s)")
    estimate.add_argument("command", nargs=argparse.REMAINDER,
                          help="after --: the command to run in the image (default: its entrypoint and CMD)")
    estimate.set_defaults(handler=_estimate_command)

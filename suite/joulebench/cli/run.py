"""`joulebench run`: metered windows of a track's workloads, written as run records.

One process runs a track's single-process workloads. Workloads with a
parallel layout (gpu-v1-multi, smoke-multi) run on several ranks: with
`--nproc-per-node N` this command starts N ranks on this node itself (torchrun's
elastic launcher, in this process, each rank re-running the same command);
started by torchrun (`torchrun ... --no-python joulebench run ...`, one agent
per node) each rank joins the launcher's job and runs the distributed window
(joulebench.measure.distributed). Only global rank 0 prints.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from joulebench.cli import output
from joulebench.cli.arguments import (
    argv_for,
    identifier,
    non_negative_seconds,
    positive_int,
)
from joulebench.errors import InputError, JoulebenchError, NoMeterError
from joulebench.formats import RunRecord, WorkloadSpec
from joulebench.measure.runner import RunObserver
from joulebench.measure.window import DEFAULT_IDLE_S

# Where `--allow-unmetered` writes unless told otherwise: never results/, so a
# record without truth cannot end up on the leaderboard by accident.
SCRATCH_DIR = ".joulebench-scratch"


@dataclass
class RunSummary(RunObserver):
    """Shows each workload's phases as they happen and adds up what was written and skipped."""

    live: object = None  # a rich Progress on a terminal, else None (plain lines)
    task: object = None
    written: list[Path] = field(default_factory=list)
    already: int = 0
    skipped: list[str] = field(default_factory=list)

    def _line(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(output.clean(text), markup=False, highlight=False)
        else:
            output.say(text)

    def workload(self, spec: WorkloadSpec, pending: list[int], on_disk: list[int]) -> None:
        self.already += len(on_disk)
        if not pending:
            self.skipped.append(f"{spec.id}: every window already recorded ({len(on_disk)})")
            self._line(f"{spec.id}: all {len(on_disk)} window(s) already recorded; skipped")
        elif on_disk:
            self._line(f"{spec.id}: resuming: repeat(s) {', '.join(map(str, on_disk))} already recorded, "
                       f"measuring {', '.join(map(str, pending))}")
        else:
            self._line(f"{spec.id}: {len(pending)} window(s) to measure")
        if self.live is not None:
            self.live.advance(self.task, len(on_disk))

    def phase(self, spec: WorkloadSpec, phase: str, detail: str = "") -> None:
        text = f"{spec.id}: {phase}" + (f" ({detail})" if detail else "")
        if self.live is not None:
            self.live.update(self.task, description=text)
        else:
            output.say("  " + text)

    def window(self, record: RunRecord, path) -> None:
        joules = ", ".join(f"{e.boundary} {e.energy_j:.1f} J" for e in record.energy) or "unmetered: no truth"
        self._line(f"  -> {path}: {record.duration_s:.2f} s, {joules}")
        self.written.append(Path(path))
        if self.live is not None:
            self.live.advance(self.task)

    def warning(self, text: str) -> None:
        self._line(f"warning: {text}")

    def report(self, out_site: Path) -> None:
        output.say(f"summary: wrote {len(self.written)} record(s) to {out_site}/; "
                   f"{self.already} window(s) were already recorded and kept")
        for line in self.skipped:
            output.say(f"  skipped {line}")


def _scheduler():
    """The batch scheduler's ids for this job, read once per run (None outside Slurm)."""
    import os

    from joulebench.cluster import slurm

    return slurm.scheduler_from_env(os.environ, slurm.run_slurm)


def _open_meters(args, environ=None):
    from joulebench.measure.meter_set import open_meters

    try:
        return open_meters(args.allow_unmetered, Path(args.meters) if args.meters else None, environ=environ)
    except NoMeterError as exc:
        raise NoMeterError(f"{exc}\n(--allow-unmetered records the windows anyway, into {SCRATCH_DIR}/ unless --out "
                           "says otherwise, with no energy and every boundary marked missing.)") from None


def _live_factory(ids: list[str], out_dir: Path, site: str):
    def open_live():
        from joulebench.estimators import open_live as open_one

        return [open_one(eid, out_dir / ".live" / site) for eid in ids]

    return open_live


def _run_command(args) -> int:
    from joulebench import catalog
    from joulebench.cluster import torchrun

    out_dir = Path(args.out or (SCRATCH_DIR if args.allow_unmetered else "results"))
    env = torchrun.detect()
    if args.container:
        if env is not None or args.nproc_per_node is not None:
            raise InputError("--container runs one process in an image; it does not start or join ranks "
                             "(leave out --nproc-per-node, and do not start it under torchrun)")
        return _run_in_container(args, out_dir)
    if args.nproc_per_node is not None:
        if env is not None:
            raise InputError("--nproc-per-node starts the ranks itself; this process was started by torchrun "
                             f"(rank {env.rank} of {env.world_size}): leave --nproc-per-node out")
        return _start_ranks(args)
    profile = catalog.get_profile(args.profile)
    specs = catalog.select_workloads(args.track, args.only)
    parallel = [s for s in specs if s.parallel is not None]
    if env is None or (env.world_size == 1 and not parallel):
        if parallel:
            layouts = "; ".join(f"{s.id}: {_layout_text(s)}" for s in parallel)
            raise InputError(f"track {args.track}: {len(parallel)} workload(s) run on several ranks ({layouts}). "
                             "Start them with --nproc-per-node N (one node; N = the ranks per node), or under "
                             "torchrun on every node (torchrun ... --no-python joulebench run ...; see README)")
        return _run_single(args, profile, specs, out_dir)
    single = [s.id for s in specs if s.parallel is None]
    if single:
        raise InputError(f"workload(s) {', '.join(single)} of track {args.track} run as one process, and torchrun "
                         f"started {env.world_size} ranks: run them without torchrun, or choose the parallel "
                         "workloads with --only")
    return _run_ranks(args, env, profile, specs, out_dir)


def _layout_text(spec: WorkloadSpec) -> str:
    layout = spec.parallel
    return f"{layout.strategy}, {layout.nodes} node(s) x {layout.ranks_per_node} rank(s)"


def choose_for_launch(specs: list[WorkloadSpec], nodes: int, ranks_per_node: int, explicit: bool):
    """The specs pinned for this launch's nodes x ranks per node, and notes on the ones left for another launch."""
    chosen = [s for s in specs if s.parallel is not None and (s.parallel.nodes, s.parallel.ranks_per_node) == (nodes, ranks_per_node)]
    others = [s for s in specs if s not in chosen]
    launch = f"{nodes} node(s) x {ranks_per_node} rank(s)"
    if others and (explicit or not chosen):
        listed = "; ".join(f"{s.id}: {_layout_text(s) if s.parallel else 'one process'}" for s in others)
        raise InputError(f"this launch is {launch}, and these workloads are pinned for another: {listed}")
    return chosen, [f"{s.id}: pinned for {_layout_text(s)}, not this launch's {launch}; skipped" for s in others]


def _start_ranks(args) -> int:
    """--nproc-per-node N: start N ranks on this node (torchrun's own launcher, in this process), each `joulebench run`."""
    import logging
    import os

    from joulebench import catalog
    from joulebench.cluster import torchrun
    from joulebench.measure.hardware import (
        check_against_profile,
        detect_hardware,
        require_match,
    )

    n = args.nproc_per_node
    profile = catalog.get_profile(args.profile)
    specs = catalog.select_workloads(args.track, args.only)
    if all(s.parallel is None for s in specs):
        raise InputError(f"--nproc-per-node {n}: the workloads of track {args.track} run as one process; leave it out")
    choose_for_launch(specs, 1, n, explicit=bool(args.only))  # refuse before starting anything
    require_match(check_against_profile(detect_hardware(), profile, certified=args.certified))
    argv = ["-m", "joulebench", "run", *argv_for(args.parser, args, leave_out={"nproc_per_node", "parser"})]
    if n > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"  # as torchrun does: N ranks must not each take every core
        output.note(f"OMP_NUM_THREADS=1 for each of the {n} ranks (as torchrun sets it); set it to choose another")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    chatty = logging.getLogger("torch.distributed.elastic")
    level = chatty.level
    chatty.setLevel(logging.CRITICAL)  # the ranks say what failed; the agent's own log lines repeat it
    try:
        torchrun.start_local_ranks(n, argv, entrypoint=sys.executable)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        if 1 <= failure.exitcode <= 4:
            return failure.exitcode  # a joulebench error, which rank 0 printed
        raise JoulebenchError(f"rank {rank} ended with exit code {failure.exitcode}"
                              f"{' (a signal)' if failure.exitcode < 0 else ''}; the ranks' output is above") from None
    finally:
        chatty.setLevel(level)
    return 0


def _run_ranks(args, env, profile, specs: list[WorkloadSpec], out_dir: Path) -> int:
    """This rank's part of a distributed run (torchrun started it); global rank 0 alone reports."""
    from joulebench.measure.distributed import DistributedRun, run_distributed

    chosen, skipped = choose_for_launch(specs, env.nodes, env.local_world_size, explicit=bool(args.only))
    run = DistributedRun(
        profile=profile, site=args.site, out_dir=out_dir,
        open_meters=lambda environ: _open_meters(args, environ),
        device=args.device or ("cuda" if profile.kind == "gpu" else "cpu"),
        idle_s=args.idle_seconds, certified=args.certified, repeats=args.repeats,
        open_live=_live_factory(list(args.live_estimator or ()), out_dir, args.site),
        scheduler=_scheduler,
    )
    if env.rank != 0:
        _quiet()
        run_distributed(chosen, run, env)
        return 0
    for line in skipped:
        output.note(line)
    total = sum(args.repeats or s.repeats for s in chosen)
    summary = _with_summary(total, lambda observer: run_distributed(chosen, run, env, observer))
    summary.report(out_dir / args.site)
    return 0


def _quiet() -> None:
    """Ranks other than global rank 0 keep the libraries' warnings to themselves: rank 0 shows the same ones."""
    import os
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is first imported


def _run_in_container(args, out_dir: Path) -> int:
    from joulebench import catalog
    from joulebench.measure.container import run_in_container
    from joulebench.measure.hardware import (
        check_against_profile,
        detect_hardware,
        require_match,
    )

    if args.certified:  # the same machine, seen from the host: refuse a smaller one before starting the image
        from joulebench.measure.container import require_pinned

        require_pinned(args.container)
        require_match(check_against_profile(detect_hardware(), catalog.get_profile(args.profile), certified=True))
    argv = ["run", *argv_for(args.parser, args, leave_out={"container", "certified", "out", "parser"}), "--out", "/results"]
    return run_in_container(
        image=args.container,
        argv=argv,
        out_dir=out_dir,
        gpus=catalog.get_profile(args.profile).kind == "gpu",
        certified=args.certified,
    )


def _run_single(args, profile, specs: list[WorkloadSpec], out_dir: Path) -> int:
    from joulebench.measure.environment import fingerprint
    from joulebench.measure.hardware import (
        check_against_profile,
        detect_hardware,
        require_match,
    )
    from joulebench.measure.runner import run_workload
    from joulebench.measure.window import RunContext

    hardware = detect_hardware()
    check = check_against_profile(hardware, profile, certified=args.certified)
    require_match(check)
    for text in check.warnings:
        output.warning(f"hardware differs from {profile.id}: {text}")
    meters = _open_meters(args)
    for missing in meters.missing:
        output.warning(f"no meter covers {missing.boundary}: {missing.reason}")
    open_live = _live_factory(list(args.live_estimator or ()), out_dir, args.site)
    ctx = RunContext(
        profile=profile,
        site=args.site,
        out_dir=out_dir,
        meters=meters,
        hardware=hardware,
        hardware_check=check,
        environment=fingerprint(hardware.gpu_driver),
        device=args.device or ("cuda" if profile.kind == "gpu" else "cpu"),
        idle_s=args.idle_seconds,
        open_live=open_live,
        scheduler=_scheduler(),
    )
    for estimator in open_live():
        estimator.close()  # an unavailable live estimator fails now, not after the first model build
    for meter in meters.all():
        meter.start()
    try:
        def run_all(observer):
            for spec in specs:
                run_workload(spec, ctx, args.repeats, observer=observer)

        summary = _with_summary(sum(args.repeats or s.repeats for s in specs), run_all)
    finally:
        meters.close()
    summary.report(out_dir / args.site)
    return 0


def _with_summary(total_windows: int, body) -> RunSummary:
    """Run `body(observer)` with a RunSummary: a progress bar on a terminal, plain lines otherwise."""
    if not sys.stderr.isatty():
        summary = RunSummary()
        body(summary)
        return summary
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("windows", total=total_windows)
        summary = RunSummary(live=progress, task=task)
        body(summary)
    return summary


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run workloads and write metered run records")
    run.add_argument("--track", required=True,
                     help="gpu-v1, cpu-v1 or smoke; gpu-v1-multi and smoke-multi run on several ranks "
                          "(--nproc-per-node, or under torchrun) (joulebench workloads list)")
    run.add_argument("--profile", required=True, help="the declared hardware profile id (joulebench profiles list)")
    run.add_argument("--site", required=True, type=identifier, help="your site's id (lowercase, e.g. acme-h100-01)")
    run.add_argument("--only", action="append", metavar="ID", type=identifier, help="run only this workload (repeatable)")
    run.add_argument("--repeats", type=positive_int, default=None, help="override the spec's repeats")
    run.add_argument("--out", default=None,
                     help=f"results folder; records go to OUT/SITE/ (default: results, or {SCRATCH_DIR} with --allow-unmetered)")
    run.add_argument("--idle-seconds", type=non_negative_seconds, default=DEFAULT_IDLE_S,
                     help="idle measurement before the windows")
    run.add_argument("--device", default=None, help="torch device (default: cuda for gpu profiles, else cpu)")
    run.add_argument("--meters", default=None, metavar="CONFIG", help="external meters (BMC, wall plug) declared in YAML")
    run.add_argument("--live-estimator", action="append", metavar="ID", type=identifier,
                     help="run a live estimator alongside (repeatable)")
    run.add_argument("--nproc-per-node", type=positive_int, default=None, metavar="N",
                     help="start N ranks on this node (torchrun's launcher) for workloads with a parallel layout; "
                          "under torchrun (several nodes) leave it out: joulebench joins the launcher's ranks")
    run.add_argument("--container", default=None, metavar="IMAGE", help="run inside this image (see README)")
    run.add_argument("--certified", action="store_true", help="a certified run: refuses images referenced by tag only, and a machine materially smaller than its profile "
                          "(under 90%% of its CPU cores or RAM)")
    run.add_argument(
        "--allow-unmetered",
        action="store_true",
        help=f"record windows even when no meter exists (the records say so; they carry no truth; written to {SCRATCH_DIR}/)",
    )
    run.set_defaults(handler=_run_command, parser=run)


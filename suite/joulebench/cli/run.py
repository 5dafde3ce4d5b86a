"""`joulebench run`: metered windows of a track's workloads, written as run records."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from joulebench.cli import output
from joulebench.cli.arguments import argv_for, identifier, non_negative_seconds, positive_int
from joulebench.errors import NoMeterError
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

    def report(self, out_site: Path) -> None:
        output.say(f"summary: wrote {len(self.written)} record(s) to {out_site}/; "
                   f"{self.already} window(s) were already recorded and kept")
        for line in self.skipped:
            output.say(f"  skipped {line}")


def _run_command(args) -> int:
    from joulebench import catalog
    from joulebench.measure.environment import fingerprint
    from joulebench.measure.hardware import check_against_profile, detect_hardware, require_match
    from joulebench.measure.meter_set import open_meters
    from joulebench.measure.window import RunContext

    out_dir = Path(args.out or (SCRATCH_DIR if args.allow_unmetered else "results"))
    if args.container:
        from joulebench.measure.container import run_in_container

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

    profile = catalog.get_profile(args.profile)
    specs = catalog.select_workloads(args.track, args.only)
    hardware = detect_hardware()
    check = check_against_profile(hardware, profile, certified=args.certified)
    require_match(check)
    for text in check.warnings:
        output.warning(f"hardware differs from {profile.id}: {text}")
    try:
        meters = open_meters(args.allow_unmetered, Path(args.meters) if args.meters else None)
    except NoMeterError as exc:
        raise NoMeterError(f"{exc}\n(--allow-unmetered records the windows anyway, into {SCRATCH_DIR}/ unless --out "
                           "says otherwise, with no energy and every boundary marked missing.)") from None
    for missing in meters.missing:
        output.warning(f"no meter covers {missing.boundary}: {missing.reason}")
    device = args.device or ("cuda" if profile.kind == "gpu" else "cpu")
    live_ids = list(args.live_estimator or ())

    def open_live():
        from joulebench.estimators import open_live as open_one

        return [open_one(eid, out_dir / ".live" / args.site) for eid in live_ids]

    ctx = RunContext(
        profile=profile,
        site=args.site,
        out_dir=out_dir,
        meters=meters,
        hardware=hardware,
        hardware_check=check,
        environment=fingerprint(hardware.gpu_driver),
        device=device,
        idle_s=args.idle_seconds,
        open_live=open_live,
    )
    for estimator in open_live():
        estimator.close()  # an unavailable live estimator fails now, not after the first model build
    for meter in meters.all():
        meter.start()
    try:
        summary = _run_all(specs, ctx, args.repeats)
    finally:
        meters.close()
    summary.report(out_dir / args.site)
    return 0


def _run_all(specs: list[WorkloadSpec], ctx, repeats: int | None) -> RunSummary:
    from joulebench.measure.runner import run_workload

    if not sys.stderr.isatty():
        summary = RunSummary()
        for spec in specs:
            run_workload(spec, ctx, repeats, observer=summary)
        return summary
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("windows", total=sum(repeats or s.repeats for s in specs))
        summary = RunSummary(live=progress, task=task)
        for spec in specs:
            run_workload(spec, ctx, repeats, observer=summary)
    return summary


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run workloads and write metered run records")
    run.add_argument("--track", required=True, help="gpu-v1, cpu-v1 or smoke (joulebench workloads list)")
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
    run.add_argument("--container", default=None, metavar="IMAGE", help="run inside this image (see README)")
    run.add_argument("--certified", action="store_true", help="a certified run: refuses images referenced by tag only, and a machine materially smaller than its profile "
                          "(under 90%% of its CPU cores or RAM)")
    run.add_argument(
        "--allow-unmetered",
        action="store_true",
        help=f"record windows even when no meter exists (the records say so; they carry no truth; written to {SCRATCH_DIR}/)",
    )
    run.set_defaults(handler=_run_command, parser=run)


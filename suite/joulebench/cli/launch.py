"""Commands that run a track on a cluster's scheduler: `launch slurm`, `launch submit`."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from joulebench.cli.arguments import identifier, positive_int


def _launch_slurm(args) -> int:
    from joulebench import __version__, catalog
    from joulebench.cluster import launch
    from joulebench.cluster.slurm import plan_launch
    from joulebench.formats import SlurmSettings

    profile = catalog.get_profile(args.profile)
    specs = catalog.select_workloads(args.track, args.only)
    now = datetime.now(timezone.utc)
    manifest = plan_launch(
        launch_id=args.launch_id or launch.new_launch_id(args.track, now),
        created_at=now,
        joulebench_version=__version__,
        specs=specs,
        profile=profile,
        site=args.site,
        out_dir=Path(args.out).resolve(),
        repeats=args.repeats,
        idle_s=args.idle_seconds,
        live_estimators=args.live_estimator or (),
        meters=str(Path(args.meters).resolve()) if args.meters else None,
        slurm=SlurmSettings(
            partition=args.partition,
            account=args.account,
            setup=args.setup or [],
            joulebench=args.joulebench,
            torchrun=args.torchrun,
            rdzv_port=args.rdzv_port,
            time_limit_override_min=args.time_limit,
        ),
    )
    folder = launch.launch_folder(Path(manifest.out_dir), manifest.site, manifest.launch_id)
    if args.dry_run:
        texts = launch.scripts(manifest)
        for i, (name, text) in enumerate(texts.items()):
            if len(texts) > 1:
                sys.stdout.write(("\n" if i else "") + f"# ===== {name} =====\n")
            sys.stdout.write(text)
        sys.stderr.write(f"dry run: nothing written; without --dry-run the script(s) and manifest.json go to {folder}/\n")
        return 0
    files = launch.write_launch(manifest)
    sys.stderr.write(f"wrote {files.manifest}\n" + "".join(f"wrote {p}\n" for p in files.scripts))
    if not args.submit:
        sys.stderr.write(f"review, then submit with: joulebench launch submit {files.folder}\n")
        return 0
    return _report_submitted(launch.submit(files))


def _report_submitted(manifest) -> int:
    for job in manifest.jobs:
        sys.stdout.write(f"{job.job_id} {job.script} ({len(job.tasks)} task(s), --time {job.time_limit_s // 60} min)\n")
    return 0


def _launch_submit(args) -> int:
    from joulebench.cluster import launch
    from joulebench.errors import InputError

    folder = Path(args.folder)
    manifest_path = folder / launch.MANIFEST
    if not manifest_path.exists():
        raise InputError(f"{folder}: no {launch.MANIFEST} here (expected a folder written by `joulebench launch slurm`)")
    manifest = launch.load_manifest(manifest_path)
    files = launch.LaunchFiles(folder, manifest_path, [folder / job.script for job in manifest.jobs])
    for path, (name, text) in zip(files.scripts, launch.scripts(manifest).items()):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise InputError(f"{path}: differs from the script its manifest renders; nothing was submitted "
                             "(write a new launch instead of editing one)")
    return _report_submitted(launch.submit(files))


def register(subparsers) -> None:
    launch = subparsers.add_parser("launch", help="run a track on a cluster's scheduler (Slurm)")
    lsub = launch.add_subparsers(dest="launch_action", required=True)
    slurm = lsub.add_parser(
        "slurm",
        help="write a track's sbatch script(s) and manifest (a job array over its workloads); submit when asked",
        description="Writes OUT/SITE/_launch/ID/: one sbatch script per node count (a job array, one workload "
                    "per task, whole nodes with --exclusive, --requeue, a time limit computed from the pinned "
                    "windows) and manifest.json. Nothing is submitted without --submit.",
    )
    slurm.add_argument("--track", required=True)
    slurm.add_argument("--profile", required=True, help="the declared hardware profile of the cluster's nodes")
    slurm.add_argument("--site", required=True, type=identifier)
    slurm.add_argument("--only", action="append", metavar="ID", help="launch only this workload (repeatable)")
    slurm.add_argument("--repeats", type=positive_int, default=None, help="override the specs' repeats")
    slurm.add_argument("--out", default="results", help="results folder the tasks write to (made absolute)")
    slurm.add_argument("--idle-seconds", type=float, default=3.0, help="idle measurement before each workload's windows")
    slurm.add_argument("--live-estimator", action="append", metavar="ID",
                       help="run a live estimator alongside (repeatable), e.g. slurm-sstat")
    slurm.add_argument("--meters", default=None, metavar="CONFIG", help="the site's external meters (YAML)")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--account", default=None)
    slurm.add_argument("--time-limit", type=positive_int, default=None, metavar="MINUTES",
                       help="override the computed time limit")
    slurm.add_argument("--setup", action="append", metavar="LINE",
                       help="a shell line the script runs first, e.g. 'source /opt/jb/.venv/bin/activate' (repeatable)")
    slurm.add_argument("--joulebench", default="joulebench", metavar="COMMAND",
                       help="the command that runs joulebench on the nodes (default: joulebench)")
    slurm.add_argument("--torchrun", default="torchrun", metavar="COMMAND", help="torchrun on the nodes")
    slurm.add_argument("--rdzv-port", type=positive_int, default=29500, help="torchrun's rendezvous port")
    slurm.add_argument("--launch-id", type=identifier, default=None, help="default: TRACK-<UTC time>")
    mode = slurm.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the script(s); write and submit nothing")
    mode.add_argument("--submit", action="store_true", help="write, then submit with sbatch")
    slurm.set_defaults(handler=_launch_slurm)

    submit = lsub.add_parser("submit", help="submit a launch written (and reviewed) earlier")
    submit.add_argument("folder", help="OUT/SITE/_launch/ID")
    submit.set_defaults(handler=_launch_submit)

"""Commands over a Slurm cluster's own records: `slurm collect`."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _collect(args) -> int:
    from joulebench.cluster import launch, slurm
    from joulebench.errors import InputError
    from joulebench.files import write_text_atomic
    from joulebench.formats import EstimateFile
    from joulebench.records import load_records

    runs = Path(args.runs)
    records = load_records(runs)
    if args.site:
        records = [r for r in records if r.site == args.site]
    if not records:
        raise InputError(f"no run records under {runs}" + (f" from site {args.site!r}" if args.site else ""))
    manifest_paths = [Path(p) for p in args.manifest] if args.manifest else launch.find_manifests(runs)
    manifests = [launch.load_manifest(p) for p in manifest_paths]
    job_ids = {r.scheduler.job_id for r in records if r.scheduler is not None}
    job_ids |= {job.job_id for m in manifests for job in m.jobs if job.job_id is not None}

    if args.sacct_file:
        if not args.slurm_version:
            raise InputError("--sacct-file needs --slurm-version (the version of the Slurm that wrote it)")
        text = Path(args.sacct_file).read_text(encoding="utf-8")
        version, plugin_name = args.slurm_version, args.energy_plugin
    else:
        if not job_ids:
            raise InputError(f"no Slurm job ids: no record under {runs} has a scheduler block and no launch "
                             "manifest there names a submitted job (give --manifest)")
        environ = {**os.environ, **slurm.SACCT_ENVIRONMENT}
        text = slurm.run_slurm(slurm.sacct_argv(job_ids), environ=environ)
        version = args.slurm_version or slurm.parse_version(slurm.run_slurm(["sacct", "--version"]))
        plugin_name = args.energy_plugin
        if plugin_name is None:
            try:
                plugin_name = slurm.read_energy_plugin().name
            except slurm.SlurmCommandError as exc:
                sys.stderr.write(f"joulebench: note: {exc}\n")
    if not version:
        raise InputError("cannot tell the Slurm version; give --slurm-version")
    steps = slurm.parse_sacct(text, args.sacct_file or "sacct")
    plugin = slurm.energy_plugin(plugin_name) if plugin_name else None
    result = slurm.collect(records, steps, version, manifests, plugin)
    for note in result.notes:
        sys.stderr.write(f"joulebench: note: {note}\n")
    if not result.estimates:
        raise InputError(f"no estimates: none of the {len(records)} record(s) could be joined with an energy "
                         "reading of sacct (see the notes above)")
    document = EstimateFile(estimates=result.estimates)
    write_text_atomic(Path(args.out), document.model_dump_json(indent=1) + "\n")
    sys.stderr.write(f"wrote {args.out}: {len(result.estimates)} estimate(s) by {slurm.SACCT_ESTIMATOR_ID} "
                     f"{version} for {len(records)} record(s)\n")
    return 0


def register(subparsers) -> None:
    group = subparsers.add_parser("slurm", help="Slurm's own accounting as an estimator")
    ssub = group.add_subparsers(dest="slurm_action", required=True)
    collect = ssub.add_parser(
        "collect",
        help="turn sacct history into an estimates file (estimator slurm-sacct) for `joulebench score --submission`",
        description="For each run record: the sacct step it ran in (through the record's scheduler block, or the "
                    "launch manifest of its array task; a requeued job's attempt whose times contain the window), "
                    "and Slurm's claim for the window: the step's ConsumedEnergyRaw x window duration / ElapsedRaw. "
                    "Slurm's numbers are estimates to score, never truth. To read a saved file instead of calling "
                    "sacct, save it with: SLURM_TIME_FORMAT=%s sacct --noheader --parsable2 --duplicates "
                    "--format=JobID,JobIDRaw,State,Start,End,ElapsedRaw,ConsumedEnergyRaw,NodeList --jobs=IDS",
    )
    collect.add_argument("--runs", default="results", help="folder of run records (and their _launch folders)")
    collect.add_argument("--site", default=None, help="only records from this site")
    collect.add_argument("--manifest", action="append", metavar="FILE",
                         help="a launch manifest (repeatable; default: every RUNS/**/_launch/*/manifest.json)")
    collect.add_argument("--sacct-file", default=None, metavar="FILE", help="saved sacct output instead of calling sacct")
    collect.add_argument("--slurm-version", default=None, help="the estimator version (default: sacct --version)")
    collect.add_argument("--energy-plugin", default=None, metavar="NAME",
                         help="AcctGatherEnergyType, e.g. acct_gather_energy/ipmi, for records that do not name it "
                              "(default: scontrol show config)")
    collect.add_argument("--out", required=True, metavar="FILE", help="the estimates file to write (JSON)")
    collect.set_defaults(handler=_collect)

"""Commands that read the catalog: `schema`, `workloads list`, `profiles list`."""

from __future__ import annotations

import json
import sys

from joulebench import catalog
from joulebench.cli import output
from joulebench.formats import SCHEMAS


def _schema(args) -> int:
    model = SCHEMAS[args.kind]
    sys.stdout.write(json.dumps(model.model_json_schema(), indent=2) + "\n")
    return 0


def _workload_row(spec) -> dict:
    return {
        "id": spec.id,
        "track": spec.track,
        "domain": spec.domain,
        "task": spec.task,
        "architecture": spec.model.architecture,
        "params": spec.params,
        "flops_per_iteration": spec.flops_per_iteration,
        "dtype": spec.dtype,
        "batch_size": spec.batch_size,
        "image_size": spec.image_size,
        "seq_len": spec.seq_len,
        "new_tokens": spec.new_tokens,
        "measured_iterations": spec.measured_iterations,
        "repeats": spec.repeats,
        "spec_hash": spec.spec_hash,
    }


def _profile_row(profile) -> dict:
    acc = profile.accelerator
    return {
        "id": profile.id,
        "name": profile.name,
        "kind": profile.kind,
        "accelerator": acc.model if acc else None,
        "accelerator_count": acc.count if acc else 0,
        "accelerator_tdp_w": acc.tdp_w if acc else None,
        "cpu": profile.cpu.model,
        "cpu_sockets": profile.cpu.sockets,
        "cpu_cores": profile.cpu.sockets * profile.cpu.cores_per_socket,
        "memory_gib": profile.memory.total_gib,
        "meters": [m.model_dump() for m in profile.meters],
        "profile_hash": profile.profile_hash,
    }


def _print_rows(rows: list[dict], fmt: str, columns: list[str], title: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    output.table(rows, columns, title)


def _workloads_list(args) -> int:
    rows = [_workload_row(s) for s in catalog.load_workloads(args.track)]
    _print_rows(rows, args.format, ["id", "track", "domain", "task", "params", "flops_per_iteration", "dtype", "batch_size"],
                "workloads")
    return 0


def _workloads_pin(args) -> int:
    from joulebench.measure.pinning_parallel import pin_any_workloads

    results = pin_any_workloads(args.track, write=args.write, only=args.only)
    stale = [r for r in results if r.changed]
    for r in results:
        state = ("rewritten" if r.written else "differs") if r.changed else "up to date"
        detail = f" ({', '.join(r.changed)})" if r.changed else ""
        comm = getattr(r, "comm_bytes_per_iteration", None)
        comm_text = f", comm bytes/iter {output.count(comm)}" if comm is not None else ""
        sys.stdout.write(f"{r.workload}: params {output.count(r.params)}, flops/iter {output.count(r.flops_per_iteration)}"
                         f"{comm_text}: {state}{detail}\n")
    # Without --write, a stale pin is a failure, so CI can run this as a check.
    return 1 if stale and not args.write else 0


def _pin_mlperf(args) -> int:
    from joulebench.importers.mlperf_models import recount

    results = recount(write=args.write)
    for r in results:
        if r.values is None:
            sys.stdout.write(f"{r.family}: no reference model joulebench can build; params and FLOPs stay unknown\n")
            continue
        detail = f"  (differs: {', '.join(r.changed)}{'; rewritten' if args.write else ''})" if r.changed else ""
        sys.stdout.write(f"{r.family}: params {output.count(r.values['params'])}, FLOPs/sample "
                         f"{output.count(r.values['flops_per_sample'])}{detail}\n")
    # Without --write, a stale pin is a failure, so CI can run this as a check.
    return 1 if any(r.changed for r in results) and not args.write else 0


def _profiles_list(args) -> int:
    rows = [_profile_row(p) for p in catalog.load_profiles()]
    _print_rows(rows, args.format, ["id", "name", "accelerator", "accelerator_count", "cpu"], "hardware profiles")
    return 0


def _validate(args) -> int:
    from pathlib import Path

    for path in args.files:
        VALIDATORS[args.kind](Path(path))
        sys.stdout.write(output.clean(f"{path}: valid {args.kind}") + "\n")
    return 0


def _load_run(path):
    from joulebench.records import read_record

    return read_record(path)


def _load_meters(path):
    from joulebench.measure.meters.config import load_meters_config

    return load_meters_config(path)


def _load_certificate(path):
    from joulebench.certify.certificates import load_certificate

    return load_certificate(path)


def _load_trusted_keys(path):
    from joulebench.certify.certificates import load_trusted_keys

    return load_trusted_keys(path)


def _load_estimates(path):
    from joulebench.scoring.submission import read_submission

    return read_submission(path)


# `joulebench validate KIND FILE...`: every file kind a user hands joulebench.
VALIDATORS = {
    "workload": catalog.load_workload,
    "profile": catalog.load_profile,
    "run": _load_run,
    "meters": _load_meters,
    "certificate": _load_certificate,
    "trusted-keys": _load_trusted_keys,
    "estimate": _load_estimates,
}


def register(subparsers) -> None:
    check = subparsers.add_parser("validate", help="check files against their schema (exit 2 on the first bad one)")
    check.add_argument("kind", choices=["workload", "profile", "run", "meters", "certificate", "trusted-keys", "estimate"])
    check.add_argument("files", nargs="+")
    check.set_defaults(handler=_validate)

    schema = subparsers.add_parser("schema", help="print the JSON Schema of a file format")
    schema.add_argument("kind", choices=sorted(SCHEMAS))
    schema.set_defaults(handler=_schema)

    workloads = subparsers.add_parser("workloads", help="the pinned workloads")
    wsub = workloads.add_subparsers(dest="action", required=True)
    wlist = wsub.add_parser("list", help="list workloads")
    wlist.add_argument("--track", default=None, help="only this track (gpu-v1, cpu-v1, smoke; default: all)")
    wlist.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    wlist.set_defaults(handler=_workloads_list)
    wpin = wsub.add_parser("pin", help="recount params and FLOPs (on the meta device; needs torch), and the bytes "
                                       "a multi-rank workload communicates")
    wpin.add_argument("--track", default=None, help="only this track (default: all)")
    wpin.add_argument("--only", action="append", metavar="ID", help="only this workload (repeatable)")
    wpin.add_argument("--write", action="store_true", help="rewrite the pinned lines of stale files")
    wpin.set_defaults(handler=_workloads_pin)

    mlperf = wsub.add_parser("pin-mlperf", help="recount the MLPerf reference models' params and FLOPs (needs torch)")
    mlperf.add_argument("--write", action="store_true", help="rewrite the pinned lines of importers/mlperf_models.yaml")
    mlperf.set_defaults(handler=_pin_mlperf)

    profiles = subparsers.add_parser("profiles", help="the declared hardware profiles")
    psub = profiles.add_subparsers(dest="action", required=True)
    plist = psub.add_parser("list", help="list hardware profiles")
    plist.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    plist.set_defaults(handler=_profiles_list)

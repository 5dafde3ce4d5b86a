"""Pinning multi-rank workloads: the counts of measure/pinning.py, plus the layout's public facts.

For a spec with a `parallel` block this recounts what `pin_file` recounts
(params, the *global* flops_per_iteration: the spec's batch_size is the global
batch, so counting one step() of the unsplit model over it counts every rank's
work; bubbles, shards and splits add no FLOPs), and also writes
comm_bytes_per_iteration and comm_method (joulebench.catalog.parallel) and,
where the track has assumed MFUs there, target_window_s. Only those lines of
the YAML file are rewritten, as pinning does. `pin_any_workloads` pins a
track's files whatever they are (what `joulebench workloads pin` runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from joulebench.catalog import WORKLOADS_DIR, parallel
from joulebench.errors import InputError
from joulebench.files import read_yaml, validate
from joulebench.formats import WorkloadSpec
from joulebench.measure import pinning

PARALLEL_KEYS = ("comm_bytes_per_iteration", "comm_method")


@dataclass(frozen=True)
class ParallelPinResult:
    path: Path
    workload: str
    params: int
    flops_per_iteration: int
    comm_bytes_per_iteration: int
    target_window_s: float | None
    changed: tuple[str, ...]
    written: bool


def _load(path: Path) -> tuple[WorkloadSpec, dict]:
    raw = read_yaml(path, root=Path(path).parent.parent)
    if "parallel" not in raw:
        raise InputError(f"{path}: field 'parallel': expected a parallel layout (this pins multi-rank workloads)")
    data = dict(raw)
    # Placeholders so a never-pinned file validates; the counts replace them.
    data.setdefault("params", 1)
    data.setdefault("flops_per_iteration", 1)
    data.setdefault("comm_bytes_per_iteration", 0)
    data.setdefault("comm_method", "(not yet counted)")
    spec = validate(WorkloadSpec, data, str(path))
    if spec.id != path.stem or spec.track != path.parent.name:
        raise InputError(f"{path}: fields 'id' and 'track': expected {path.parent.name}/{path.stem}, "
                         f"got {spec.track}/{spec.id}")
    return spec, raw


def pinned_parallel_values(spec: WorkloadSpec) -> dict:
    values = pinning.pinned_values(spec)
    counted = spec.model_copy(update={"params": values["params"], "flops_per_iteration": float(values["flops_per_iteration"])})
    values["comm_bytes_per_iteration"], values["comm_method"] = parallel.comm_bytes(counted)
    if spec.id in parallel.ASSUMED_MFU.get(spec.track, {}):
        values["target_window_s"] = round(parallel.estimate_window_s(counted), 2)
    return values


def pin_parallel_file(path: Path, write: bool = False) -> ParallelPinResult:
    path = Path(path)
    spec, raw = _load(path)
    values = pinned_parallel_values(spec)
    keys = (*pinning.PINNED_KEYS, *PARALLEL_KEYS)
    stored = {k: raw.get(k) for k in keys}
    changed = tuple(k for k in keys if k in values and stored[k] != values[k])
    if changed and write:
        counted = spec.model_copy(update={"params": values["params"],
                                          "flops_per_iteration": float(values["flops_per_iteration"])})
        rendered = {}
        for key in keys:
            if key not in values:
                continue
            if key == "target_window_s":
                rendered[key] = f"{key}: {values[key]}  # {parallel.window_note(counted)}"
            elif key == "pinned_with":
                rendered[key] = f"{key}: {json.dumps(values[key], sort_keys=True)}"
            else:
                rendered[key] = f"{key}: {json.dumps(values[key])}"
        pinning.write_pinned(path, rendered, values)
    return ParallelPinResult(
        path=path,
        workload=f"{spec.track}/{spec.id}",
        params=values["params"],
        flops_per_iteration=values["flops_per_iteration"],
        comm_bytes_per_iteration=values["comm_bytes_per_iteration"],
        target_window_s=values.get("target_window_s", spec.target_window_s),
        changed=changed,
        written=bool(changed and write),
    )


def pin_parallel_workloads(track: str, write: bool = False, only: list[str] | None = None,
                           root: Path = WORKLOADS_DIR) -> list[ParallelPinResult]:
    """Recount every multi-rank workload file of a track; rewrite changed pins if `write`."""
    return [pin_parallel_file(path, write=write) for path in pinning.workload_files(track, only, root)]


def pin_file(path: Path, write: bool = False) -> ParallelPinResult | pinning.PinResult:
    """Recount any workload file: with the layout's facts where it has a `parallel` block (pin_parallel_file)."""
    path = Path(path)
    if "parallel" in read_yaml(path, root=path.parent.parent):
        return pin_parallel_file(path, write=write)
    return pinning.pin_file(path, write=write)


def pin_any_workloads(track: str | None = None, write: bool = False, only: list[str] | None = None,
                      root: Path = WORKLOADS_DIR) -> list[ParallelPinResult | pinning.PinResult]:
    """`joulebench workloads pin`: every workload file of a track (or all), single-process or multi-rank."""
    return [pin_file(path, write=write) for path in pinning.workload_files(track, only, root)]

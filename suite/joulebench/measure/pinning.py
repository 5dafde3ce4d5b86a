"""Pinning: recount the parameters and FLOPs of workload files and write them back.

`pin_workloads` rebuilds each spec on the meta device (joulebench.measure.models), and
rewrites only the pinned lines of its YAML file (params, flops_per_iteration,
flops_method, target_window_s, pinned_with); every other line, comments
included, is kept as written. A dry run (write=False) reports what would change,
which is how a check for stale pins works.

A file that has never been pinned may leave params and flops_per_iteration out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from joulebench.catalog import WORKLOADS_DIR, list_tracks, sizing
from joulebench.errors import InputError
from joulebench.files import read_yaml, validate, write_text_atomic
from joulebench.formats import WorkloadSpec

PINNED_KEYS = ("params", "flops_per_iteration", "flops_method", "target_window_s", "pinned_with")


@dataclass(frozen=True)
class PinResult:
    path: Path
    workload: str  # "track/id"
    params: int
    flops_per_iteration: int
    target_window_s: float | None
    changed: tuple[str, ...]  # pinned fields whose value differs from the file
    written: bool


def library_versions(spec: WorkloadSpec) -> dict[str, str]:
    """Versions of the libraries the counts depend on (local build tags such as +cu130 dropped:
    counting happens on the meta device, where the build does not matter)."""
    import torch

    versions = {"torch": torch.__version__.split("+")[0]}
    if spec.model.library == "torchvision":
        import torchvision

        versions["torchvision"] = torchvision.__version__.split("+")[0]
    else:
        import transformers

        versions["transformers"] = transformers.__version__.split("+")[0]
    return versions


def _load_for_pinning(path: Path) -> WorkloadSpec:
    data = read_yaml(path, root=Path(path).parent.parent)
    # Placeholders so a never-pinned file validates; the counts replace them.
    data.setdefault("params", 1)
    data.setdefault("flops_per_iteration", 1)
    spec = validate(WorkloadSpec, data, str(path))
    if spec.id != path.stem:
        raise InputError(f"{path}: field 'id': expected the file name {path.stem!r}, got {spec.id!r}")
    if spec.track != path.parent.name:
        raise InputError(f"{path}: field 'track': expected the folder name {path.parent.name!r}, got {spec.track!r}")
    return spec


def pinned_values(spec: WorkloadSpec) -> dict:
    """What the pinned fields of `spec` should hold, recounted now."""
    from joulebench.measure.models import FLOPS_METHODS, count_params_and_flops

    params, flops = count_params_and_flops(spec)
    values = {
        "params": params,
        "flops_per_iteration": int(flops),
        "flops_method": FLOPS_METHODS[spec.task],
        "pinned_with": library_versions(spec),
    }
    if sizing.has_reference(spec.track):
        recounted = spec.model_copy(update={"flops_per_iteration": float(flops)})
        values["target_window_s"] = round(sizing.estimate_window_s(recounted), 2)
    return values


def _render(key: str, value, spec: WorkloadSpec) -> str:
    if key == "target_window_s":
        return f"{key}: {value}  # {sizing.window_note(spec)}"
    if key == "pinned_with":
        return f"{key}: {json.dumps(value, sort_keys=True)}"
    # JSON strings and numbers are valid YAML scalars.
    return f"{key}: {json.dumps(value)}"


def write_pinned(path: Path, rendered: dict[str, str], values: dict) -> None:
    """Rewrite the pinned lines of a spec file, refusing a text that would not read back as `values`."""
    text = rewrite_pinned_lines(path.read_text(encoding="utf-8"), rendered)
    parsed = yaml.safe_load(text)
    for key in rendered:  # never write a file that does not read back as intended
        if parsed.get(key) != values[key]:
            raise InputError(f"{path}: field {key!r}: rewriting it would not read back as {values[key]!r}")
    write_text_atomic(path, text)


def rewrite_pinned_lines(text: str, rendered: dict[str, str]) -> str:
    """Replace the top-level `key:` line (and its indented continuation) of each key; append missing ones."""
    lines = text.splitlines()
    out: list[str] = []
    done: set[str] = set()
    i = 0
    while i < len(lines):
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:", lines[i])
        key = match.group(1) if match else None
        if key in rendered:
            out.append(rendered[key])
            done.add(key)
            i += 1
            while i < len(lines) and lines[i][:1] in (" ", "\t"):
                i += 1  # an old block value (e.g. pinned_with as a block mapping)
            continue
        out.append(lines[i])
        i += 1
    out.extend(rendered[k] for k in rendered if k not in done)
    return "\n".join(out) + "\n"


def _stored(spec: WorkloadSpec, raw: dict) -> dict:
    return {
        "params": raw.get("params"),
        "flops_per_iteration": raw.get("flops_per_iteration"),
        "flops_method": spec.flops_method,
        "pinned_with": spec.pinned_with,
        "target_window_s": spec.target_window_s,
    }


def pin_file(path: Path, write: bool = False) -> PinResult:
    path = Path(path)
    spec = _load_for_pinning(path)
    values = pinned_values(spec)
    stored = _stored(spec, read_yaml(path, root=Path(path).parent.parent))
    changed = tuple(k for k in PINNED_KEYS if k in values and stored[k] != values[k])
    if changed and write:
        pinned = spec.model_copy(update={**values, "flops_per_iteration": float(values["flops_per_iteration"])})
        write_pinned(path, {k: _render(k, values[k], pinned) for k in PINNED_KEYS if k in values}, values)
    return PinResult(
        path=path,
        workload=f"{spec.track}/{spec.id}",
        params=values["params"],
        flops_per_iteration=values["flops_per_iteration"],
        target_window_s=values.get("target_window_s", spec.target_window_s),
        changed=changed,
        written=bool(changed and write),
    )


def workload_files(track: str | None = None, only: list[str] | None = None, root: Path = WORKLOADS_DIR) -> list[Path]:
    tracks = list_tracks(root)
    if track is not None and track not in tracks:
        raise InputError(f"unknown track {track!r}; tracks are: {', '.join(tracks)}")
    folders = [root / track] if track else [root / t for t in tracks]
    files = [p for folder in folders for p in sorted(folder.glob("*.yaml")) if not p.name.startswith("_")]
    if only:
        unknown = sorted(set(only) - {p.stem for p in files})
        if unknown:
            raise InputError(f"unknown workload {unknown[0]!r}; known: {', '.join(sorted(p.stem for p in files))}")
        files = [p for p in files if p.stem in only]
    return files


def pin_workloads(
    track: str | None = None,
    write: bool = False,
    only: list[str] | None = None,
    root: Path = WORKLOADS_DIR,
) -> list[PinResult]:
    """Recount every workload file (of one track, or of `only` ids); rewrite changed pins if `write`."""
    return [pin_file(path, write=write) for path in workload_files(track, only, root)]

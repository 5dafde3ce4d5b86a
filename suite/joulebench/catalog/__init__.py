"""The pinned suite (workloads/) and the declared hardware (profiles/), shipped as package data.

Every file is validated in full; all problems in a file are reported at once,
each with the file, the field and what was expected. Files are walked in sorted
order so listings are deterministic. A file whose name starts with `_` is a
base that others `include`; it is not an entry of its own.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from joulebench.errors import InputError
from joulebench.formats import HardwareProfile, WorkloadSpec

# Package data, found the same way from a checkout, an editable install or a wheel.
_DATA = Path(str(resources.files(__name__)))
WORKLOADS_DIR = _DATA / "workloads"
PROFILES_DIR = _DATA / "profiles"

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader (no tags that run code) that refuses a key given twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path, _chain: tuple[Path, ...] = ()) -> dict:
    """Read a YAML mapping, resolving `include: other.yaml` (relative, merged under)."""
    path = Path(path)
    if path.resolve() in _chain:
        raise InputError(f"{path}: include cycle through {' -> '.join(str(p) for p in _chain)}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str):
        raise InputError(f"{path}: field 'include': expected a relative file name, got {include!r}")
    base = read_yaml(path.parent / include, _chain + (path.resolve(),))
    return _deep_merge(base, data)


def format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (not part of the schema; check its spelling)"
        elif err["type"] == "missing":
            message = "required field is missing"
        got = err.get("input")
        suffix = "" if err["type"] in ("missing", "extra_forbidden", "value_error") or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  field '{field}': {message}{suffix}")
    return "\n".join(lines)


def validate(model: type[M], data: Any, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(source, exc)) from None


def load_json_file(model: type[M], path: Path, what: str) -> M:
    """A JSON file of `model`; unreadable or invalid -> InputError naming the file and fields."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(str(path), exc)) from None


def load_file(model: type[M], path: Path) -> M:
    return validate(model, read_yaml(path), str(path))


def _entry_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.yaml") if not p.name.startswith("_"))


def load_workload(path: Path) -> WorkloadSpec:
    spec = load_file(WorkloadSpec, path)
    if spec.id != path.stem:
        raise InputError(f"{path}: field 'id': expected the file name {path.stem!r}, got {spec.id!r}")
    if spec.track != path.parent.name:
        raise InputError(f"{path}: field 'track': expected the folder name {path.parent.name!r}, got {spec.track!r}")
    return spec


def load_profile(path: Path) -> HardwareProfile:
    profile = load_file(HardwareProfile, path)
    if profile.id != path.stem:
        raise InputError(f"{path}: field 'id': expected the file name {path.stem!r}, got {profile.id!r}")
    return profile


def load_workloads(track: str | None = None, root: Path = WORKLOADS_DIR) -> list[WorkloadSpec]:
    """All workloads, or those of one track; an unknown track names the valid ones."""
    tracks = list_tracks(root)
    if track is not None and track not in tracks:
        raise InputError(f"unknown track {track!r}; tracks are: {', '.join(tracks)}")
    folders = [root / track] if track else [root / t for t in tracks]
    specs = [load_workload(p) for folder in folders for p in _entry_files(folder)]
    return specs


def list_tracks(root: Path = WORKLOADS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def load_profiles(root: Path = PROFILES_DIR) -> list[HardwareProfile]:
    return [load_profile(p) for p in _entry_files(root)]


def _did_you_mean(name: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Valid: {', '.join(choices)}"


def get_profile(profile_id: str, root: Path = PROFILES_DIR) -> HardwareProfile:
    path = root / f"{profile_id}.yaml"
    if not path.exists():
        choices = [p.stem for p in _entry_files(root)]
        raise InputError(f"unknown hardware profile {profile_id!r}.{_did_you_mean(profile_id, choices)}")
    return load_profile(path)


def select_workloads(track: str, only: list[str] | None = None, root: Path = WORKLOADS_DIR) -> list[WorkloadSpec]:
    specs = load_workloads(track, root)
    if not only:
        return specs
    by_id = {s.id: s for s in specs}
    unknown = [w for w in only if w not in by_id]
    if unknown:
        raise InputError(f"unknown workload {unknown[0]!r} in track {track!r}.{_did_you_mean(unknown[0], list(by_id))}")
    return [by_id[w] for w in only]

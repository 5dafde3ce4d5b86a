"""Reading and writing joulebench's files: strict YAML and JSON into their models, atomic writes.

Every reader turns a bad file into an InputError that names the file, the
field and what was expected; every writer replaces a file whole, so a reader
sees the old content or the new, never half of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from joulebench.errors import InputError

M = TypeVar("M", bound=BaseModel)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """`mode` replaces mkstemp's 0600, so records are as readable as any other file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- reading


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


def load_json_model(model: type[M], path: Path, what: str) -> M:
    """A JSON file of `model`; unreadable or invalid -> InputError naming the file and fields."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(str(path), exc)) from None


def load_yaml_model(model: type[M], path: Path) -> M:
    """A YAML file (with includes) validated as `model`."""
    return validate(model, read_yaml(path), str(path))

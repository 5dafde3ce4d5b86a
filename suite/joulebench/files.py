"""Reading and writing joulebench's files: safe reads, strict YAML and JSON into their models, atomic writes.

Every reader turns a bad file into an InputError that names the file, the
field and what was expected, in a few lines, and never echoes the file's
content (a quoted value is cut to a few dozen characters). Every writer
replaces a file whole, so a reader sees the old content or the new, never
half of it.

What a reader accepts:

- a regular file only: a folder, a FIFO (which would block), a device
  (/dev/zero would never end) or a socket is refused before anything is read;
  inside a folder that is walked (`root=`), a path that leaves the folder
  through a symbolic link is refused too;
- at most `max_bytes` (each kind of file has its cap, below), checked on the
  open file, so a file that grows while it is read is refused as well;
- UTF-8 text (a UTF-8 byte-order mark is allowed); UTF-16 or binary data is
  an error that says so;
- YAML without aliases (`*name`: a few lines of them can expand to gigabytes),
  without explicit tags (`!!python/object`, `!custom`), nested at most
  MAX_DEPTH deep, with no key given twice and no integer longer than
  MAX_INT_DIGITS digits; exponent floats written YAML-1.2 style (`1e-4`) are
  numbers;
- JSON without NaN or Infinity, nested at most MAX_DEPTH deep.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from joulebench.errors import InputError

M = TypeVar("M", bound=BaseModel)

MiB = 1024 * 1024
# Caps per kind of file: far above any real one, far below what would hurt.
MAX_YAML_BYTES = 1 * MiB  # workloads, profiles, meters configs, trusted keys
MAX_RECORD_BYTES = 32 * MiB  # a run record with its downsampled trace
MAX_CERTIFICATE_BYTES = 16 * MiB
MAX_REPORT_BYTES = 16 * MiB  # an importer's report
MAX_KEY_BYTES = 64 * 1024  # a PEM key
MAX_SECRET_BYTES = 4 * 1024  # a password file
MAX_DEPTH = 64  # nesting of YAML and JSON containers
MAX_INT_DIGITS = 30  # an integer literal in YAML; no real field needs more
MAX_PROBLEMS = 20  # lines of problems shown per file
QUOTE_CHARS = 60  # the most of any value an error message quotes

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """`repr(value)`, cut to about `limit` characters, with control characters escaped by repr."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: limit + 1])
    elif isinstance(value, str) and len(value) > limit + 1:
        value = value[: limit + 1]  # repr of a 300 MB string is not made just to be cut
    elif isinstance(value, (dict, list, tuple, set)):
        text = f"<a {type(value).__name__} of {len(value)} item(s)>"
        return text
    text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "...(cut)"
    return _CONTROL.sub("?", text)


def clip(text: str, limit: int = 200) -> str:
    """A message fragment from outside (a library's error text), single line, control characters removed, cut."""
    text = _CONTROL.sub("", str(text).replace("\n", " "))
    return text if len(text) <= limit else text[:limit] + "...(cut)"


# --------------------------------------------------------------------------- writing


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`.

    `mode` replaces mkstemp's 0600, so records are as readable as any other
    file. A path that is a folder, or whose parent cannot be a folder, is an
    InputError naming it.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected the path of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{path}: cannot write: {path.parent} exists and is not a folder") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot create its folder {path.parent}: {exc.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except NotADirectoryError:
        raise InputError(f"{path}: cannot write: {path.parent} is not a folder") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot write into {path.parent}: {exc.strerror}") from None
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


# --------------------------------------------------------------------------- reading files safely


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symbolic link resolved, lies inside `root` (also resolved)."""
    try:
        real, base = Path(path).resolve(), Path(root).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return real == base or base in real.parents


def read_bytes(path: Path | str, what: str, *, max_bytes: int, root: Path | None = None,
               follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; anything else is an InputError naming the file.

    With `root`, the path must stay inside that folder once symbolic links are
    resolved; with `follow_symlinks=False` the file itself must not be a
    symbolic link (for a caller that already walked the folder without
    following any). A FIFO or device is detected without blocking on it.
    """
    if root is not None and not inside(Path(path), root):
        raise InputError(f"{path}: a symbolic link out of {root}; a {what} must be a regular file inside the folder")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found (expected a {what})") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; expected a {what} file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputError(f"{path}: is a symbolic link; a {what} must be a regular file (links are not followed)") from None
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: is {_kind(info.st_mode)}; expected a {what} as a regular file")
        if info.st_size > max_bytes:
            raise InputError(f"{path}: {info.st_size:,} bytes is over the {max_bytes:,}-byte limit for a {what}; not read")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 * MiB, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise InputError(f"{path}: over the {max_bytes:,}-byte limit for a {what} (it grew while read); not read")
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    finally:
        os.close(fd)


def decode_text(data: bytes, source: str, what: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); UTF-16 and binary data are named as such."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(f"{source}: is UTF-16 text; expected a {what} in UTF-8 (save it as UTF-8)")
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(f"{source}: binary data (a NUL byte at offset {nul}); expected a {what} as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte offset {exc.start}); expected a {what} in UTF-8") from None


def read_text(path: Path, what: str, *, max_bytes: int, root: Path | None = None) -> str:
    return decode_text(read_bytes(path, what, max_bytes=max_bytes, root=root), str(path), what)


# --------------------------------------------------------------------------- JSON


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows (expected a finite number)")


def json_depth_problem(data: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why `data` nests deeper than `limit` (None when it does not); iterative, so it cannot overflow."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return f"nested more than {limit} levels deep"
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return None


def parse_json(data: bytes | str, source: str, what: str = "JSON file", allow_constants: bool = False) -> Any:
    """JSON text -> Python values; bad JSON, NaN, Infinity, absurd nesting or integers -> InputError.

    `allow_constants`: NaN and Infinity parse (as floats) so that a caller validating row by row can
    name the row and field that holds one; they must then be refused there.
    """
    try:
        value = json.loads(data, parse_constant=None if allow_constants else _refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         f"expected a {what}") from None
    except RecursionError:
        raise InputError(f"{source}: not a {what}: nested more than {MAX_DEPTH} levels deep") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte offset {exc.start}); expected a {what}") from None
    except ValueError as exc:  # NaN/Infinity (above), or an integer longer than Python converts
        raise InputError(f"{source}: not a {what}: {clip(exc, 120)}") from None
    deep = json_depth_problem(value)
    if deep:
        raise InputError(f"{source}: not a {what}: {deep}")
    return value


# --------------------------------------------------------------------------- YAML


class StrictYamlLoader(yaml.SafeLoader):
    """SafeLoader (no tags that run code) made stricter: see the module docstring."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: D102 (PyYAML's hook)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "an alias (*name) is not allowed: write the value out (aliases can expand without bound)",
                event.start_mark,
            )
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":  # the parser sets a tag only where the file writes one
            raise yaml.composer.ComposerError(
                None, None, f"an explicit tag ({clip(tag, 40)}) is not allowed: write a plain value", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):  # noqa: D102
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark
            )
        return super().construct_yaml_int(node)

    def construct_mapping(self, node, deep=False):  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key ({[1]: x}): not a field name
                    raise yaml.constructor.ConstructorError(
                        None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark
                    ) from None
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {quote(key)}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


StrictYamlLoader.add_constructor("tag:yaml.org,2002:int", StrictYamlLoader.construct_yaml_int)
# YAML 1.2 floats: 1e-4 and 8.2e9 are numbers (YAML 1.1 wants a dot and a signed exponent).
StrictYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: str) -> Any:
    """YAML text -> Python values with the StrictYamlLoader; every problem an InputError with line and column."""
    try:
        return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = clip(exc.problem or exc.context or "unreadable", 160)
        raise InputError(f"{source}: not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {clip(exc, 160)}") from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: nested too deep") from None
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{source}: not valid YAML: {clip(exc, 160)}") from None


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path, _chain: tuple[Path, ...] = (), *, max_bytes: int = MAX_YAML_BYTES,
              root: Path | None = None) -> dict:
    """Read a YAML mapping, resolving `include: other.yaml` (relative, merged under).

    An include must stay inside `root` (default: the folder of the file), so a
    file can never pull in something outside the tree it belongs to.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    resolved = path.resolve()
    if resolved in _chain:
        raise InputError(f"{path}: include cycle through {' -> '.join(str(p) for p in _chain)}")
    text = read_text(path, "YAML file", max_bytes=max_bytes)
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str) or not include or Path(include).is_absolute():
        raise InputError(f"{path}: field 'include': expected a relative file name, got {quote(include)}")
    target = path.parent / include
    if not inside(target, root):
        raise InputError(f"{path}: field 'include': {quote(include)} leaves {root}, the folder tree it may include from")
    if len(_chain) >= 8:
        raise InputError(f"{path}: field 'include': more than 8 levels of includes")
    base = read_yaml(target, _chain + (resolved,), max_bytes=max_bytes, root=root)
    return _deep_merge(base, data)


# --------------------------------------------------------------------------- validation messages


def _field(loc: tuple) -> str:
    parts = []
    for p in loc:
        text = str(p)
        parts.append(text if len(text) <= 40 and not _CONTROL.search(text) else quote(text, 40))
    return ".".join(parts) or "(top level)"


def format_validation_error(source: str, exc: ValidationError, limit: int = MAX_PROBLEMS) -> str:
    """One line per problem (at most `limit`), each naming the field; values are quoted cut short."""
    errors = exc.errors()
    lines = [f"{source}: {len(errors)} problem(s):"]
    for err in errors[:limit]:
        kind = err["type"]
        field = _field(err["loc"])
        message = clip(err["msg"].removeprefix("Value error, "), 600)
        if kind == "extra_forbidden":
            message = "unknown field (not part of the schema; check its spelling)"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "json_invalid":
            message = clip(err["msg"], 160)
            field = "(file)"
        got = err.get("input")
        quiet = kind in ("missing", "extra_forbidden", "value_error", "json_invalid", "assertion_error")
        suffix = "" if quiet or isinstance(got, (dict, list)) else f" (got {quote(got)})"
        lines.append(f"  field '{field}': {message}{suffix}")
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more")
    return "\n".join(lines)


def validate(model: type[M], data: Any, source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(source, exc)) from None
    except RecursionError:
        raise InputError(f"{source}: nested too deep to validate") from None


def validate_json(model: type[M], data: bytes | str, source: str) -> M:
    """JSON bytes validated as `model` (pydantic's parser: NaN, Infinity and deep nesting are refused)."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise InputError(format_validation_error(source, exc)) from None
    except RecursionError:
        raise InputError(f"{source}: nested too deep to validate") from None


def load_json_model(model: type[M], path: Path, what: str, *, max_bytes: int = MAX_RECORD_BYTES,
                    root: Path | None = None) -> M:
    """A JSON file of `model`; unreadable or invalid -> InputError naming the file and fields."""
    data = read_bytes(Path(path), what, max_bytes=max_bytes, root=root)
    return validate_json(model, data, str(path))


def load_yaml_model(model: type[M], path: Path, root: Path | None = None) -> M:
    """A YAML file (with includes inside `root`, default its own folder) validated as `model`."""
    return validate(model, read_yaml(path, root=root), str(path))

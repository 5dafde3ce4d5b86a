"""The one record store: where run records live, and how they are found, read, written and hashed.

A results folder holds one folder per site, `results/<site>/<run_id>.json`.
Beside the records a site folder may hold files that are not records: the
site's `certificate.json`, and reports whose names start with `_` (an
importer's `_import-<name>.json`). Hidden files and folders are skipped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from joulebench.errors import InputError
from joulebench.files import (
    MAX_PROBLEMS,
    MAX_RECORD_BYTES,
    format_validation_error,
    load_json_model,
    read_bytes,
    write_text_atomic,
)
from joulebench.formats import RunRecord

CERTIFICATE_NAME = "certificate.json"
# Files in a site folder that are not run records.
NOT_RECORDS = {CERTIFICATE_NAME}
REPORT_PREFIX = "_"


def site_dir(out_dir: Path, site: str) -> Path:
    return Path(out_dir) / site


def record_path(out_dir: Path, site: str, run_id: str) -> Path:
    return site_dir(out_dir, site) / f"{run_id}.json"


def record_json(record: RunRecord) -> str:
    """A record's file content: the same record always gives the same bytes."""
    return record.model_dump_json(indent=1)


def write_record(out_dir: Path, record: RunRecord) -> Path:
    """Write (atomically) a record to `out_dir/<site>/<run_id>.json` and return the path."""
    path = record_path(out_dir, record.site, record.run_id)
    write_text_atomic(path, record_json(record))
    return path


def read_record(path: Path, root: Path | None = None) -> RunRecord:
    """One record file: a regular file under the size cap (inside `root` when given), valid as a RunRecord."""
    return load_json_model(RunRecord, path, "run record", max_bytes=MAX_RECORD_BYTES, root=root)


def file_sha256(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> str:
    return hashlib.sha256(read_bytes(Path(path), "file", max_bytes=max_bytes)).hexdigest()


def site_folders(runs_dir: Path) -> list[Path]:
    """The site folders under a results folder, sorted; hidden and `_` folders and symbolic links skipped."""
    return sorted(
        p for p in Path(runs_dir).iterdir()
        if not p.name.startswith((".", "_")) and p.is_dir() and not p.is_symlink()
    )


def import_reports(site_folder: Path) -> list[Path]:
    """An importer's reports beside a site's records (`_import-<name>.json`), regular files only."""
    return sorted(p for p in Path(site_folder).glob("_import-*.json") if p.is_file() and not p.is_symlink())


# --------------------------------------------------------------------------- reading


def record_files(runs_dir: Path) -> list[Path]:
    """Every run record under a results folder, sorted; hidden files and folders and certificates skipped."""
    runs_dir = Path(runs_dir)
    parts, _ = _record_parts(runs_dir)
    return [runs_dir.joinpath(*p) for p in parts]


def _record_parts(runs_dir: Path) -> tuple[list[tuple[str, ...]], list[str]]:
    """`record_files` as path components relative to runs_dir, sorted as the Paths sort; and the refused entries.

    The same files as `runs_dir.rglob("*.json")` minus the skipped ones, found with
    os.scandir: pathlib's glob and Path objects were a third of reading 10,000 records.
    A `.json` entry that is a symbolic link, a FIFO, a device or a folder is
    refused with a problem line (never followed, never opened), and so is a
    symbolic link to a folder (never entered).
    """
    found: list[tuple[str, ...]] = []
    problems: list[str] = []

    def walk(folder: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:
            problems.append(f"{folder}: cannot list the folder: permission denied")
            return
        except OSError as exc:
            problems.append(f"{folder}: cannot list the folder: {exc.strerror}")
            return
        for entry in entries:
            name = entry.name
            # "_name.json" files beside records are reports (an import's), not records.
            if name.startswith((".", "_")):
                continue
            try:
                is_link = entry.is_symlink()
                is_folder = not is_link and entry.is_dir(follow_symlinks=False)
                is_file = not is_link and entry.is_file(follow_symlinks=False)
            except OSError:
                is_link = is_folder = is_file = False
            if name.endswith(".json") and name not in NOT_RECORDS:
                if is_file:
                    found.append((*parts, name))
                else:
                    what = "a symbolic link" if is_link else "a folder" if is_folder else "not a regular file (a FIFO, device or socket)"
                    problems.append(f"{entry.path}: is {what}; a run record must be a regular file in the folder "
                                    "(links are not followed)")
                    continue
            elif is_link and _points_to_folder(entry):
                problems.append(f"{entry.path}: is a symbolic link to a folder; links are not followed "
                                "(put the folder itself under the results folder)")
                continue
            if is_folder:
                walk(entry.path, (*parts, name))

    walk(str(runs_dir), ())
    found.sort()  # by path components, as sorting the Paths did
    return found, problems


def _points_to_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _bad_records(runs_dir: Path, problems: list[str]) -> InputError:
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    text = f"{len(problems)} bad run record(s) under {runs_dir}; nothing was scored:\n" + "\n".join(shown)
    if more:
        text += f"\n... and {more} more bad record(s)"
    return InputError(text)


def load_records(runs_dir: Path, digests: dict[str, str] | None = None,
                 sources: dict[str, str] | None = None) -> list[RunRecord]:
    """Validate every record; all bad files are reported together (up to a limit), each with its fields.

    With `digests`, the sha256 of each file read is stored there (its path relative to
    runs_dir, with "/", -> hex), from the same bytes that were validated, so a caller
    needing both reads each file once. With `sources`, each record's run_id -> that
    relative path.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise InputError(f"{runs_dir}: folder not found")
    if not runs_dir.is_dir():
        raise InputError(f"{runs_dir}: not a folder (expected results/<site>/<run_id>.json files)")
    records: list[RunRecord] = []
    where: dict[str, tuple[str, ...]] = {}
    validate = RunRecord.model_validate_json
    parts_list, problems = _record_parts(runs_dir)
    base = str(runs_dir)
    for parts in parts_list:
        # The walk entered no link and listed regular files only: opening without following a
        # link keeps each file inside the folder (a file swapped for a link since is refused).
        path = os.path.join(base, *parts)
        try:
            data = read_bytes(path, "run record", max_bytes=MAX_RECORD_BYTES, follow_symlinks=False)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if digests is not None:
            digests["/".join(parts)] = hashlib.sha256(data).hexdigest()
        try:
            record = validate(data)
        except ValidationError as exc:
            problems.append(format_validation_error(str(path), exc, limit=5))
            continue
        if record.run_id in where:
            first = os.path.join(base, *where[record.run_id])
            problems.append(f"{path}: field 'run_id': {record.run_id!r} is also the run_id of {first}")
            continue
        where[record.run_id] = parts
        if sources is not None:
            sources[record.run_id] = "/".join(parts)
        records.append(record)
    if problems:
        raise _bad_records(runs_dir, problems)
    return records

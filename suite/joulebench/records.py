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
from joulebench.files import format_validation_error, load_json_model, write_text_atomic
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


def read_record(path: Path) -> RunRecord:
    return load_json_model(RunRecord, path, "run record")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def site_folders(runs_dir: Path) -> list[Path]:
    """The site folders under a results folder, sorted; hidden and `_` folders skipped."""
    return sorted(p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def import_reports(site_folder: Path) -> list[Path]:
    """An importer's reports beside a site's records (`_import-<name>.json`)."""
    return sorted(Path(site_folder).glob("_import-*.json"))




# --------------------------------------------------------------------------- reading


def record_files(runs_dir: Path) -> list[Path]:
    """Every run record under a results folder, sorted; hidden files and folders and certificates skipped."""
    runs_dir = Path(runs_dir)
    return [runs_dir.joinpath(*parts) for parts in _record_parts(runs_dir)]


def _record_parts(runs_dir: Path) -> list[tuple[str, ...]]:
    """`record_files` as path components relative to runs_dir, sorted as the Paths sort.

    The same files as `runs_dir.rglob("*.json")` minus the skipped ones, found with
    os.scandir: pathlib's glob and Path objects were a third of reading 10,000 records.
    """
    found: list[tuple[str, ...]] = []

    def walk(folder: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except PermissionError:
            return
        for entry in entries:
            name = entry.name
            # "_name.json" files beside records are reports (an import's), not records.
            if name.startswith((".", "_")):
                continue
            if name.endswith(".json") and name not in NOT_RECORDS:
                found.append((*parts, name))
            try:
                is_folder = entry.is_dir(follow_symlinks=False)  # as rglob: symlinked folders are not entered
            except OSError:
                is_folder = False
            if is_folder:
                walk(entry.path, (*parts, name))

    walk(str(runs_dir), ())
    found.sort()  # by path components, as sorting the Paths did
    return found


def load_records(runs_dir: Path, digests: dict[str, str] | None = None) -> list[RunRecord]:
    """Validate every record; all bad files are reported together, each with its fields.

    With `digests`, the sha256 of each file read is stored there (its path relative to
    runs_dir, with "/", -> hex), from the same bytes that were validated, so a caller
    needing both reads each file once.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise InputError(f"{runs_dir}: folder not found")
    if not runs_dir.is_dir():
        raise InputError(f"{runs_dir}: not a folder (expected results/<site>/<run_id>.json files)")
    records: list[RunRecord] = []
    problems: list[str] = []
    where: dict[str, tuple[str, ...]] = {}
    validate = RunRecord.model_validate_json
    base = str(runs_dir)
    for parts in _record_parts(runs_dir):
        try:
            with open(os.path.join(base, *parts), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            problems.append(f"{runs_dir.joinpath(*parts)}: cannot read: {exc.strerror}")
            continue
        if digests is not None:
            digests["/".join(parts)] = hashlib.sha256(data).hexdigest()
        try:
            record = validate(data)
        except ValidationError as exc:
            problems.append(format_validation_error(str(runs_dir.joinpath(*parts)), exc))
            continue
        if record.run_id in where:
            path, first = runs_dir.joinpath(*parts), runs_dir.joinpath(*where[record.run_id])
            problems.append(f"{path}: field 'run_id': {record.run_id!r} is also the run_id of {first}")
            continue
        if record.live_estimates:
            seen: set[tuple[str, str, str]] = set()
            for i, live in enumerate(record.live_estimates):
                key = (live.estimator_id, live.estimator_version, live.boundary)
                if key in seen:
                    problems.append(f"{runs_dir.joinpath(*parts)}: field 'live_estimates.{i}': a second {live.estimator_id} "
                                    f"{live.estimator_version} estimate for boundary {live.boundary}")
                seen.add(key)
        where[record.run_id] = parts
        records.append(record)
    if problems:
        raise InputError(f"{len(problems)} bad run record(s) under {runs_dir}; nothing was scored:\n" + "\n".join(problems))
    return records

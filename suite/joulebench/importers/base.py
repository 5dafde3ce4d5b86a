"""What every importer of a published study shares: reading rows, skipping runs, writing a site folder.

An importer reads a study's released files as published and turns each usable
run into a RunRecord carrying `provenance`. Runs it cannot use are skipped with
a reason and counted, never repaired by guessing. Two rows that claim the same
run with different values are an error, not "first wins".

Writing is shared here so every importer behaves the same way:

- Everything is staged first in a hidden folder beside the target
  (`<out>/.<site>.staging-*`; scoring skips dot-folders), then swapped in whole:
  the records, the import report `_import-<importer>.json` (a leading `_` marks
  a file that is not a run record) and any files the importer ships with its data
  (SOURCE.md, the study's LICENSE). Bad input raises before anything is staged,
  so it writes nothing.
- A rerun on the same release files produces the same bytes; the folder is then
  left untouched (not even its modification times change).
- A folder that already holds files this import would not write (records of an
  earlier, larger import, another importer's report) is never mixed with the new
  ones: the import refuses, unless `replace=True` (`--replace`) asks to swap the
  folder for this import's output whole.

Every path stored in a record or a report is relative to the study's repository;
the local folder the user imported from is only printed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from joulebench.errors import InputError
from joulebench.formats import Provenance, RunRecord

REPORT_PREFIX = "_import-"
MAX_LISTED = 5


class Skip(Exception):
    """A run the importer cannot use: counted in the report with its reason, never repaired."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class SkippedRun(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    run_id: str
    reason: str
    detail: str
    line: int | None = Field(default=None, description="1-based line of the row in file, where it is a table")


class ImportReport(BaseModel):
    """The accounting of one import: every run in the release is either imported or skipped."""

    model_config = ConfigDict(extra="forbid")

    importer: str
    site: str
    # Relative to the study's repository (e.g. "results"), never the importing machine's path.
    source_dir: str
    provenance: Provenance
    files_read: list[str] = Field(default_factory=list)
    runs_seen: int = 0
    imported: list[str] = Field(default_factory=list, description="run ids of the records produced")
    skipped: list[SkippedRun] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # Figures about the whole import worth keeping beside it (e.g. how far a second meter is from the first).
    summary: dict[str, Any] = Field(default_factory=dict)

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))

    def to_json(self) -> str:
        payload = self.model_dump(mode="json")
        payload["skipped_by_reason"] = self.skipped_by_reason
        return json.dumps(payload, indent=1, sort_keys=False) + "\n"


def report_path(out_dir: Path, site: str, importer: str) -> Path:
    return Path(out_dir) / site / f"{REPORT_PREFIX}{importer}.json"


# --------------------------------------------------------------------------- reading


def relative_to_study(path: Path, root: Path) -> str:
    """`path` as the study's repository names it (forward slashes), given the folder that holds its root."""
    return Path(path).relative_to(root).as_posix()


def read_csv_rows(path: Path, shown: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV file's header and its rows, each with the 1-based line where the row starts.

    A row may span lines (a quoted cell with newlines); its line is where it starts.
    Blank rows are skipped. `shown` is the path errors name (relative to the study).
    """
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{shown}: the file is empty; expected a header row")
            rows = []
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise InputError(
                        f"{shown}: line {start}: expected {len(header)} cells like the header, got {len(row)}"
                    )
                rows.append((start, dict(zip(header, row, strict=True))))
            return header, rows
    except UnicodeDecodeError:
        raise InputError(f"{shown}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{shown}: not a readable CSV file: {exc}") from None
    except FileNotFoundError:
        raise InputError(f"{shown}: file not found") from None


def require_columns(shown: str, header: list[str], columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"{shown}: column {missing[0]!r} is missing; expected {what} with the columns {', '.join(columns)}"
        )


class RowRegistry:
    """Catches two rows that claim the same run: identical ones are a duplicate, different ones an error."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int | None, Any]] = {}

    def check(self, key: str, shown: str, line: int | None, values: Any) -> None:
        """Raise InputError if `key` was seen with other values; Skip("duplicate_row") if with the same ones."""
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = (shown, line, values)
            return
        where = f"{first[0]}" + (f" line {first[1]}" if first[1] else "")
        if first[2] == values:
            raise Skip("duplicate_row", f"the same run with the same values is already at {where}")
        here = f"{shown}" + (f": line {line}" if line else "")
        differing = _differing_fields(first[2], values)
        raise InputError(
            f"{here}: run {key!r} is also at {where} with different values"
            + (f" ({', '.join(differing[:MAX_LISTED])})" if differing else "")
            + "; expected one row per run: two rows claiming the same run is an error, not 'first wins'"
        )


def _differing_fields(a: Any, b: Any) -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return []


def checkout_commit(folder: Path, repository_name: str) -> str | None:
    """The commit of the git checkout that holds `folder`, if it is a checkout of `repository_name`.

    Read from .git without running git; None when `folder` is in no checkout, or in one of another repository.
    """
    for parent in [Path(folder).resolve(), *Path(folder).resolve().parents]:
        git = parent / ".git"
        if not git.is_dir():
            continue
        config = git / "config"
        if not config.is_file() or repository_name not in config.read_text(errors="replace"):
            return None  # some other repository: its commit says nothing about the study
        head = (git / "HEAD").read_text(errors="replace").strip()
        if not head.startswith("ref: "):
            return head if re.fullmatch(r"[0-9a-f]{40}", head) else None
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip() or None
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
        return None
    return None


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class WriteResult:
    written: int  # files new or changed
    unchanged: int
    removed: int  # files of the folder's earlier content that this import does not write (replace=True only)
    report_file: Path


def _tree(folder: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() or path.is_symlink():
            out[path.relative_to(folder).as_posix()] = path.read_bytes() if path.is_file() else b"<symlink>"
    return out


def write_import(
    records: list[RunRecord],
    report: ImportReport,
    out_dir: Path,
    *,
    extra_files: Mapping[str, str | bytes] | None = None,
    replace: bool = False,
) -> WriteResult:
    """Stage every record, the report and `extra_files`, then swap them in as `<out_dir>/<site>/` whole.

    Records must already be complete and valid. The report's content depends on
    the inputs alone (how many files changed is only returned), so a rerun
    leaves every file as it was.
    """
    ids = [r.run_id for r in records]
    duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicated:
        raise InputError(f"{report.importer}: two imported runs share the run id {duplicated[0]!r}")
    report.imported = sorted(ids)
    files: dict[str, bytes] = {}
    for record in sorted(records, key=lambda r: r.run_id):
        files[f"{record.run_id}.json"] = record.model_dump_json(indent=1).encode()
    files[f"{REPORT_PREFIX}{report.importer}.json"] = report.to_json().encode()
    for name, content in sorted((extra_files or {}).items()):
        if name in files:
            raise InputError(f"{report.importer}: {name} would be written twice")
        files[name] = content.encode() if isinstance(content, str) else content

    out_dir = Path(out_dir)
    site_dir = out_dir / report.site
    report_file = site_dir / f"{REPORT_PREFIX}{report.importer}.json"
    existing = _tree(site_dir) if site_dir.is_dir() else None
    if site_dir.exists() and existing is None:
        raise InputError(f"{site_dir}: exists and is not a folder; expected the site folder or nothing")
    if existing == files:
        return WriteResult(written=0, unchanged=len(files), removed=0, report_file=report_file)
    stale = sorted(set(existing or {}) - set(files))
    if stale and not replace:
        shown = ", ".join(stale[:MAX_LISTED]) + (f" and {len(stale) - MAX_LISTED} more" if len(stale) > MAX_LISTED else "")
        raise InputError(
            f"{site_dir}: already holds {len(stale)} file(s) this import would not write ({shown}); nothing was "
            "written. An earlier import's records are never mixed with a new one's: pass --replace to swap the "
            "folder for this import whole, or import into another --site"
        )
    changed = sum(1 for name, data in files.items() if (existing or {}).get(name) != data)

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{report.site}.staging-", dir=out_dir))
    retired: Path | None = None
    try:
        for name, data in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if existing is not None:
            retired = Path(tempfile.mkdtemp(prefix=f".{report.site}.replaced-", dir=out_dir))
            os.rmdir(retired)
            os.rename(site_dir, retired)
        try:
            os.rename(staging, site_dir)
        except OSError:
            if retired is not None:
                os.rename(retired, site_dir)
                retired = None
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    return WriteResult(
        written=changed, unchanged=len(files) - changed, removed=len(stale), report_file=report_file
    )


@dataclass(frozen=True)
class ImportOutcome:
    report: ImportReport
    result: WriteResult
    out_dir: Path
    source: Path | None = None  # the local folder read: printed, never stored

    def summary(self) -> str:
        report, result = self.report, self.result
        where = f"{self.source} ({report.source_dir} in the study's repository)" if self.source else report.source_dir
        lines = [
            f"{report.importer}: read {len(report.files_read)} file(s) from {where}; "
            f"{report.runs_seen} run(s) in the release",
            f"  imported {len(report.imported)} run(s) into {Path(self.out_dir) / report.site} "
            f"({result.written} file(s) written, {result.unchanged} unchanged"
            + (f", {result.removed} of the earlier import removed" if result.removed else "")
            + ")",
        ]
        by_reason = report.skipped_by_reason
        if by_reason:
            lines.append(f"  skipped {len(report.skipped)} run(s), never guessed:")
            lines += [f"    {reason:<22} {count}" for reason, count in by_reason.items()]
        lines += [f"  warning: {w}" for w in report.warnings]
        lines.append(f"  report: {result.report_file}")
        return "\n".join(lines)

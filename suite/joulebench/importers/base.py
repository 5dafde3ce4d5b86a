"""What every importer of a published study returns, and how its records are written.

An importer reads a study's released files (which joulebench never ships: the
user downloads them) and turns each usable run into a RunRecord carrying
`provenance`. Runs it cannot use are skipped with a reason and counted, never
repaired by guessing. Writing is shared here so every importer is atomic and
idempotent in the same way: records go to `<out>/<site>/<run_id>.json`, a file
whose bytes would not change is left alone, and the import report goes next
to the records as `_import-<importer>.json` (a leading `_` marks a file that
is not a run record).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from joulebench.files import write_text_atomic
from joulebench.errors import InputError
from joulebench.formats import Provenance, RunRecord

REPORT_PREFIX = "_import-"


class SkippedRun(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    run_id: str
    reason: str
    detail: str


class ImportReport(BaseModel):
    """The accounting of one import: every run in the release is either imported or skipped."""

    model_config = ConfigDict(extra="forbid")

    importer: str
    site: str
    source_dir: str
    provenance: Provenance
    files_read: list[str] = Field(default_factory=list)
    runs_seen: int = 0
    imported: list[str] = Field(default_factory=list, description="run ids of the records produced")
    skipped: list[SkippedRun] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))

    def to_json(self) -> str:
        payload = self.model_dump(mode="json")
        payload["skipped_by_reason"] = self.skipped_by_reason
        return json.dumps(payload, indent=1, sort_keys=False) + "\n"


def report_path(out_dir: Path, site: str, importer: str) -> Path:
    return Path(out_dir) / site / f"{REPORT_PREFIX}{importer}.json"


def _write_if_changed(path: Path, text: str) -> bool:
    """Write atomically unless the file already holds exactly `text`; True if written."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_text_atomic(path, text)
    return True


@dataclass(frozen=True)
class WriteResult:
    written: int
    unchanged: int
    report_file: Path


def write_import(records: list[RunRecord], report: ImportReport, out_dir: Path) -> WriteResult:
    """Write every record and the report; records must already be complete and valid.

    The report's content depends on the inputs alone (how many files changed
    this time is only returned), so a rerun leaves every file as it was.
    """
    ids = [r.run_id for r in records]
    duplicated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicated:
        raise InputError(f"{report.importer}: two imported runs share the run id {duplicated[0]!r}")
    report.imported = sorted(ids)
    site_dir = Path(out_dir) / report.site
    written = unchanged = 0
    for record in sorted(records, key=lambda r: r.run_id):
        if _write_if_changed(site_dir / f"{record.run_id}.json", record.model_dump_json(indent=1)):
            written += 1
        else:
            unchanged += 1
    path = report_path(out_dir, report.site, report.importer)
    _write_if_changed(path, report.to_json())
    return WriteResult(written=written, unchanged=unchanged, report_file=path)


@dataclass(frozen=True)
class ImportOutcome:
    report: ImportReport
    result: WriteResult
    out_dir: Path

    def summary(self) -> str:
        report, result = self.report, self.result
        lines = [
            f"{report.importer}: read {len(report.files_read)} file(s) from {report.source_dir}; "
            f"{report.runs_seen} run(s) in the release",
            f"  imported {len(report.imported)} run(s) into {Path(self.out_dir) / report.site} "
            f"({result.written} written, {result.unchanged} unchanged)",
        ]
        by_reason = report.skipped_by_reason
        if by_reason:
            lines.append(f"  skipped {len(report.skipped)} run(s), never guessed:")
            lines += [f"    {reason:<22} {count}" for reason, count in by_reason.items()]
        lines += [f"  warning: {w}" for w in report.warnings]
        lines.append(f"  report: {result.report_file}")
        return "\n".join(lines)

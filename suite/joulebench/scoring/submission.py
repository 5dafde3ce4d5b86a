"""Estimates produced outside joulebench, submitted as a file: reading and validating it.

The file format (the JSON Schema is `joulebench schema estimate`):

CSV, UTF-8, a header row, one row per run x boundary:

    estimator_id,estimator_version,run_id,boundary,energy_j,unit
    my-estimator,0.3.1,site-a.resnet50_train.1a2b3c4d5e.r01,gpu,81234.5,J

JSON, the same rows under "estimates":

    {"schema_version": 1,
     "estimates": [{"estimator_id": "my-estimator", "estimator_version": "0.3.1",
                    "run_id": "site-a.resnet50_train.1a2b3c4d5e.r01",
                    "boundary": "gpu", "energy_j": 81234.5, "unit": "J"}]}

- estimator_id: lower case, digits, `.`, `_`, `-`; not the id of a registered
  estimator (a built-in or an installed plugin) nor of a live estimator whose
  outputs are in the run records: a submission cannot speak for them.
- run_id: the run_id of a record being scored (results/<site>/<run_id>.json).
- boundary: gpu, cpu, dram or node.
- energy_j: joules, finite, >= 0 (1 kWh = 3,600,000 J exactly).
- unit: optional; when present it must be "J", so a file in kWh is refused
  rather than misread by a factor of 3.6 million.
- One row per (estimator_id, estimator_version, run_id, boundary); a run the
  estimator has no answer for is simply left out (its coverage shows it).
- At most 256 MiB; a larger file is refused before it is read.

Every problem is reported with the file, the row and the field, all at once
(up to a limit); an invalid file is an InputError (exit 2) and nothing is scored.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from joulebench.errors import InputError
from joulebench.formats import Estimate, EstimateFile

MAX_SUBMISSION_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 20
CSV_COLUMNS = ("estimator_id", "estimator_version", "run_id", "boundary", "energy_j", "unit")
REQUIRED_COLUMNS = CSV_COLUMNS[:-1]


def _fail(path: Path, problems: list[str]) -> InputError:
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    lines = [f"{path}: {len(problems)} problem(s) in the estimates file; nothing was scored:"]
    lines += [f"  {p}" for p in shown]
    if more:
        lines.append(f"  ... and {more} more")
    return InputError("\n".join(lines))


def _describe(err: dict) -> tuple[str, str]:
    """(field, message) for one pydantic error of a row."""
    loc = [str(p) for p in err["loc"]]
    field = loc[-1] if loc else "(row)"
    got = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        return field, f"unknown field (expected only {', '.join(CSV_COLUMNS)})"
    if kind == "missing":
        return field, "required field is missing"
    if field == "unit":
        return field, f"expected 'J' (joules), got {got!r}; convert kWh with 3,600,000 J/kWh"
    if kind == "finite_number":
        return field, f"expected a finite number, got {got!r}"
    if kind == "greater_than_equal":
        return field, f"expected a value >= 0, got {got!r}"
    return field, f"{err['msg']} (got {got!r})"


@dataclass(frozen=True)
class Submission:
    """The rows of one estimates file, with where each row sits in it ("line 3", "estimates[2]")."""

    path: Path
    estimates: list[Estimate]
    labels: list[str]


def _validate_rows(path: Path, rows: list[tuple[str, object]], problems: list[str]) -> Submission:
    """Validate (row label, raw mapping) pairs; collect every problem, then raise once."""
    estimates: list[Estimate] = []
    labels: list[str] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    for label, raw in rows:
        try:
            estimate = Estimate.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                field, message = _describe(err)
                problems.append(f"{label}: field '{field}': {message}")
            continue
        key = (estimate.estimator_id, estimate.estimator_version, estimate.run_id, estimate.boundary)
        if key in seen:
            problems.append(
                f"{label}: duplicate of {seen[key]} (estimator {key[0]} {key[1]}, run {key[2]}, boundary {key[3]})"
            )
            continue
        seen[key] = label
        estimates.append(estimate)
        labels.append(label)
    if problems:
        raise _fail(path, problems)
    return Submission(path, estimates, labels)


def _csv_rows(path: Path, text: str) -> tuple[list[tuple[str, object]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: empty file; expected a CSV header: {','.join(CSV_COLUMNS)}")
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, CSV_COLUMNS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if name.lower() in ("energy_kwh", "energy_wh", "kwh", "wh"):
            hint = " (energy must be in joules, column energy_j; 1 kWh = 3,600,000 J)"
        problems.append(f"header: unknown column {name!r}{hint}")
    problems += [f"header: required column {name!r} is missing" for name in missing]
    problems += [f"header: column {name!r} appears twice" for name in duplicated]
    if problems:
        raise _fail(path, problems)
    rows: list[tuple[str, object]] = []
    for values in reader:
        line_no = reader.line_num
        if not any(v.strip() for v in values):
            continue  # a blank line is not a row
        if len(values) != len(header):
            problems.append(f"line {line_no}: {len(values)} values for {len(header)} columns")
            continue
        row: dict[str, object] = {}
        for name, value in zip(header, values):
            value = value.strip()
            if name == "unit" and value == "":
                continue  # an empty unit cell means the default, joules
            row[name] = value
        rows.append((f"line {line_no}", row))
    return rows, problems


def _json_rows(path: Path, text: str) -> tuple[list[tuple[str, object]], list[str]]:
    try:
        data = json.loads(text)  # NaN and Infinity parse here and are refused per row below
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f'{path}: expected an object {{"schema_version": 1, "estimates": [...]}}, got {type(data).__name__}')
    problems = []
    extra = sorted(set(data) - set(EstimateFile.model_fields))
    problems += [f"field '{k}': unknown field (expected schema_version, estimates)" for k in extra]
    if data.get("schema_version", 1) != 1:
        problems.append(f"field 'schema_version': expected 1, got {data['schema_version']!r}")
    rows = data.get("estimates")
    if not isinstance(rows, list):
        problems.append(f"field 'estimates': expected a list of rows, got {type(rows).__name__}")
    if problems:
        raise _fail(path, problems)
    return [(f"estimates[{i}]", row) for i, row in enumerate(rows)], problems


def read_submission(path: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> Submission:
    """Every row of an estimates file (.csv or .json), validated; InputError naming file, row and field."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if size > max_bytes:
        raise InputError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit for an estimates file; not read")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(f"{path}: expected a .csv or .json estimates file, got {suffix or 'no extension'!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc}") from None
    rows, problems = _csv_rows(path, text) if suffix == ".csv" else _json_rows(path, text)
    submission = _validate_rows(path, rows, problems)
    if not submission.estimates:
        raise InputError(f"{path}: no estimates in the file")
    return submission


def check_against_runs(submission: Submission, run_ids: set[str], reserved_ids: dict[str, str]) -> None:
    """Refuse rows for runs not being scored, and estimator ids a submission may not use."""
    problems = []
    hints_left = MAX_PROBLEMS_SHOWN  # "did you mean" is a scan of every run id: only for what is shown
    for label, est in zip(submission.labels, submission.estimates):
        if est.estimator_id in reserved_ids:
            problems.append(
                f"{label}: field 'estimator_id': {est.estimator_id!r} is {reserved_ids[est.estimator_id]}; "
                "a submission must use an id of its own"
            )
        if est.run_id not in run_ids:
            hint = ""
            if hints_left > 0:
                hints_left -= 1
                close = difflib.get_close_matches(est.run_id, sorted(run_ids), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{label}: field 'run_id': unknown run {est.run_id!r}{hint}")
    if problems:
        raise _fail(submission.path, problems)

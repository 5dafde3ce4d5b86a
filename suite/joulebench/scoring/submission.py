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
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from joulebench.errors import InputError
from joulebench.files import decode_text, parse_json, quote, read_bytes
from joulebench.formats import Estimate, EstimateFile

MAX_SUBMISSION_BYTES = 256 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 20
# No column holds more than this (an id, a version, a run id, a number); the csv module's own limit is 131,072.
MAX_CSV_FIELD = 4096
# A number as CSV text: digits, a dot, an exponent; or nan/inf, parsed so the row says "expected a finite number".
_CSV_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:nan|inf|infinity)", re.IGNORECASE)
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
        return field, f"expected 'J' (joules), got {quote(got)}; convert kWh with 3,600,000 J/kWh"
    if kind == "finite_number":
        return field, f"expected a finite number, got {quote(got)}"
    if kind == "greater_than_equal":
        return field, f"expected a value >= 0, got {quote(got)}"
    if kind in ("float_type", "int_type") and isinstance(got, (bool, str)):
        return field, f"expected a number (not {'a boolean' if isinstance(got, bool) else 'a string'}), got {quote(got)}"
    if kind == "model_type":
        return "(row)", f"expected an object with the fields {', '.join(CSV_COLUMNS)}, got {type(got).__name__}"
    return field, f"{err['msg']} (got {quote(got)})"


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


def _csv_value(name: str, value: str) -> object:
    """A CSV cell as the schema wants it: energy_j a number when it is written as one, else the text (refused)."""
    if name == "energy_j" and len(value) <= 60 and _CSV_NUMBER.fullmatch(value):
        return float(value)
    return value


def _csv_rows(path: Path, text: str) -> tuple[list[tuple[str, object]], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _read_csv(path, reader)
    except csv.Error as exc:
        raise _fail(path, [f"line {reader.line_num}: not readable as CSV: {str(exc)[:120]}"]) from None


def _read_csv(path: Path, reader) -> tuple[list[tuple[str, object]], list[str]]:
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: empty file; expected a CSV header: {','.join(CSV_COLUMNS)}")
    header = [h.strip() for h in header]
    if len(header) > 50 or any(len(h) > 100 for h in header):
        raise _fail(path, [f"header: expected the columns {','.join(CSV_COLUMNS)}"])
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, CSV_COLUMNS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if name.lower() in ("energy_kwh", "energy_wh", "kwh", "wh"):
            hint = " (energy must be in joules, column energy_j; 1 kWh = 3,600,000 J)"
        problems.append(f"header: unknown column {quote(name)}{hint}")
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
        long = [name for name, value in zip(header, values) if len(value) > MAX_CSV_FIELD]
        if long:
            problems.append(f"line {line_no}: field '{long[0]}': longer than {MAX_CSV_FIELD:,} characters")
            continue
        row: dict[str, object] = {}
        for name, value in zip(header, values):
            value = value.strip()
            if name == "unit" and value == "":
                continue  # an empty unit cell means the default, joules
            row[name] = _csv_value(name, value)
        rows.append((f"line {line_no}", row))
    return rows, problems


def _json_rows(path: Path, text: str) -> tuple[list[tuple[str, object]], list[str]]:
    # NaN and Infinity parse here and are refused per row below; bad JSON and absurd nesting here.
    data = parse_json(text, str(path), "estimates file", allow_constants=True)
    if not isinstance(data, dict):
        raise InputError(f'{path}: expected an object {{"schema_version": 1, "estimates": [...]}}, got {type(data).__name__}')
    problems = []
    extra = sorted(set(data) - set(EstimateFile.model_fields))
    problems += [f"field '{k}': unknown field (expected schema_version, estimates)" for k in extra]
    version = data.get("schema_version", 1)
    if version != 1 or isinstance(version, bool):
        problems.append(f"field 'schema_version': expected 1, got {quote(version)}")
    rows = data.get("estimates")
    if not isinstance(rows, list):
        problems.append(f"field 'estimates': expected a list of rows, got {type(rows).__name__}")
    if problems:
        raise _fail(path, problems)
    return [(f"estimates[{i}]", row) for i, row in enumerate(rows)], problems


def read_submission(path: Path, max_bytes: int = MAX_SUBMISSION_BYTES) -> Submission:
    """Every row of an estimates file (.csv or .json), validated; InputError naming file, row and field."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json") and path.exists():
        raise InputError(f"{path}: expected a .csv or .json estimates file, got {quote(suffix or 'no extension')}")
    # A regular file (not a folder, FIFO or device) under the cap, checked before a byte is read.
    text = decode_text(read_bytes(path, "estimates file", max_bytes=max_bytes), str(path), "estimates file")
    rows, problems = _csv_rows(path, text) if suffix == ".csv" else _json_rows(path, text)
    submission = _validate_rows(path, rows, problems)
    if not submission.estimates:
        raise InputError(f"{path}: no estimates in the file")
    return submission


def unknown_run(run_id: str, run_ids: set[str], hint: bool = True) -> str:
    """The problem text for a row naming a run that is not scored; the closest run id as a hint.

    The hint scans every run id, so callers give it only for the problems they show.
    """
    close = difflib.get_close_matches(run_id, sorted(run_ids), n=1) if hint else []
    return f"field 'run_id': unknown run {run_id!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


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
            problems.append(f"{label}: {unknown_run(est.run_id, run_ids, hint=hints_left > 0)}")
            hints_left -= 1
    if problems:
        raise _fail(submission.path, problems)

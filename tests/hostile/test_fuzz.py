"""Hypothesis fuzz of the schemas and the parsers: whatever the input, the answer is a valid, finite, plausible
model or an InputError that names the source in a few lines; never another exception, never NaN or infinity.

Bounded (a few hundred examples per property, no deadline) so the whole file runs in well under a minute.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joulebench.errors import InputError
from joulebench.files import parse_json, parse_yaml, validate, validate_json
from joulebench.formats import HardwareProfile, RunRecord, WorkloadSpec
from joulebench.formats.record import plausibility_problems
from joulebench.formats.vocabulary import CONTROL_CHARACTERS
from joulebench.scoring.submission import read_submission
from tests.hostile.test_records import BASE
from tests.test_catalog import VALID_PROFILE, VALID_WORKLOAD

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=True)

# Hostile scalars: non-finite and absurd numbers, numbers that are not numbers, text with control characters.
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 10**18, 2**63, "1000", "700 W", "inf", "NaN", "", "=1+1",
                     "\x1b[31m", "a\nb", "\u202e", "x" * 5000]),
    st.text(max_size=30),
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)


def leaves(data: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in leaves(v, (*prefix, k))] or [prefix]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in leaves(v, (*prefix, i))] or [prefix]
    return [prefix]


def put(data: Any, path: tuple, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


RECORD_LEAVES = leaves(BASE)
WORKLOAD_LEAVES = leaves(VALID_WORKLOAD)
PROFILE_LEAVES = leaves(VALID_PROFILE)


def numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, float) else []


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings(v)]]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def short(error: InputError, source: str) -> None:
    text = str(error)
    assert source in text
    assert len(text.splitlines()) <= 30 and len(text) <= 20_000, text[:500]


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(RECORD_LEAVES), JSON), min_size=1, max_size=3))
def test_fuzz_run_record_fields(edits):
    data = BASE
    for path, value in edits:
        data = put(data, path, value)
    try:
        text = json.dumps(data, allow_nan=True)
    except (ValueError, RecursionError):
        return
    try:
        record = validate_json(RunRecord, text, "fuzz.json")
    except InputError as exc:
        short(exc, "fuzz.json")
        return
    dumped = record.model_dump(mode="json")
    assert all(math.isfinite(n) for n in numbers(dumped))
    assert plausibility_problems(record) == []
    assert not any(CONTROL_CHARACTERS.search(s) for s in (record.run_id, record.site, *(e.estimator_id for e in record.live_estimates)))
    assert RunRecord.model_validate_json(record.model_dump_json()) == record


@FUZZ
@given(path=st.sampled_from(WORKLOAD_LEAVES), value=JSON)
def test_fuzz_workload_spec(path, value):
    try:
        spec = validate(WorkloadSpec, put(VALID_WORKLOAD, path, value), "w.yaml")
    except InputError as exc:
        short(exc, "w.yaml")
        return
    assert all(math.isfinite(n) for n in numbers(spec.model_dump()))
    assert spec.batch_size > 0 and spec.measured_iterations > 0


@FUZZ
@given(path=st.sampled_from(PROFILE_LEAVES), value=JSON)
def test_fuzz_hardware_profile(path, value):
    try:
        profile = validate(HardwareProfile, put(VALID_PROFILE, path, value), "p.yaml")
    except InputError as exc:
        short(exc, "p.yaml")
        return
    assert all(math.isfinite(n) for n in numbers(profile.model_dump()))
    for boundary in ("gpu", "cpu", "dram", "node"):
        ceiling = profile.max_power_w(boundary)
        assert ceiling is None or math.isfinite(ceiling)


YAML_TEXT = st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,?\n\t 0123.eE+\\") + ["\x00", "\x1b", "é"]),
                    max_size=80)


@FUZZ
@given(text=YAML_TEXT)
def test_fuzz_yaml_loader(text):
    try:
        parse_yaml(text, "f.yaml")
    except InputError as exc:
        short(exc, "f.yaml")


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE+-truefalsnNIiy ') + ["\\", "\x00"]), max_size=80))
def test_fuzz_json_loader(text):
    try:
        value = parse_json(text, "f.json")
    except InputError as exc:
        short(exc, "f.json")
        return
    assert all(math.isfinite(n) for n in numbers(value))


RUN_ID = BASE["run_id"]
ROW = {"estimator_id": "my-est", "estimator_version": "1.0", "run_id": RUN_ID, "boundary": "gpu", "energy_j": 900.0}
CELL = st.one_of(st.text(max_size=12), st.sampled_from(["nan", "inf", "-1", "1e400", "0x10", "1_000", "=1+1", '"', "\x00",
                                                        "\r", "J", "kWh", "900", "1e-3", " 7 "]))


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=7), max_size=4), header=st.permutations(list(ROW) + ["unit"]))
def test_fuzz_submission_csv(tmp_path_factory, rows, header):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "e.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    check_submission(path)


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(list(ROW) + ["unit", "extra"]), JSON), max_size=3),
       wrap=st.sampled_from(["file", "list", "rows"]))
def test_fuzz_submission_json(tmp_path_factory, edits, wrap):
    row: Any = dict(ROW)
    for key, value in edits:
        row[key] = value
    document: Any = {"schema_version": 1, "estimates": [row]} if wrap == "file" else [row] if wrap == "list" else {"estimates": row}
    path = tmp_path_factory.mktemp("json") / "e.json"
    try:
        path.write_text(json.dumps(document, allow_nan=True), encoding="utf-8")
    except (ValueError, RecursionError):
        return
    check_submission(path)


def check_submission(path: Path) -> None:
    try:
        submission = read_submission(path)
    except InputError as exc:
        short(exc, str(path))
        return
    for estimate in submission.estimates:
        assert math.isfinite(estimate.energy_j) and 0 <= estimate.energy_j <= 3.6e15
        assert not isinstance(estimate.energy_j, bool)
        for text in (estimate.estimator_id, estimate.estimator_version, estimate.run_id):
            assert not text.startswith(("=", "+", "-", "@")) and not CONTROL_CHARACTERS.search(text)


def test_fuzz_runs_under_a_minute_marker():
    """The fuzz settings above: bounded examples, no deadline (documented for the corpus's runtime)."""
    assert FUZZ.max_examples <= 200
    pytest.importorskip("hypothesis")

"""Submitted estimates files: the format, and every way a file is refused (exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.formats import SCHEMAS, EstimateFile
from joulebench.scoring import score_runs
from joulebench.scoring.submission import read_submission
from tests.doubles.records import live_estimate, make_record, write_records

HEADER = "estimator_id,estimator_version,run_id,boundary,energy_j,unit\n"


@pytest.fixture
def runs(tmp_path):
    records = [make_record(f"w{i}", truth={"gpu": 1000.0 * (i + 1)},
                           live=[live_estimate("some-live-tool", "gpu", 900.0)]) for i in range(3)]
    folder = write_records(tmp_path / "results", records)
    return folder, [r.run_id for r in records]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_rows(run_ids, values, estimator="my-est", unit="J") -> str:
    return HEADER + "".join(f"{estimator},0.1,{rid},gpu,{v},{unit}\n" for rid, v in zip(run_ids, values))


# --------------------------------------------------------------------------- valid files


def test_csv_submission_is_scored(tmp_path, runs):
    folder, run_ids = runs
    path = write(tmp_path, "est.csv", csv_rows(run_ids, [1100.0, 1800.0, 3000.0]))
    summary = score_runs(folder, submissions=[path], estimator_ids=["my-est"], resamples=100)
    (s,) = [s for s in summary.scores if s.slice == "all"]
    assert (s.estimator_id, s.estimator_version, s.source, s.n) == ("my-est", "0.1", "submission", 3)
    assert s.mape_pct == pytest.approx((10 + 10 + 0) / 3)


def test_json_submission_with_optional_unit(tmp_path, runs):
    _, run_ids = runs
    rows = [{"estimator_id": "my-est", "estimator_version": "2", "run_id": run_ids[0], "boundary": "node",
             "energy_j": 5.0},
            {"estimator_id": "my-est", "estimator_version": "2", "run_id": run_ids[1], "boundary": "node",
             "energy_j": 6, "unit": "J"}]
    path = write(tmp_path, "est.json", json.dumps({"schema_version": 1, "estimates": rows}))
    sub = read_submission(path)
    assert [e.energy_j for e in sub.estimates] == [5.0, 6.0]
    assert sub.labels == ["estimates[0]", "estimates[1]"]


def test_csv_unit_column_is_optional(tmp_path, runs):
    _, run_ids = runs
    path = write(tmp_path, "est.csv", f"run_id,boundary,energy_j,estimator_id,estimator_version\n{run_ids[0]},cpu,1e3,a,1\n")
    (est,) = read_submission(path).estimates
    assert (est.boundary, est.energy_j, est.unit) == ("cpu", 1000.0, "J")


def test_the_format_has_a_json_schema(capsys):
    assert SCHEMAS["estimate"] is EstimateFile
    assert main(["schema", "estimate"]) == 0
    schema = json.loads(capsys.readouterr().out)
    row = schema["$defs"]["Estimate"]
    assert set(row["required"]) == {"estimator_id", "estimator_version", "run_id", "boundary", "energy_j"}
    assert row["properties"]["unit"]["const"] == "J"
    assert row["additionalProperties"] is False


# --------------------------------------------------------------------------- refused files


def refused(path: Path, *fragments: str, runs_folder: Path | None = None) -> str:
    with pytest.raises(InputError) as err:
        if runs_folder is None:
            read_submission(path)
        else:
            score_runs(runs_folder, submissions=[path], resamples=10)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf"])
def test_csv_nan_and_infinite_values(tmp_path, runs, bad):
    _, run_ids = runs
    refused(write(tmp_path, "e.csv", csv_rows(run_ids[:2], [1.0, bad])), "line 3", "field 'energy_j'", "finite")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinite_values(tmp_path, runs, token):
    _, run_ids = runs
    text = ('{"estimates": [{"estimator_id": "a", "estimator_version": "1", "run_id": "%s", "boundary": "gpu", '
            '"energy_j": %s}]}' % (run_ids[0], token))
    refused(write(tmp_path, "e.json", text), "estimates[0]", "field 'energy_j'", "finite")


def test_negative_value(tmp_path, runs):
    _, run_ids = runs
    refused(write(tmp_path, "e.csv", csv_rows(run_ids[:1], [-5.0])), "line 2", "field 'energy_j'", ">= 0", "-5")


def test_wrong_unit_field(tmp_path, runs):
    _, run_ids = runs
    refused(write(tmp_path, "e.csv", csv_rows(run_ids[:1], [0.5], unit="kWh")),
            "line 2", "field 'unit'", "'kWh'", "3,600,000 J/kWh")


def test_energy_column_in_kwh(tmp_path, runs):
    _, run_ids = runs
    text = f"estimator_id,estimator_version,run_id,boundary,energy_kwh\na,1,{run_ids[0]},gpu,0.5\n"
    refused(write(tmp_path, "e.csv", text), "unknown column 'energy_kwh'", "joules", "required column 'energy_j'")


def test_unknown_run_id(tmp_path, runs):
    folder, run_ids = runs
    typo = run_ids[0][:-1] + "9"
    path = write(tmp_path, "e.csv", csv_rows([run_ids[1], typo], [1.0, 2.0]))
    refused(path, "line 3", "field 'run_id'", f"unknown run {typo!r}", "did you mean", runs_folder=folder)


def test_duplicated_rows(tmp_path, runs):
    _, run_ids = runs
    path = write(tmp_path, "e.csv", csv_rows([run_ids[0], run_ids[1], run_ids[0]], [1.0, 2.0, 3.0]))
    refused(path, "line 4", "duplicate of line 2")


def test_duplicated_rows_across_two_files(tmp_path, runs):
    folder, run_ids = runs
    one = write(tmp_path, "one.csv", csv_rows(run_ids[:1], [1.0]))
    two = write(tmp_path, "two.csv", csv_rows(run_ids[:1], [2.0]))
    with pytest.raises(InputError, match="is also in"):
        score_runs(folder, submissions=[one, two], resamples=10)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(1024**3)  # 1 GiB, sparse: costs no disk
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("the file was read"))
    refused(path, "over the", "limit", "not read")


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("e.csv", "", ("empty file",)),
        ("e.csv", HEADER + "a,1,r,gpu\n", ("line 2", "4 values for 6 columns")),
        ("e.csv", HEADER + "a,1,r,watts,1,J\n", ("line 2", "field 'boundary'")),
        ("e.csv", HEADER + "Bad Id,1,r,gpu,1,J\n", ("line 2", "field 'estimator_id'")),
        ("e.json", "{not json", ("not valid JSON",)),
        ("e.json", "[]", ('expected an object',)),
        ("e.json", '{"schema_version": 2, "estimates": []}', ("field 'schema_version'",)),
        ("e.json", '{"estimates": [{"estimator_id": "a", "estimator_version": "1", "run_id": "r", "boundary": "gpu", '
                   '"energy_j": 1, "energy_kwh": 1}]}', ("estimates[0]", "field 'energy_kwh'", "unknown field")),
        ("e.json", '{"estimates": []}', ("no estimates",)),
        ("e.txt", "whatever", ("expected a .csv or .json",)),
    ],
)
def test_malformed_files(tmp_path, name, text, fragments):
    refused(write(tmp_path, name, text), *fragments)


def test_a_submission_cannot_speak_for_a_registered_or_live_estimator(tmp_path, runs):
    folder, run_ids = runs
    refused(write(tmp_path, "e.csv", csv_rows(run_ids[:1], [1.0], estimator="mlco2")),
            "field 'estimator_id'", "registered estimator", runs_folder=folder)
    refused(write(tmp_path, "f.csv", csv_rows(run_ids[:1], [1.0], estimator="some-live-tool")),
            "live estimator in the run records", runs_folder=folder)


def test_command_exits_2_and_writes_nothing(tmp_path, runs, capsys):
    folder, run_ids = runs
    path = write(tmp_path, "e.csv", csv_rows(run_ids[:2], [1.0, float("nan")]))
    out = tmp_path / "scores.json"
    code = main(["score", "--runs", str(folder), "--submission", str(path), "--format", "json", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "e.csv" in err and "line 3" in err and "energy_j" in err
    assert not out.exists()
    assert list(tmp_path.glob(".scores.json.*")) == []

"""Hostile estimates files: `joulebench score --submission FILE` (and `validate estimate`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.doubles.records import make_record, write_records
from tests.hostile.harness import (
    Case,
    deep_json,
    dumps,
    fifo,
    link,
    parametrize,
    register,
    run_case,
    sparse,
    write,
)

RECORD = make_record(truth={"gpu": 1000.0}, site="lab-a")
RUN_ID = RECORD.run_id
HEADER = "estimator_id,estimator_version,run_id,boundary,energy_j,unit\n"
ROW = {"estimator_id": "my-est", "estimator_version": "1.0", "run_id": RUN_ID, "boundary": "gpu", "energy_j": 900.0}


def submit(name: str, content: str | bytes | Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        runs = write_records(folder / "results", [RECORD])
        path = content(folder) if callable(content) else write(folder / name, content)
        return ["score", "--runs", str(runs), "--submission", str(path), "--resamples", "20"]

    return make


def json_rows(**edits) -> str:
    return dumps({"schema_version": 1, "estimates": [{**ROW, **edits}]})


def csv_row(energy: str = "900", version: str = "1.0", run_id: str = RUN_ID, estimator: str = "my-est") -> str:
    return HEADER + f"{estimator},{version},{run_id},gpu,{energy},J\n"


SUBMISSIONS = register("estimates files (score --submission)", [
    Case("submission_json_100000_deep", submit("e.json", deep_json(100_000)), 2, ("e.json", "nested more than")),
    Case("submission_json_nested_in_rows", submit("e.json", dumps({"estimates": [json.loads(deep_json(70))]})), 2,
         ("e.json", "nested more than")),
    Case("submission_json_5000_digit_integer", submit("e.json", json_rows().replace("900.0", "9" * 5000)), 2,
         ("e.json", "digits")),
    Case("submission_csv_field_over_131072", submit("e.csv", csv_row(version="v" * 200_000)), 2,
         ("e.csv", "line 2", "larger than field limit")),
    Case("submission_csv_nul_byte", submit("e.csv", csv_row(version="1\u00000")), 2, ("e.csv", "binary data")),
    Case("submission_binary_json", submit("e.json", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100), 2, ("e.json", "binary data")),
    Case("submission_utf16_csv", submit("e.csv", csv_row().encode("utf-16")), 2, ("e.csv", "UTF-16")),
    Case("submission_is_a_directory", submit("d.csv", lambda f: (f / "d.csv").mkdir() or f / "d.csv"), 2,
         ("d.csv", "is a folder")),
    Case("submission_is_a_fifo", submit("p.csv", lambda f: fifo(f / "p.csv")), 2, ("p.csv", "FIFO"), process=True),
    Case("submission_symlink_to_dev_zero", submit("z.csv", lambda f: link(f / "z.csv", "/dev/zero")), 2,
         ("z.csv", "is a device")),
    Case("submission_300mb_sparse", submit("big.csv", lambda f: sparse(f / "big.csv", 300 * 2**20)), 2,
         ("big.csv", "over the", "limit", "not read")),
    Case("submission_missing", submit("m.csv", lambda f: f / "m.csv"), 2, ("m.csv", "not found")),
    Case("submission_energy_true", submit("e.json", json_rows(energy_j=True)), 2,
         ("estimates[0]", "field 'energy_j'", "not a boolean")),
    Case("submission_energy_string_1000", submit("e.json", json_rows(energy_j="1000")), 2,
         ("estimates[0]", "field 'energy_j'", "not a string")),
    Case("submission_energy_underscored_csv", submit("e.csv", csv_row(energy="1_000")), 2, ("line 2", "field 'energy_j'")),
    Case("submission_energy_hex_csv", submit("e.csv", csv_row(energy="0x10")), 2, ("line 2", "field 'energy_j'")),
    Case("submission_energy_nan_csv", submit("e.csv", csv_row(energy="nan")), 2, ("line 2", "finite")),
    Case("submission_energy_infinity_json", submit("e.json", json_rows(energy_j=float("inf"))), 2, ("estimates[0]", "finite")),
    Case("submission_energy_1e300", submit("e.json", json_rows(energy_j=1e300)), 2, ("field 'energy_j'", "less than")),
    Case("submission_energy_negative", submit("e.csv", csv_row(energy="-5")), 2, ("field 'energy_j'", ">= 0")),
    Case("submission_unit_kwh", submit("e.json", json_rows(unit="kWh")), 2, ("field 'unit'", "3,600,000")),
    Case("submission_version_hyperlink", submit("e.json", json_rows(estimator_version='=HYPERLINK("http://x.invalid")')), 2,
         ("field 'estimator_version'",)),
    Case("submission_version_ansi_escape", submit("e.json", json_rows(estimator_version="1.0\x1b[2J")), 2,
         ("field 'estimator_version'",)),
    Case("submission_run_id_formula", submit("e.csv", csv_row(run_id="=1+1")), 2, ("field 'run_id'",)),
    Case("submission_estimator_id_cmd", submit("e.csv", csv_row(estimator="=cmd|' /C calc'!A0")), 2,
         ("field 'estimator_id'",)),
    Case("submission_estimator_id_newline_json", submit("e.json", json_rows(estimator_id="a\nb")), 2,
         ("field 'estimator_id'",)),
    Case("submission_header_of_a_megabyte", submit("e.csv", "x" * 1_000_000 + "\n"), 2, ("e.csv", "line 1", "larger than field limit")),
    Case("submission_rows_not_objects", submit("e.json", dumps({"estimates": [1, "two", None]})), 2,
         ("estimates[0]", "expected an object")),
    Case("submission_schema_version_true", submit("e.json", dumps({"schema_version": True, "estimates": [ROW]})), 2,
         ("field 'schema_version'",)),
    Case("submission_estimates_not_a_list", submit("e.json", dumps({"estimates": {"a": 1}})), 2, ("field 'estimates'",)),
    Case("submission_empty_csv", submit("e.csv", ""), 2, ("e.csv", "empty file")),
    Case("submission_speaks_for_a_live_estimator", submit("e.csv", csv_row(estimator="mlco2")), 2,
         ("registered estimator",)),
    Case("submission_unknown_extension", submit("e.xlsx", "x"), 2, ("expected a .csv or .json",)),
    Case("validate_estimate_with_nan", lambda f: ["validate", "estimate", str(write(f / "e.csv", csv_row(energy="NaN")))], 2,
         ("line 2", "finite")),
])


@parametrize(SUBMISSIONS)
def test_hostile_submissions(case, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, capsys, monkeypatch)

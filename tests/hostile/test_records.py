"""Hostile run records: `joulebench validate run FILE` and `joulebench score --runs DIR` on records that lie.

Non-finite and absurd numbers, numbers that are not numbers, bounds from
physics and from the record itself, identifiers that are formulas or escape
sequences, files that are not files, and folders that point elsewhere.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.doubles.records import live_estimate, make_record
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

BASE = make_record(truth={"gpu": 1000.0, "node": 1800.0}, site="lab-a", gpu_util_pct=50.0, cpu_util_pct=10.0,
                   live=[live_estimate("codecarbon", "gpu", 950.0, version="3.3.2")]).model_dump(mode="json")


def _heavy() -> dict:
    return make_record(truth={"gpu": 1000.0}, site="lab-a", flops_per_iteration=1e13).model_dump(mode="json")


def at(data: dict, dotted: str, value: Any) -> dict:
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return data


HEAVY = _heavy()  # 1e13 FLOPs per iteration: 1e5 iterations in 10 s would be 1e17 FLOP/s


def edited(*changes: tuple[str, Any]) -> dict:
    data = BASE
    for dotted, value in changes:
        data = at(data, dotted, value)
    return data


def text_of(content: dict | str | bytes) -> str | bytes:
    return dumps(content) if isinstance(content, dict) else content


def validate(content: dict | str | bytes) -> Callable[[Path], list[str]]:
    return lambda folder: ["validate", "run", str(write(folder / "run.json", text_of(content)))]


def score(content: dict | str | bytes, name: str = "lab-a/run.json") -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        write(folder / "results" / name, text_of(content))
        return ["score", "--runs", str(folder / "results"), "--resamples", "20"]

    return make


def both(name: str, content, says: tuple[str, ...]) -> list[Case]:
    """The same bad record through `validate run` and through `score` (which must score nothing)."""
    return [Case(f"validate_{name}", validate(content), 2, says),
            Case(f"score_{name}", score(content), 2, (*says, "nothing was scored"))]


def _raw(value: str, field: str = '"energy_j": 1000.0') -> str:
    return dumps(BASE).replace(field, value, 1)


NUMBERS = register("records: numbers (validate run + score)", [
    *both("energy_infinity", edited(("energy.0.energy_j", float("inf"))), ("field 'energy.0.energy_j'", "finite")),
    *both("energy_nan", edited(("energy.0.energy_j", float("nan"))), ("field 'energy.0.energy_j'", "finite")),
    *both("energy_1e400_overflows_to_infinity", _raw('"energy_j": 1e400'), ("energy_j", "finite")),
    *both("energy_true_is_not_1_joule", edited(("energy.0.energy_j", True)), ("field 'energy.0.energy_j'", "valid number")),
    *both("energy_string_1000", edited(("energy.0.energy_j", "1000")), ("field 'energy.0.energy_j'", "valid number")),
    *both("energy_over_a_terawatt_hour", edited(("energy.0.energy_j", 1e20)), ("field 'energy.0.energy_j'", "less than")),
    *both("energy_more_than_the_hardware_draws", edited(("energy.0.energy_j", 1e7), ("energy.0.mean_power_w", 1e6)),
          ("energy.0.energy_j", "more than the declared hardware could draw")),
    *both("mean_power_does_not_match_energy", edited(("energy.0.mean_power_w", 5.0)), ("energy.0.mean_power_w", "does not match")),
    *both("iterations_1e40", edited(("iterations", 1e40)), ("field 'iterations'", "integer")),
    *both("iterations_a_float", edited(("iterations", 100.0)), ("field 'iterations'", "integer")),
    *both("iterations_too_many_per_second", edited(("iterations", 10**12), ("items", 0)), ("iterations", "per second")),
    *both("iterations_beyond_peak_flops", at(HEAVY, "iterations", 10**5), ("iterations", "FLOP/s")),
    *both("iterations_5000_digits", _raw('"iterations": ' + "9" * 5000, '"iterations": 100'), ("run.json",)),
    *both("duration_does_not_fit_the_timestamps", edited(("duration_s", 500.0)), ("duration_s", "does not fit")),
    *both("ended_before_started", edited(("ended_at", "2025-12-31T00:00:00Z")), ("ended_at", "before started_at")),
    *both("started_in_1970", edited(("started_at", "1970-01-01T00:00:00Z")), ("started_at", "outside")),
    *both("duration_zero", edited(("duration_s", 0.0)), ("field 'duration_s'",)),
    *both("items_more_than_iterations_times_batch", edited(("items", 10**9)), ("items", "iterations x batch_size")),
    *both("device_count_over_the_profile", edited(("device_count", 64)), ("device_count", "accelerator")),
    *both("per_device_nan", edited(("energy.0.per_device_j", {"gpu0": float("nan")})), ("per_device_j", "finite")),
    *both("utilisation_negative", edited(("trace.gpu_util_pct", [-5.0, 50.0])), ("trace.gpu_util_pct",)),
    # null is "not stated" (a TDP nobody publishes) since the imported studies; infinity is never a TDP.
    *both("profile_tdp_infinity", edited(("profile.accelerator.tdp_w", float("inf"))), ("profile.accelerator.tdp_w", "finite")),
    *both("live_energy_true", edited(("live_estimates.0.energy_j", True)), ("live_estimates.0.energy_j", "valid number")),
    *both("live_energy_infinity", edited(("live_estimates.0.energy_j", float("inf"))), ("live_estimates.0.energy_j", "finite")),
    *both("live_raw_nan", edited(("live_estimates.0.raw", {"x": float("nan")})), ("live_estimates.0.raw", "finite")),
    *both("tokens_absurd_rate", edited(("tokens", 10**17)), ("tokens", "per second")),
])

TEXT = register("records: identifiers and text (validate run + score)", [
    *both("run_id_hyperlink_formula", edited(("run_id", '=HYPERLINK("http://evil.invalid","x")')), ("field 'run_id'",)),
    *both("run_id_newline", edited(("run_id", "a\nb")), ("field 'run_id'",)),
    *both("run_id_nul", edited(("run_id", "a\u0000b")), ("field 'run_id'",)),
    *both("live_estimator_id_cmd_formula", edited(("live_estimates.0.estimator_id", "=cmd|' /C calc'!A0")),
          ("live_estimates.0.estimator_id",)),
    *both("live_estimator_id_ansi_escape", edited(("live_estimates.0.estimator_id", "\x1b[31mred")),
          ("live_estimates.0.estimator_id",)),
    *both("live_estimator_version_formula", edited(("live_estimates.0.estimator_version", "@SUM(1+1)*cmd|' /C calc'!A0")),
          ("live_estimates.0.estimator_version",)),
    *both("duplicate_live_estimates", edited(("live_estimates", BASE["live_estimates"] * 2)), ("a second codecarbon",)),
    *both("site_uppercase_with_space", edited(("site", "Lab A")), ("field 'site'",)),
    *both("meter_id_formula", edited(("energy.0.meter_id", "+SUM(A1)")), ("energy.0.meter_id",)),
    *both("warning_with_terminal_escape", edited(("warnings", ["\x1b]0;owned\x07"])), ("warnings.0", "control characters")),
    *both("provenance_commit_injection", edited(("provenance", {"source": "s", "citation": "c", "commit": "$(id)"})),
          ("provenance.commit",)),
    *both("gpu_name_with_escape", edited(("hardware.gpus", [{"index": 0, "name": "H100\x1b[2J"}])), ("hardware.gpus.0.name",)),
    *both("unknown_field_deep_inside", edited(("energy.0.bonus_j", 1)), ("energy.0.bonus_j", "unknown field")),
    *both("schema_version_2", edited(("schema_version", 2)), ("field 'schema_version'",)),
    *both("spec_hash_does_not_match", edited(("spec_hash", "0" * 64)), ("spec_hash does not match",)),
    *both("trace_lists_misaligned", edited(("trace.cpu_util_pct", [1.0, 2.0, 3.0])), ("samples for 2 times",)),
    *both("model_config_deep", edited(("workload.model.config", json.loads("{\"a\": " * 30 + "1" + "}" * 30))),
          ("workload.model.config", "nested more than")),
])

FILES = register("records: files that are not records (validate run + score)", [
    *both("json_100000_deep", deep_json(100_000), ("run.json",)),
    *both("json_top_level_array", "[1, 2, 3]", ("run.json",)),
    *both("binary_file", b"\x00\x01\x02\x03" * 100, ("run.json",)),
    *both("utf16_file", dumps(BASE).encode("utf-16"), ("run.json",)),
    *both("empty_file", "", ("run.json",)),
    Case("validate_300mb_sparse_record", lambda f: ["validate", "run", str(sparse(f / "big.json", 300 * 2**20))], 2,
         ("big.json", "over the", "limit", "not read")),
    Case("score_300mb_sparse_record", lambda f: ["score", "--runs", str(sparse(f / "r" / "lab-a" / "big.json", 300 * 2**20).parent.parent)],
         2, ("big.json", "over the", "limit")),
    Case("validate_record_symlink_to_dev_zero", lambda f: ["validate", "run", str(link(f / "z.json", "/dev/zero"))], 2,
         ("z.json", "is a device")),
    Case("score_record_symlink_to_etc_passwd",
         lambda f: ["score", "--runs", str(link(f / "r" / "lab-a" / "x.json", "/etc/passwd").parent.parent)], 2,
         ("x.json", "symbolic link")),
    Case("score_record_symlink_to_dev_zero",
         lambda f: ["score", "--runs", str(link(f / "r" / "lab-a" / "z.json", "/dev/zero").parent.parent)], 2,
         ("z.json", "symbolic link")),
    Case("score_record_symlink_to_a_record_outside",
         lambda f: ["score", "--runs", str(link(f / "r" / "lab-a" / "y.json", write(f / "outside.json", dumps(BASE))).parent.parent)],
         2, ("y.json", "symbolic link")),
    Case("score_record_is_a_fifo", lambda f: ["score", "--runs", str(fifo(f / "r" / "lab-a" / "p.json").parent.parent)], 2,
         ("p.json", "not a regular file"), process=True),
    Case("validate_record_is_a_fifo", lambda f: ["validate", "run", str(fifo(f / "p.json"))], 2, ("p.json", "FIFO"),
         process=True),
    Case("score_folder_named_like_a_record", lambda f: ["score", "--runs", str((f / "r" / "lab-a" / "d.json").mkdir(parents=True) or f / "r")],
         2, ("d.json", "is a folder")),
    Case("score_site_folder_symlinked_to_etc", lambda f: ["score", "--runs", str(link(f / "r" / "etc", "/etc").parent)], 2,
         ("etc", "symbolic link to a folder", "not followed")),
    Case("score_runs_is_a_file", lambda f: ["score", "--runs", str(write(f / "r.json", "{}"))], 2, ("r.json", "not a folder")),
    Case("score_runs_missing", lambda f: ["score", "--runs", str(f / "nowhere")], 2, ("nowhere", "not found")),
    Case("score_duplicate_run_id", lambda f: [write(f / "r" / "lab-a" / "b.json", dumps(BASE)),
                                              "score", "--runs", str(write(f / "r" / "lab-a" / "a.json", dumps(BASE)).parent.parent)][1:],
         2, ("is also the run_id of",)),
    Case("score_5mb_invalid_record_is_not_echoed", score(edited(("run_id", "=" + "A" * 5_000_000))), 2,
         ("field 'run_id'", "(cut)")),
    Case("score_10000_bad_records_in_a_few_lines",
         lambda f: [[write(f / "r" / "lab-a" / f"{i}.json", "{}") for i in range(10_000)], "score", "--runs", str(f / "r")][1:],
         2, ("10000 bad run record(s)", "more")),
])


@parametrize(NUMBERS + TEXT + FILES)
def test_hostile_records(case, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, capsys, monkeypatch)


def test_the_base_record_is_valid_and_scores(tmp_path, capsys, monkeypatch):
    """Control: without the edits, the same record validates and scores (exit 0)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    run_case(Case("valid_record_validates", validate(BASE), 0, ("valid run",)), tmp_path / "a", capsys, monkeypatch)
    run_case(Case("valid_record_scores", score(BASE), 0, ("codecarbon",)), tmp_path / "b", capsys, monkeypatch)

"""Scoring: hand-computed metrics, coverage, slices, bootstrap CIs, ties, invariants, the `score` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.formats import ScoreSummary
from joulebench.records import load_records
from joulebench.scoring import EstimatorColumn, RunTable, score_runs, size_label
from joulebench.scoring.bootstrap import row_quantiles, score_table
from tests.doubles.records import (
    live_estimate,
    make_profile,
    make_record,
    write_records,
)

FAST = 200  # bootstrap resamples where the test is not about the CI's width


def table_of(truths: list[float | None], workloads: list[str], boundary: str = "gpu", **labels) -> RunTable:
    n = len(truths)
    dims = {"domain": ["vision"] * n, "task": ["train"] * n, "size": ["10M-100M"] * n,
            "profile": ["p"] * n, "site": ["s"] * n}
    dims.update(labels)
    return RunTable.build(
        run_ids=[f"r{i:03d}" for i in range(n)],
        workload_keys=workloads,
        labels=dims,
        truth={boundary: truths},
    )


def column(table: RunTable, name: str, values: list[float | None], boundary: str = "gpu") -> EstimatorColumn:
    by_run = {f"r{i:03d}": v for i, v in enumerate(values) if v is not None}
    return EstimatorColumn(name, "1", "submission", (boundary,), {boundary: table.column(by_run)})


def only(scores, estimator="a", dimension="all", value="all", boundary="gpu"):
    (hit,) = [s for s in scores if s.estimator_id == estimator and s.slice == dimension and s.slice_value == value
              and s.boundary == boundary]
    return hit


# --------------------------------------------------------------------------- hand-computed


def test_hand_computed_metrics_on_a_tiny_set():
    # APE 10%, 10%, 50%, 0%; signed +10, -10, +50, 0; workloads w1 (2 runs), w2, w3.
    table = table_of([100.0, 200.0, 100.0, 400.0], ["w1", "w1", "w2", "w3"])
    scores, _ = score_table(table, [column(table, "a", [110.0, 180.0, 150.0, 400.0])], resamples=FAST)
    s = only(scores)
    assert (s.n_runs, s.n_truth, s.n_estimates, s.n, s.n_workloads) == (4, 4, 4, 4, 3)
    assert s.coverage == 1.0
    assert s.mape_pct == pytest.approx(17.5)
    assert s.median_ape_pct == pytest.approx(10.0)
    assert s.signed_mean_error_pct == pytest.approx(12.5)
    assert s.p90_ape_pct == pytest.approx(38.0)  # position 0.9 x 3 = 2.7 -> 10 + 0.7 x (50 - 10)
    assert s.max_ape_pct == pytest.approx(50.0)
    assert s.mape_ci_pct.low <= 17.5 <= s.mape_ci_pct.high
    # Resampling whole workloads: the smallest possible MAPE draws w3 only (0%), the largest w2 only (50%).
    assert 0.0 <= s.mape_ci_pct.low and s.mape_ci_pct.high <= 50.0
    assert s.rank == 1 and s.tied_with_previous is False


def test_coverage_when_truth_or_estimate_is_missing():
    table = table_of([100.0, None, 100.0, 100.0, 100.0], ["w1", "w2", "w3", "w4", "w5"])
    est = column(table, "a", [100.0, 50.0, None, 120.0, 90.0])
    scores, _ = score_table(table, [est], resamples=FAST)
    s = only(scores)
    assert (s.n_runs, s.n_truth, s.n_estimates, s.n) == (5, 4, 4, 3)
    assert s.coverage == pytest.approx(3 / 4)
    assert s.mape_pct == pytest.approx(10.0)  # 0, 20, 10: the run without truth is not scored


def test_a_boundary_without_any_truth_is_reported_not_scored():
    table = table_of([None, None], ["w1", "w2"], boundary="dram")
    scores, comparisons = score_table(table, [column(table, "a", [1.0, 2.0], boundary="dram")], resamples=FAST)
    s = only(scores, boundary="dram")
    assert (s.n_truth, s.n_estimates, s.n, s.coverage, s.mape_pct, s.rank) == (0, 2, 0, None, None, None)
    assert comparisons == []


def test_a_single_workload_gets_no_confidence_interval():
    table = table_of([100.0, 100.0, 100.0], ["w1", "w1", "w1"])
    scores, _ = score_table(table, [column(table, "a", [110.0, 120.0, 130.0])], resamples=FAST)
    s = only(scores)
    assert s.mape_pct == pytest.approx(20.0)
    assert s.mape_ci_pct is None and s.signed_mean_error_ci_pct is None


def test_slices_split_the_runs():
    table = table_of([100.0, 100.0, 100.0, 100.0], ["w1", "w2", "w3", "w4"],
                     domain=["vision", "vision", "language", "language"], site=["a", "b", "a", "b"])
    scores, _ = score_table(table, [column(table, "a", [110.0, 130.0, 150.0, 170.0])], resamples=FAST)
    assert only(scores, dimension="domain", value="vision").mape_pct == pytest.approx(20.0)
    assert only(scores, dimension="domain", value="language").mape_pct == pytest.approx(60.0)
    assert only(scores, dimension="site", value="a").mape_pct == pytest.approx(30.0)
    assert only(scores, dimension="site", value="b").n == 2


def test_size_label_is_the_parameter_decade():
    assert size_label(25_557_032) == "10M-100M"
    assert size_label(1_300_000_000) == "1B-10B"
    assert size_label(100_000_000) == "100M-1B"
    assert size_label(999) == "100-1k"


# --------------------------------------------------------------------------- ranking and ties


def test_clearly_different_estimators_are_ranked_and_equal_ones_tied():
    workloads = [f"w{i}" for i in range(8)]
    table = table_of([100.0] * 8, workloads)
    good = column(table, "good", [102.0, 98.0, 101.0, 99.0, 103.0, 97.0, 102.0, 98.0])
    bad = column(table, "bad", [150.0, 160.0, 140.0, 155.0, 145.0, 150.0, 165.0, 135.0])
    twin = column(table, "twin", [150.0, 160.0, 140.0, 155.0, 145.0, 150.0, 165.0, 135.0])
    scores, comparisons = score_table(table, [bad, good, twin], resamples=FAST)
    by = {s.estimator_id: s for s in scores if s.slice == "all"}
    assert (by["good"].rank, by["good"].tied_with_previous) == (1, False)
    assert (by["bad"].rank, by["bad"].tied_with_previous) == (2, False)
    assert (by["twin"].rank, by["twin"].tied_with_previous) == (2, True)
    first, second = [c for c in comparisons if c.slice == "all"]
    assert (first.better, first.worse, first.tied) == ("good@1", "bad@1", False)
    assert first.mape_diff_ci_pct.low > 0
    assert (second.better, second.worse, second.tied, second.mape_diff_pct) == ("bad@1", "twin@1", True, 0.0)


def test_estimators_without_common_runs_cannot_be_told_apart():
    table = table_of([100.0] * 4, ["w1", "w2", "w3", "w4"])
    a = column(table, "a", [110.0, 110.0, None, None])
    b = column(table, "b", [None, None, 150.0, 150.0])
    _, comparisons = score_table(table, [a, b], resamples=FAST)
    (c,) = [c for c in comparisons if c.slice == "all"]
    assert c.tied and c.n_common == 0 and "no runs in common" in c.basis


def test_bootstrap_is_reproducible_and_independent_of_other_estimators():
    table = table_of([100.0 + i for i in range(10)], [f"w{i % 5}" for i in range(10)])
    a = column(table, "a", [120.0 - 3 * i for i in range(10)])
    b = column(table, "b", [90.0 + 2 * i for i in range(10)])
    alone, _ = score_table(table, [a], resamples=300, seed=7)
    again, _ = score_table(table, [a], resamples=300, seed=7)
    both, _ = score_table(table, [b, a], resamples=300, seed=7)
    other_seed, _ = score_table(table, [a], resamples=300, seed=8)
    assert only(alone).mape_ci_pct == only(again).mape_ci_pct == only(both).mape_ci_pct
    assert only(alone).mape_ci_pct != only(other_seed).mape_ci_pct


# --------------------------------------------------------------------------- invariants (hypothesis)

truths = st.lists(st.floats(min_value=1.0, max_value=1e7, allow_nan=False), min_size=1, max_size=25)


def _random_setup(data, values):
    n = len(values)
    workloads = data.draw(st.lists(st.sampled_from(["w1", "w2", "w3", "w4"]), min_size=n, max_size=n))
    ratios = data.draw(st.lists(st.floats(min_value=0.0, max_value=20.0, allow_nan=False), min_size=n, max_size=n))
    table = table_of(values, workloads)
    return table, workloads, ratios


@settings(max_examples=40, deadline=None)
@given(values=truths, data=st.data())
def test_metrics_are_non_negative_and_ordered(values, data):
    table, _, ratios = _random_setup(data, values)
    scores, _ = score_table(table, [column(table, "a", [v * r for v, r in zip(values, ratios)])], resamples=50)
    s = only(scores)
    assert s.mape_pct >= 0 and s.median_ape_pct >= 0 and s.p90_ape_pct >= 0
    assert s.median_ape_pct <= s.max_ape_pct + 1e-9 and s.p90_ape_pct <= s.max_ape_pct + 1e-9
    assert s.mape_pct <= s.max_ape_pct + 1e-9
    assert s.signed_mean_error_pct >= -100.0 - 1e-9  # an estimate cannot be below 0 J
    for interval, point in ((s.mape_ci_pct, s.mape_pct), (s.signed_mean_error_ci_pct, s.signed_mean_error_pct)):
        if interval is not None:
            assert interval.low <= point <= interval.high


@settings(max_examples=30, deadline=None)
@given(values=truths, data=st.data())
def test_perfect_estimates_score_zero(values, data):
    table, _, _ = _random_setup(data, values)
    scores, _ = score_table(table, [column(table, "a", list(values))], resamples=50)
    s = only(scores)
    assert s.mape_pct == s.median_ape_pct == s.max_ape_pct == s.p90_ape_pct == 0.0
    assert s.signed_mean_error_pct == 0.0
    if s.mape_ci_pct is not None:
        assert (s.mape_ci_pct.low, s.mape_ci_pct.high) == (0.0, 0.0)


@settings(max_examples=30, deadline=None)
@given(values=truths, k=st.floats(min_value=0.0, max_value=10.0, allow_nan=False), data=st.data())
def test_scaling_every_estimate_by_k_gives_k_minus_one(values, k, data):
    table, _, _ = _random_setup(data, values)
    scores, _ = score_table(table, [column(table, "a", [k * v for v in values])], resamples=50)
    s = only(scores)
    assert s.signed_mean_error_pct == pytest.approx((k - 1) * 100, abs=1e-9, rel=1e-9)
    assert s.mape_pct == pytest.approx(abs(k - 1) * 100, abs=1e-9, rel=1e-9)
    assert s.median_ape_pct == pytest.approx(abs(k - 1) * 100, abs=1e-9, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(values=truths, data=st.data())
def test_scores_do_not_depend_on_the_order_of_runs(values, data):
    table, workloads, ratios = _random_setup(data, values)
    estimates = [v * r for v, r in zip(values, ratios)]
    perm = data.draw(st.permutations(range(len(values))))
    original, _ = score_table(table, [column(table, "a", estimates)], resamples=50)
    # The same runs (ids, workloads, truth and estimates travel together), given in another order.
    moved = RunTable.build(
        run_ids=[f"r{i:03d}" for i in perm],
        workload_keys=[workloads[i] for i in perm],
        labels={d: list(table.labels[d]) for d in table.labels},
        truth={"gpu": [values[i] for i in perm]},
    )
    by_run = {f"r{i:03d}": estimates[i] for i in range(len(values))}
    col = EstimatorColumn("a", "1", "submission", ("gpu",), {"gpu": moved.column(by_run)})
    permuted, _ = score_table(moved, [col], resamples=50)
    a, b = only(original), only(permuted)
    for field in ("n", "n_workloads", "mape_pct", "median_ape_pct", "signed_mean_error_pct", "p90_ape_pct", "max_ape_pct"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12, abs=1e-12)
    assert (a.mape_ci_pct is None) == (b.mape_ci_pct is None)
    if a.mape_ci_pct is not None:
        assert a.mape_ci_pct.low == pytest.approx(b.mape_ci_pct.low, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=1, max_size=15), min_size=1, max_size=6)
       .filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_row_quantiles_match_numpy(rows):
    values = np.array([[np.nan if v is None else v for v in row] for row in rows])
    valid = ~np.isnan(values)
    median, p90, largest = row_quantiles(np.nan_to_num(values), valid, valid.sum(axis=1))
    for i, row in enumerate(values):
        kept = row[~np.isnan(row)]
        if kept.size == 0:
            assert np.isnan(median[i]) and np.isnan(p90[i]) and np.isnan(largest[i])
        else:
            assert median[i] == pytest.approx(np.median(kept))
            assert p90[i] == pytest.approx(np.percentile(kept, 90))
            assert largest[i] == kept.max()


# --------------------------------------------------------------------------- from records


def runs_folder(tmp_path, records):
    return write_records(tmp_path / "results", records)


def test_static_recomputed_and_live_read_from_records(tmp_path):
    profile = make_profile(accelerator_model="A100 SXM4 80GB", accelerator_tdp_w=700.0)
    records = [
        make_record(f"w{i}-train", profile=profile, duration_s=10.0, truth={"gpu": 5000.0},
                    live=[live_estimate("codecarbon", "gpu", 4500.0, version="3.3.2")])
        for i in range(3)
    ]
    summary = score_runs(runs_folder(tmp_path, records), estimator_ids=["mlco2", "codecarbon"], resamples=FAST)
    mlco2 = only(summary.scores, "mlco2")
    # 400 W from the calculator's table (not the profile's 700 W) x 10 s = 4000 J vs 5000 J.
    assert mlco2.source == "static" and mlco2.signed_mean_error_pct == pytest.approx(-20.0)
    codecarbon = only(summary.scores, "codecarbon")
    assert codecarbon.source == "live" and codecarbon.estimator_version == "3.3.2"
    assert codecarbon.signed_mean_error_pct == pytest.approx(-10.0)
    assert codecarbon.rank == 1 and mlco2.rank == 2
    assert summary.runs.truth_runs == {"gpu": 3, "cpu": 0, "dram": 0, "node": 0}
    assert summary.settings.resamples == FAST and summary.runs.n_workloads == 3


def test_default_scores_every_static_and_every_live_estimator_found(tmp_path):
    records = [make_record(f"w{i}", truth={"gpu": 1000.0, "node": 2000.0},
                           live=[live_estimate("codecarbon", "node", 1900.0)]) for i in range(2)]
    summary = score_runs(runs_folder(tmp_path, records), resamples=FAST)
    ids = {(e.id, e.source) for e in summary.estimators}
    assert {("mlco2", "static"), ("green-algorithms", "static"), ("flops", "static"), ("codecarbon", "live")} <= ids
    codecarbon = [s for s in summary.scores if s.estimator_id == "codecarbon" and s.slice == "all"]
    assert [s.boundary for s in codecarbon] == ["node"]  # a live estimator claims what it reported


def test_requested_live_estimator_without_outputs_is_reported_with_zero_coverage(tmp_path):
    records = [make_record("w1", truth={"gpu": 1000.0})]
    summary = score_runs(runs_folder(tmp_path, records), estimator_ids=["codecarbon"], resamples=FAST)
    gpu = only(summary.scores, "codecarbon")
    assert (gpu.n, gpu.coverage, gpu.mape_pct) == (0, 0.0, None)
    assert any("codecarbon has no outputs" in p for p in summary.problems)


def test_site_filter_and_unknown_site(tmp_path):
    records = [make_record("w1", site="lab-a", truth={"gpu": 1.0}), make_record("w1", site="lab-b", truth={"gpu": 1.0})]
    folder = runs_folder(tmp_path, records)
    summary = score_runs(folder, site="lab-b", estimator_ids=["mlco2"], resamples=FAST)
    assert summary.runs.sites == ["lab-b"] and summary.runs.filters == {"site": "lab-b"}
    with pytest.raises(InputError, match="sites are: lab-a, lab-b"):
        score_runs(folder, site="lab-c")


def test_unknown_estimator_suggests_the_closest(tmp_path):
    folder = runs_folder(tmp_path, [make_record("w1", truth={"gpu": 1.0})])
    with pytest.raises(InputError, match="Did you mean 'green-algorithms'"):
        score_runs(folder, estimator_ids=["green-algorithm"])


def test_bad_record_names_the_file_and_the_field(tmp_path):
    folder = runs_folder(tmp_path, [make_record("w1", truth={"gpu": 1.0})])
    bad = folder / "test-site" / "broken.json"
    data = json.loads(next((folder / "test-site").glob("*.json")).read_text())
    data["duration_s"] = -3
    data["run_id"] = "other"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_records(folder)
    assert "broken.json" in str(err.value) and "field 'duration_s'" in str(err.value)


def test_duplicate_run_ids_and_skipped_files(tmp_path):
    record = make_record("w1", truth={"gpu": 1.0})
    folder = runs_folder(tmp_path, [record])
    (folder / "test-site" / "certificate.json").write_text("{}")  # a site certificate, not a record
    (folder / ".live").mkdir()
    (folder / ".live" / "x.json").write_text("{}")  # a live estimator's work folder
    assert [r.run_id for r in load_records(folder)] == [record.run_id]
    (folder / "copy").mkdir()
    (folder / "copy" / "again.json").write_text(record.model_dump_json())
    with pytest.raises(InputError, match="is also the run_id of"):
        load_records(folder)


def test_empty_results_folder_is_an_explicit_message(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert main(["score", "--runs", str(tmp_path / "results")]) == 2
    assert "no runs in" in capsys.readouterr().err


def test_zero_truth_is_a_problem_not_a_division(tmp_path):
    records = [make_record("w1", truth={"gpu": 0.0}), make_record("w2", truth={"gpu": 10.0})]
    summary = score_runs(runs_folder(tmp_path, records), estimator_ids=["mlco2"], resamples=FAST)
    assert only(summary.scores, "mlco2").n_truth == 1
    assert any("truth of 0 J" in p for p in summary.problems)


# --------------------------------------------------------------------------- the command


def test_score_command_writes_json_csv_and_table(tmp_path, capsys):
    profile = make_profile(accelerator_model="A100 SXM4 80GB")  # listed in the mlco2 table
    records = [make_record(f"w{i}", truth={"gpu": 1000.0 + i}, gpu_util_pct=60.0, profile=profile) for i in range(3)]
    folder = runs_folder(tmp_path, records)
    out = tmp_path / "scores.json"
    assert main(["score", "--runs", str(folder), "--format", "json", "--out", str(out), "--resamples", "100"]) == 0
    summary = ScoreSummary.model_validate_json(out.read_text())
    assert {s.estimator_id for s in summary.scores} >= {"mlco2", "green-algorithms", "flops"}
    assert main(["score", "--runs", str(folder), "--format", "csv", "--boundary", "gpu", "--resamples", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("boundary,slice,slice_value,estimator_id")
    assert all(line.startswith("gpu,") for line in lines[1:])
    assert main(["score", "--runs", str(folder), "--estimator", "mlco2", "--resamples", "50"]) == 0
    text = capsys.readouterr().out
    assert "gpu boundary" in text and "mlco2 1.1" in text and "MAPE" in text


def test_score_json_is_reproducible(tmp_path, capsys):
    folder = runs_folder(tmp_path, [make_record(f"w{i}", truth={"gpu": 100.0 * (i + 1)}) for i in range(4)])
    runs = ["score", "--runs", str(folder), "--format", "json", "--resamples", "100"]
    assert main(runs) == 0
    first = capsys.readouterr().out
    assert main(runs) == 0
    assert capsys.readouterr().out == first


def test_scoring_needs_no_torch(tmp_path):
    import subprocess
    import sys

    folder = runs_folder(tmp_path, [make_record("w1", truth={"gpu": 10.0})])
    code = (
        "import sys; from joulebench.scoring import score_runs; import joulebench.cli.score, joulebench.scoring.submission; "
        f"score_runs({str(folder)!r}, resamples=10); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- the headline, totals, study slices (issue 11)


def _estimates_csv(path, rows) -> None:
    path.write_text("estimator_id,estimator_version,run_id,boundary,energy_j,unit\n"
                    + "".join(f"my-est,1,{rid},{b},{j},J\n" for rid, b, j in rows))


def test_the_headline_counts_only_truth_within_the_bound_and_scores_the_rest_apart(tmp_path):
    records = [make_record(f"w{i}", truth={"gpu": 100.0}, truth_bound_pct=bound)
               for i, bound in enumerate([1.0, 4.9, 5.0, 7.5, None])]
    folder = write_records(tmp_path / "results", records)
    est = tmp_path / "est.csv"
    # +10% on the three runs within 5%, +50% on the two that are not.
    _estimates_csv(est, [(r.run_id, "gpu", 110.0 if i < 3 else 150.0) for i, r in enumerate(records)])
    summary = score_runs(folder, submissions=[est], estimator_ids=["my-est"], resamples=FAST)
    (headline,) = [s for s in summary.scores if s.slice == "all" and s.boundary == "gpu"]
    assert headline.n == 3 and headline.mape_pct == pytest.approx(10.0)
    (apart,) = [s for s in summary.scores if s.slice == "truth" and s.boundary == "gpu"]
    assert apart.n == 2 and apart.mape_pct == pytest.approx(50.0) and "over 5%" in apart.slice_value
    assert summary.runs.truth_runs["gpu"] == 5 and summary.runs.headline_truth_runs["gpu"] == 3
    assert summary.settings.truth_bound_pct == 5.0


def test_every_estimator_is_scored_at_node_on_the_total_it_reports(tmp_path):
    records = [make_record(f"w{i}", truth={"gpu": 100.0, "node": 200.0}) for i in range(3)]
    folder = write_records(tmp_path / "results", records)
    est = tmp_path / "est.csv"
    # GPU and CPU figures only: its total, 120 + 30 = 150 J against 200 J at the wall, is -25%.
    _estimates_csv(est, [(r.run_id, b, j) for r in records for b, j in (("gpu", 120.0), ("cpu", 30.0))])
    summary = score_runs(folder, submissions=[est], estimator_ids=["my-est"], resamples=FAST)
    (node,) = [s for s in summary.scores if s.slice == "all" and s.boundary == "node"]
    assert node.n == 3 and node.signed_mean_error_pct == pytest.approx(-25.0)
    (entry,) = [e for e in summary.estimators if e.id == "my-est"]
    assert entry.node_total_of == ["gpu", "cpu"]
    # Without node truth there is nothing to score a total against: no node row appears.
    gpu_only = write_records(tmp_path / "gpu-only", [make_record("w9", truth={"gpu": 100.0})])
    _estimates_csv(est, [(make_record("w9").run_id, "gpu", 120.0)])
    summary = score_runs(gpu_only, submissions=[est], estimator_ids=["my-est"], resamples=FAST)
    assert not [s for s in summary.scores if s.boundary == "node"]


def test_study_node_and_layout_slices_appear_only_where_runs_differ(tmp_path):
    from joulebench.formats import Provenance

    imported = Provenance(source="a study", citation="A. Author, 2024", study="some-study")
    records = [make_record(f"w{i}", truth={"gpu": 100.0}, provenance=imported if i % 2 else None) for i in range(4)]
    folder = write_records(tmp_path / "results", records)
    summary = score_runs(folder, resamples=FAST)
    studies = {s.slice_value for s in summary.scores if s.slice == "study"}
    assert studies == {"joulebench", "some-study"}
    assert not [s for s in summary.scores if s.slice in ("nodes", "ranks", "parallel")]  # one value each: nothing to add

"""The site and `joulebench score --format json` agree by construction: the same numbers, estimator by estimator,
boundary by boundary, slice by slice, on the committed results and on test records with submissions.

The site is built from the scorer's summary only; these tests read the pages as a visitor does (the HTML) and
compare every number with the summary the command line prints, formatted as the site formats it.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from joulebench.board import format as fmt
from joulebench.board import slug
from joulebench.cli import main
from joulebench.formats import ScoreSummary
from tests.doubles.records import write_records
from tests.test_submissions import estimates_csv, manifest, records, write_submission

ROOT = Path(__file__).resolve().parent.parent
RESAMPLES = "100"


class Tables(HTMLParser):
    """Every table with an id: its body rows as lists of whitespace-normalised cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tbody" and self._table:
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(path: Path) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tables


def with_ci(value, interval, signed=False) -> str:
    return f"{(fmt.signed_pct if signed else fmt.pct)(value)} {fmt.ci(interval)}".strip()


def coverage(s) -> str:
    return "–" if s.coverage is None else f"{fmt.pct(s.coverage * 100)}% ({s.n}/{s.n_truth})"


def slice_row(s) -> list[str]:
    return [s.slice, s.slice_value, fmt.rank(s), with_ci(s.mape_pct, s.mape_ci_pct),
            with_ci(s.signed_mean_error_pct, s.signed_mean_error_ci_pct, signed=True), coverage(s), str(s.n),
            str(s.n_workloads), fmt.pct(s.median_ape_pct), fmt.pct(s.p90_ape_pct), fmt.pct(s.max_ape_pct)]


def assert_site_shows_the_summary(site: Path, summary: ScoreSummary) -> int:
    """Every score of every estimator, boundary and slice is on its page with the summary's numbers; returns how many."""
    assert ScoreSummary.model_validate_json((site / "data" / "scores.json").read_text()) == summary
    compared = 0
    index = tables(site / "index.html")
    by_key: dict[str, list] = {}
    for s in summary.scores:
        by_key.setdefault(f"{s.estimator_id}@{s.estimator_version}", []).append(s)
    truth_at = {b: n for b, n in summary.runs.truth_runs.items()}
    for e in summary.estimators:
        key = f"{e.id}@{e.version}"
        page = site / "estimators" / f"{slug(key)}.html"
        if not e.available:
            if e.submission is not None:
                assert "Not scored here:" in page.read_text(encoding="utf-8")
            continue
        shown = tables(page)
        for b in e.boundaries:
            mine = [s for s in by_key.get(key, []) if s.boundary == b]
            overall = next(s for s in mine if s.slice == "all")
            if overall.n_truth == 0:
                assert f"slices-{b}" not in shown
                continue
            assert shown[f"slices-{b}"] == [slice_row(s) for s in mine], f"{key} at {b}"
            compared += len(mine)
            rows = [r for r in index[f"ranking-{b}"] if r[1].split()[:2] == [e.id, e.version]]
            assert len(rows) == 1, f"{key} is not ranked once at {b}"
            assert rows[0][0] == fmt.rank(overall) and rows[0][3:] == [
                with_ci(overall.mape_pct, overall.mape_ci_pct),
                with_ci(overall.signed_mean_error_pct, overall.signed_mean_error_ci_pct, signed=True),
                coverage(overall), str(overall.n), str(overall.n_workloads)]
        if e.submission is not None and e.submission.out_of_sample:
            expected = [[s.boundary, str(s.n), str(s.n_workloads), with_ci(s.mape_pct, s.mape_ci_pct),
                         with_ci(s.signed_mean_error_pct, s.signed_mean_error_ci_pct, signed=True), coverage(s)]
                        for s in e.submission.out_of_sample if s.n_truth]
            assert shown["out-of-sample"] == expected
    # Nothing on the index ranks that the summary does not score.
    for b in truth_at:
        ranked = {tuple(r[1].split()[:2]) for r in index.get(f"ranking-{b}", [])}
        assert ranked == {(s.estimator_id, s.estimator_version) for s in summary.scores
                          if s.boundary == b and s.slice == "all"} or not ranked
    return compared


def score_json(capsys, *argv: str) -> ScoreSummary:
    assert main(["score", "--format", "json", "--resamples", RESAMPLES, *argv]) == 0
    return ScoreSummary.model_validate_json(capsys.readouterr().out)


def test_the_site_shows_what_score_prints_with_submissions(tmp_path, capsys, monkeypatch):
    recs = records()
    write_records(tmp_path / "results", recs)
    rows = [("tenpct", "0.2", r.run_id, "gpu", r.truth_j("gpu") * (1.1 if r.site == "lab-a" else 0.7)) for r in recs]
    fit = [{"description": "lab-b", "runs": {"site": "^lab-b$"}}]
    write_submission(tmp_path / "submissions", "tenpct", manifest("tenpct", fitted_on=fit),
                     {"estimates.csv": estimates_csv(rows)})
    node_rows = [("nodey", "3", r.run_id, "node", r.truth_j("node") * 0.9) for r in recs[::2]]
    write_submission(tmp_path / "submissions", "nodey", manifest("nodey", version="3", boundaries=["node"]),
                     {"estimates.csv": estimates_csv(node_rows)})
    monkeypatch.chdir(tmp_path)
    summary = score_json(capsys, "--runs", "results")
    assert main(["leaderboard", "build", "--runs", "results", "--out", "site", "--resamples", RESAMPLES]) == 0
    compared = assert_site_shows_the_summary(tmp_path / "site", summary)
    assert compared > 50
    assert {e.id for e in summary.estimators if e.submission} == {"tenpct", "nodey"}


def test_the_site_shows_what_score_prints_on_the_committed_results(tmp_path, capsys, monkeypatch):
    """`make leaderboard` and `joulebench score` on the repository's results/ and submissions/."""
    monkeypatch.chdir(ROOT)
    has_runs = any(p.suffix == ".json" and not p.name.startswith("_") and p.name != "certificate.json"
                   for p in (ROOT / "results").rglob("*.json"))
    code = main(["leaderboard", "build", "--runs", "results", "--out", str(tmp_path / "site"), "--resamples", RESAMPLES])
    assert code == 0
    if not has_runs:
        assert main(["score", "--runs", "results", "--format", "json"]) == 2
        assert "no runs in results" in capsys.readouterr().err
        assert "No runs yet" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
        return
    capsys.readouterr()
    summary = score_json(capsys, "--runs", "results")
    assert assert_site_shows_the_summary(tmp_path / "site", summary) > 0


def test_the_built_site_carries_the_summary_the_leaderboard_used(tmp_path, capsys):
    """data/scores.json is the summary, byte for byte what `score --format json` describes (parsed equal)."""
    recs = records()
    runs = write_records(tmp_path / "results", recs)
    summary = score_json(capsys, "--runs", str(runs), "--no-submissions")
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--resamples", RESAMPLES,
                 "--no-submissions"]) == 0
    assert json.loads((tmp_path / "site" / "data" / "scores.json").read_text()) == json.loads(summary.model_dump_json())
    assert_site_shows_the_summary(tmp_path / "site", summary)


@pytest.mark.parametrize("dimension", ["profile", "task", "size"])
def test_every_slice_dimension_is_on_the_pages(tmp_path, capsys, dimension):
    recs = records()
    runs = write_records(tmp_path / "results", recs)
    assert main(["leaderboard", "build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--resamples", "20"]) == 0
    (found,) = (tmp_path / "site" / "estimators").glob("green-algorithms-*.html")
    page = tables(found)
    assert any(row[0] == dimension for row in page["slices-gpu"])
    assert re.search(r"\d", " ".join(" ".join(r) for r in page["worst-gpu"]))

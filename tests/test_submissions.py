"""The submissions registry: submissions/<id>/submission.yaml from a folder to a ranked row with its badge, and back.

Every energy here comes from the test-double record factory; the estimates files are written by the tests.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from joulebench.board import SITE_MARKER, slug
from joulebench.cli import main
from joulebench.formats import SCHEMAS, Provenance, SubmissionManifest
from joulebench.scoring import score_records
from joulebench.scoring.sandbox import ImageUnavailable
from joulebench.scoring.submissions import check_folder, read_registry
from tests.doubles.plugins import installed_plugin
from tests.doubles.records import make_profile, make_record, write_records

RESAMPLES = "100"
WORKLOADS = [("resnet50-train", "vision", "train", 25_557_032, 5000.0),
             ("bert-infer", "language", "infer", 110_000_000, 1200.0),
             ("llama-gen", "language", "generate", 1_300_000_000, 800.0)]


def records():
    out = []
    for site, profile in (("lab-a", make_profile("test-gpu")), ("lab-b", make_profile("test-gpu-2", accelerator_tdp_w=400.0))):
        provenance = Provenance(source="Test Study 2026", citation="A. Tester 2026") if site == "lab-b" else None
        for workload_id, domain, task, params, gpu_j in WORKLOADS:
            for repeat in (1, 2):
                truth = gpu_j * (1 + 0.01 * repeat)
                out.append(make_record(workload_id, domain=domain, task=task, params=params, site=site, profile=profile,
                                       repeat=repeat, truth={"gpu": truth, "node": truth * 1.7}, provenance=provenance))
    return out


def manifest(sid: str, **overrides) -> dict:
    data = {
        "schema_version": 1, "id": sid, "name": f"The {sid} estimator", "version": "0.2", "authors": ["A. Author"],
        "licence": "MIT", "source_url": f"https://example.org/{sid}", "boundaries": ["gpu"], "kind": "estimates",
        "estimates": {"file": "estimates.csv"}, "reproduce": "python make_estimates.py > estimates.csv",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def estimates_csv(rows) -> str:
    return "estimator_id,estimator_version,run_id,boundary,energy_j\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


def write_submission(root: Path, folder: str, data: dict, files: dict[str, str] | None = None) -> Path:
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "submission.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


@pytest.fixture
def world(tmp_path):
    """results/ and submissions/ side by side, as in a checkout; one valid estimates submission at 1.1x."""
    recs = records()
    runs = write_records(tmp_path / "results", recs)
    subs = tmp_path / "submissions"
    rows = [("tenpct", "0.2", r.run_id, "gpu", r.truth_j("gpu") * 1.1) for r in recs]
    write_submission(subs, "tenpct", manifest("tenpct"), {"estimates.csv": estimates_csv(rows)})
    return tmp_path, runs, subs, recs


def build(runs: Path, out: Path, *extra: str) -> int:
    return main(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--resamples", RESAMPLES, *extra])


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def ranking_rows(index: str, boundary: str) -> list[str]:
    table = re.search(rf'<table class="ranking sortable" id="ranking-{boundary}">(.*?)</table>', index, re.S)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1).split("<tbody>")[1], re.S) if table else []


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


# --------------------------------------------------------------------------- the format


def test_the_manifest_has_a_schema_and_a_kind_needs_its_section(capsys):
    assert SCHEMAS["submission"] is SubmissionManifest
    assert main(["schema", "submission"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"licence", "source_url", "boundaries", "kind", "reproduce", "fitted_on"} <= set(schema["properties"])
    with pytest.raises(ValueError, match="kind 'image' needs an 'image' section"):
        SubmissionManifest.model_validate(manifest("x", kind="image"))


# --------------------------------------------------------------------------- onto the site, and off it


def test_a_submission_appears_ranked_with_provenance_and_badge_and_removing_it_removes_it(world):
    root, runs, subs, _ = world
    assert build(runs, root / "site", "--submissions", str(subs)) == 0
    index = text(root / "site" / "index.html")
    gpu = ranking_rows(index, "gpu")
    first = gpu[0]
    assert "tenpct</a>" in first and ">1</td>" in first and "<strong>10.0</strong>" in first  # 1.1x: MAPE 10%
    assert 'badge-self-reported' in first
    assert 'id="submissions-table"' in index and "https://example.org/tenpct" in index and "MIT" in index
    page = text(root / "site" / "estimators" / f"{slug('tenpct@0.2')}.html")
    for fragment in ("A. Author", "MIT", "https://example.org/tenpct", "python make_estimates.py &gt; estimates.csv",
                     "self reported", "an estimates file made by its authors (estimates.csv)"):
        assert fragment in page, fragment
    scores = json.loads(text(root / "site" / "data" / "scores.json"))
    (entry,) = [e for e in scores["estimators"] if e["id"] == "tenpct"]
    assert entry["submission"]["badge"] == "self-reported" and entry["submission"]["licence"] == "MIT"

    for p in sorted((subs / "tenpct").iterdir()):
        p.unlink()
    (subs / "tenpct").rmdir()
    assert build(runs, root / "site", "--submissions", str(subs)) == 0
    index = text(root / "site" / "index.html")
    assert "tenpct" not in index and 'id="submissions-table"' not in index
    assert not (root / "site" / "estimators" / f"{slug('tenpct@0.2')}.html").exists()


def test_score_and_the_site_take_the_submissions_folder_beside_the_runs_by_default(world, capsys, monkeypatch):
    root, runs, _, _ = world
    monkeypatch.chdir(root)
    assert main(["score", "--runs", "results", "--format", "json", "--resamples", RESAMPLES]) == 0
    summary = json.loads(capsys.readouterr().out)
    (entry,) = [e for e in summary["estimators"] if e["id"] == "tenpct"]
    assert entry["submission"]["folder"] == "submissions/tenpct"  # as the user would write it, in any checkout
    assert main(["score", "--runs", "results", "--format", "json", "--resamples", RESAMPLES, "--no-submissions"]) == 0
    assert "tenpct" not in capsys.readouterr().out
    assert build(Path("results"), root / "site") == 0
    assert "tenpct</a>" in text(root / "site" / "index.html")
    assert main(["score", "--runs", "results", "--resamples", RESAMPLES]) == 0
    table = capsys.readouterr().out
    assert "submission tenpct 0.2 (estimates): self reported" in table


# --------------------------------------------------------------------------- what is refused, everywhere, with nothing written


def bad(root: Path, recs) -> dict[str, tuple[list[tuple[str, dict, dict]], list[str]]]:
    run = recs[0].run_id
    good_rows = estimates_csv([("x", "0.2", run, "gpu", 1.0)])
    return {
        "manifest fields": ([("x", {**manifest("x", licence=None), "licnse": "MIT"}, {"estimates.csv": good_rows})],
                            ["submissions/x/submission.yaml", "field 'licence': required field is missing",
                             "field 'licnse': unknown field"]),
        "folder name": ([("x", manifest("y"), {"estimates.csv": good_rows})],
                        ["field 'id': expected the folder's name 'x', got 'y'"]),
        "duplicate id": ([("x", manifest("x"), {"estimates.csv": good_rows}),
                          ("z", manifest("x"), {"estimates.csv": good_rows})],
                         ["submissions/z/submission.yaml: field 'id'", "is also the id of"]),
        "built-in id": ([("mlco2", manifest("mlco2"), {"estimates.csv": estimates_csv([("mlco2", "0.2", run, "gpu", 1.0)])})],
                        ["field 'id': 'mlco2' is a built-in estimator's id"]),
        "unknown run": ([("x", manifest("x"), {"estimates.csv": estimates_csv([("x", "0.2", run + "-typo", "gpu", 1.0)])})],
                        ["estimates.csv: line 2: field 'run_id': unknown run", "did you mean"]),
        "claimed boundary never answered": ([("x", manifest("x", boundaries=["gpu", "node"]), {"estimates.csv": good_rows})],
                                            ["claims boundary 'node'", "has no estimate at it"]),
        "another estimator's rows": ([("x", manifest("x"), {"estimates.csv": estimates_csv([("w", "9", run, "cpu", 1.0)])})],
                                     ["field 'estimator_id': expected 'x'", "field 'estimator_version': expected '0.2'",
                                      "field 'boundary': 'cpu' is not a boundary the manifest claims"]),
        "missing file": ([("x", manifest("x"), {})], ["field 'estimates.file': no file 'estimates.csv'"]),
        "path outside": ([("x", manifest("x", estimates={"file": "../results.csv"}), {})],
                         ["field 'estimates.file'", "inside the submission folder"]),
        "package not pinned": ([("x", manifest("x", kind="package", estimates=None,
                                               package={"distribution": "x-est", "estimator": "static"}),
                                 {"pyproject.toml": '[project]\nname = "x-est"\nversion = "1"\n'
                                                    'dependencies = ["numpy>=1.0"]\n'})],
                               ["field 'project.entry-points.\"joulebench.estimators\"': expected an entry named 'x'",
                                "'numpy>=1.0' is not pinned"]),
    }


CASES = ["manifest fields", "folder name", "duplicate id", "built-in id", "unknown run", "claimed boundary never answered",
         "another estimator's rows", "missing file", "path outside", "package not pinned"]


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_submission_is_refused_by_check_score_and_build_with_nothing_written(tmp_path, case, capsys,
                                                                                         monkeypatch):
    recs = records()
    write_records(tmp_path / "results", recs)
    folders, expected = bad(tmp_path, recs)[case]
    for folder, data, files in folders:
        write_submission(tmp_path / "submissions", folder, data, files)
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)

    for folder, _, _ in folders[-1:]:
        assert main(["submit", "check", f"submissions/{folder}", "--runs", "results"]) == 2
        out = capsys.readouterr().out
        for fragment in expected:
            assert fragment in out, (fragment, out)
        assert "Traceback" not in out
    assert tree(tmp_path) == before  # submit check wrote nothing at all

    assert main(["score", "--runs", "results", "--resamples", RESAMPLES]) == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err, (fragment, err)
    assert "nothing was scored or built" in err or "nothing was scored" in err

    assert build(Path("results"), tmp_path / "site") == 2
    err = capsys.readouterr().err
    assert expected[0] in err
    assert not (tmp_path / "site").exists()
    assert tree(tmp_path) == before


def test_every_problem_is_listed_at_once(tmp_path, capsys):
    recs = records()
    write_records(tmp_path / "results", recs)
    write_submission(tmp_path / "submissions", "x", {**manifest("x", licence=None, boundaries=["gpu", "gpu"]),
                                                     "source_url": "ftp://nope"}, {})
    write_submission(tmp_path / "submissions", "mlco2", manifest("mlco2"), {})
    with pytest.raises(Exception) as caught:
        read_registry(tmp_path / "submissions")
    message = str(caught.value)
    for fragment in ("field 'licence'", "field 'boundaries'", "field 'source_url'", "'mlco2' is a built-in",
                     "mlco2/submission.yaml: field 'estimates.file'"):
        assert fragment in message, fragment


def test_a_broken_submission_leaves_the_previous_site_untouched(world, capsys):
    root, runs, subs, _ = world
    assert build(runs, root / "site", "--submissions", str(subs)) == 0
    before = text(root / "site" / "index.html")
    write_submission(subs, "mlco2", manifest("mlco2"), {"estimates.csv": "estimator_id\n"})
    assert build(runs, root / "site", "--submissions", str(subs)) == 2
    assert "a built-in estimator's id" in capsys.readouterr().err
    assert text(root / "site" / "index.html") == before
    assert (root / "site" / SITE_MARKER).is_file()
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_a_bad_manifest_is_an_error_even_without_runs(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    write_submission(tmp_path / "submissions", "x", manifest("x", kind="image"), {})
    assert build(tmp_path / "results", tmp_path / "site", "--submissions", str(tmp_path / "submissions")) == 2
    assert "kind 'image' needs an 'image' section" in capsys.readouterr().err


# --------------------------------------------------------------------------- submit check


def test_submit_check_tells_coverage_and_badge(world, capsys, monkeypatch):
    root, runs, subs, recs = world
    rows = [("part", "1", r.run_id, "gpu", 100.0) for r in recs[:3]]
    write_submission(subs, "part", manifest("part", version="1"), {"estimates.csv": estimates_csv(rows)})
    monkeypatch.chdir(root)
    assert main(["submit", "check", "submissions/part"]) == 0
    out = capsys.readouterr().out
    assert "badge: self reported" in out
    assert f"coverage at gpu: answers 3 of the {len(recs)} runs metered there; not covered: " in out
    assert "no problems found" in out


def test_submit_check_without_runs_says_what_it_could_not_check(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    write_submission(tmp_path / "submissions", "x", manifest("x"),
                     {"estimates.csv": estimates_csv([("x", "0.2", "any-run", "gpu", 1.0)])})
    assert main(["submit", "check", str(tmp_path / "submissions" / "x"), "--runs", str(tmp_path / "results")]) == 0
    assert "the runs it covers were not checked" in capsys.readouterr().err


def test_submit_check_refuses_a_folder_that_does_not_exist(tmp_path, capsys):
    assert main(["submit", "check", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


# --------------------------------------------------------------------------- packages and images


PLUGIN = '''
from joulebench.estimators import StaticEstimator


class Quarter(StaticEstimator):
    """Quarter TDP: a quarter of the accelerator TDP x duration (a test double, not a method)."""

    id = "quarter-tdp"
    version = "0.1"
    boundaries = ("gpu",)

    def estimate(self, facts):
        return {"gpu": 0.25 * facts.profile.accelerator.tdp_w * facts.duration_s}
'''

PYPROJECT = '''[project]
name = "quarter-plugin"
version = "0.1"
dependencies = ["joulebench"]

[project.entry-points."joulebench.estimators"]
quarter-tdp = "quarter_plugin:Quarter"
'''


def package_manifest(**overrides) -> dict:
    return manifest("quarter-tdp", version="0.1", kind="package", estimates=None,
                    package={"distribution": "quarter-plugin", "estimator": "static"}, **overrides)


def test_a_package_that_is_not_installed_is_listed_as_not_reproduced_with_the_reason(world):
    root, runs, subs, _ = world
    write_submission(subs, "quarter-tdp", package_manifest(), {"pyproject.toml": PYPROJECT})
    assert build(runs, root / "site", "--submissions", str(subs)) == 0
    index = text(root / "site" / "index.html")
    assert "quarter-tdp" not in "".join(ranking_rows(index, "gpu"))
    not_scored = index.split('id="not-scored"')[1]
    assert "quarter-tdp</a>" in not_scored and "package quarter-plugin is not installed here" in not_scored
    page = text(root / "site" / "estimators" / f"{slug('quarter-tdp@0.1')}.html")
    assert "Not scored here:" in page and "not reproduced" in page


def test_an_installed_package_is_run_by_the_scorer_and_reproduced(world, tmp_path):
    root, runs, subs, recs = world
    write_submission(subs, "quarter-tdp", package_manifest(), {"pyproject.toml": PYPROJECT})
    with installed_plugin(tmp_path / "plugin", "quarter-plugin", {"quarter-tdp": "quarter_plugin:Quarter"},
                          {"quarter_plugin": PLUGIN}):
        summary = score_records(recs, submissions_dir=subs, resamples=50)
        report = check_folder(subs / "quarter-tdp", runs)
    (entry,) = [e for e in summary.estimators if e.id == "quarter-tdp"]
    assert entry.available and entry.source == "static" and entry.submission.badge == "reproduced"
    assert "ran quarter-plugin 0.1" in entry.submission.badge_reason
    (score,) = [s for s in summary.scores if s.estimator_id == "quarter-tdp" and s.slice == "all" and s.boundary == "gpu"]
    assert score.n == len(recs) and score.rank is not None
    assert report.problems == [] and report.badge == "reproduced"
    assert report.coverage == [("gpu", len(recs), len(recs), [])]


def test_an_installed_plugin_outside_the_registry_is_not_scored_and_a_note_says_so(world, tmp_path):
    _, _, subs, recs = world
    with installed_plugin(tmp_path / "plugin", "quarter-plugin", {"quarter-tdp": "quarter_plugin:Quarter"},
                          {"quarter_plugin": PLUGIN}):
        summary = score_records(recs, submissions_dir=subs, resamples=50)
        without = score_records(recs, resamples=50)
    assert "quarter-tdp" not in {e.id for e in summary.estimators}
    assert any("quarter-tdp" in p and "not scored" in p for p in summary.problems)
    assert "quarter-tdp" in {e.id for e in without.estimators}  # without a registry, installed plugins are scored


def test_an_image_without_a_docker_engine_is_listed_as_not_reproduced_here(world):
    root, runs, subs, recs = world
    write_submission(subs, "img", manifest("img", kind="image", estimates=None, image={"dockerfile": "Dockerfile"}),
                     {"Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"})

    def no_engine():
        raise ImageUnavailable("cannot reach the Docker engine (test)")

    summary = score_records(recs, submissions_dir=subs, resamples=50, docker=no_engine)
    (entry,) = [e for e in summary.estimators if e.id == "img"]
    assert not entry.available and entry.submission.badge == "not-reproduced"
    assert entry.reason == "not reproduced here: cannot reach the Docker engine (test)"


def test_an_image_whose_dockerfile_has_no_from_line_is_refused(world, capsys):
    root, runs, subs, _ = world
    write_submission(subs, "img", manifest("img", kind="image", estimates=None, image={"dockerfile": "Dockerfile"}),
                     {"Dockerfile": "RUN true\n"})
    assert main(["submit", "check", str(subs / "img"), "--runs", str(runs)]) == 2
    assert "no FROM line" in capsys.readouterr().out


# --------------------------------------------------------------------------- what the author sees on the page


def test_fitted_on_flags_in_sample_runs_and_scores_without_them(world):
    root, runs, subs, recs = world
    # Perfect on the study it was "fitted" on (lab-b), 20% high elsewhere.
    rows = [("fitted", "1", r.run_id, "gpu", r.truth_j("gpu") * (1.0 if r.site == "lab-b" else 1.2)) for r in recs]
    fit = [{"description": "Test Study 2026, every run", "runs": {"study": "Test Study"}}]
    write_submission(subs, "fitted", manifest("fitted", version="1", fitted_on=fit), {"estimates.csv": estimates_csv(rows)})
    assert build(runs, root / "site", "--submissions", str(subs)) == 0
    scores = json.loads(text(root / "site" / "data" / "scores.json"))
    (entry,) = [e for e in scores["estimators"] if e["id"] == "fitted"]
    assert entry["submission"]["fitted_on"][0]["n_runs"] == 6
    (oos,) = [s for s in entry["submission"]["out_of_sample"] if s["boundary"] == "gpu"]
    assert oos["n"] == 6 and oos["mape_pct"] == pytest.approx(20.0) and oos["rank"] is None
    page = text(root / "site" / "estimators" / f"{slug('fitted@1')}.html")
    assert f"6 of the {len(recs)} runs scored here are in that data" in page and 'id="out-of-sample"' in page
    assert "in-sample on 6 runs" in "".join(ranking_rows(text(root / "site" / "index.html"), "gpu"))


def test_the_page_shows_where_it_fails_and_how_it_moved(world, capsys):
    root, runs, subs, recs = world
    assert build(runs, root / "before", "--submissions", str(subs)) == 0
    page_name = f"{slug('tenpct@0.2')}.html"
    first = text(root / "before" / "estimators" / page_name)
    assert "No previous suite version's scores were given to this build" in first
    # Now it is right on lab-a and 50% high on lab-b: lab-b is where it fails.
    rows = [("tenpct", "0.2", r.run_id, "gpu", r.truth_j("gpu") * (1.5 if r.site == "lab-b" else 1.0)) for r in recs]
    (subs / "tenpct" / "estimates.csv").write_text(estimates_csv(rows))
    assert build(runs, root / "after", "--submissions", str(subs), "--previous",
                 str(root / "before" / "data" / "scores.json")) == 0
    page = text(root / "after" / "estimators" / page_name)
    worst = re.search(r'<table class="sortable" id="worst-gpu">(.*?)</table>', page, re.S).group(1)
    first_row = re.findall(r"<tr>(.*?)</tr>", worst.split("<tbody>")[1], re.S)[0]
    assert "lab-b" in first_row or "test-gpu-2" in first_row
    assert "<strong>50.0</strong>" in first_row
    movement = re.search(r'id="movement-table">(.*?)</table>', page, re.S).group(1)
    # MAPE over all runs: 10.0 before, 25.0 now.
    assert re.search(r"<td>gpu</td><td>all</td><td>all</td>\s*<td class=\"num\">10.0 .*?</td>\s*<td class=\"num\">25.0 .*?"
                     r"<td class=\"num\"[^>]*>\+15.0</td>", movement, re.S)


def test_a_previous_summary_that_is_not_one_is_refused_naming_the_file(world, capsys):
    root, runs, subs, _ = world
    (root / "old.json").write_text('{"schema_version": 1}')
    assert build(runs, root / "site", "--previous", str(root / "old.json")) == 2
    err = capsys.readouterr().err
    assert "old.json" in err and "field 'suite_version': required field is missing" in err
    assert not (root / "site").exists()


def test_the_registry_is_read_only_from_folders_with_a_manifest(world):
    _, _, subs, _ = world
    (subs / "README.md").write_text("how to submit")
    (subs / ".hidden").mkdir()
    (subs / "_drafts").mkdir()
    assert read_registry(subs).ids() == ["tenpct"]
    os.makedirs(subs / "empty")
    with pytest.raises(Exception, match="no submission.yaml"):
        read_registry(subs)

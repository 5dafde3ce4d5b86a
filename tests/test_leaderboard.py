"""The static leaderboard: pages from test records, determinism, the empty case, hostile text, and real Chromium.

Every energy here comes from the test (tests/doubles/records.py); the site
built from it exists only under tmp_path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from joulebench.board import SITE_MARKER, markdown_html, slug
from joulebench.board.plots import histogram, scatter_loglog
from joulebench.cli import main
from joulebench.formats import Provenance
from tests.browser import Chromium, find_chromium
from tests.doubles.certificates import keys_file_for, unchecked_certificate
from tests.doubles.records import (
    live_estimate,
    make_profile,
    make_record,
    write_records,
)

XSS = "<script>alert(1)</script>"
# Ids are patterns now (a script tag is refused as an id); an odd but valid one still needs a working page.
ODD = "x.y_z-2"
WORKLOADS = [
    ("resnet50-train", "vision", "train", 25_557_032, 5000.0),
    ("bert-infer", "language", "infer", 110_000_000, 1200.0),
    ("llama-gen", "language", "generate", 1_300_000_000, 800.0),
]


def test_records(imported_site: str | None = None):
    """Two sites x three workloads x three repeats; live outputs made up here: codecarbon at 0.98x (gpu) and
    1.2x (node), a twin that answers exactly as it does on gpu, and an estimator with an odd id at 1.5x. The
    imported site's provenance note is a script tag (free text: shown as text)."""
    records = []
    for site, profile_id in (("lab-a", "test-gpu"), ("lab-b", "test-gpu-2")):
        provenance = None
        if site == imported_site:
            provenance = Provenance(source="Test Study 2026", citation="A. Tester, 'A test study', 2026",
                                    repository="https://example.invalid/study", files=["results/a.csv"], commit="abc1234",
                                    note=XSS)
        for workload_id, domain, task, params, gpu_j in WORKLOADS:
            for repeat in (1, 2, 3):
                truth = gpu_j * (1 + 0.01 * repeat)
                # A device the mlco2 table lists (400 W there; 700 W declared), so every static estimator answers.
                profile = make_profile(profile_id, accelerator_model="A100 SXM4 80GB")
                records.append(make_record(
                    workload_id, domain=domain, task=task, params=params, site=site, profile=profile,
                    repeat=repeat, truth={"gpu": truth, "node": truth * 1.7}, gpu_util_pct=80.0, cpu_util_pct=20.0,
                    provenance=provenance,
                    live=[live_estimate("codecarbon", "gpu", truth * 0.98, version="3.3.2"),
                          live_estimate("codecarbon", "node", truth * 1.2, version="3.3.2"),
                          live_estimate("codecarbon-twin", "gpu", truth * 0.98),  # same answers: a tie
                          live_estimate(ODD, "gpu", truth * 1.5)],
                ))  # fmt: skip
    return records


test_records.__test__ = False  # a helper, not a test


def build(runs: Path, out: Path, *extra: str) -> int:
    keys = keys_file_for(runs)
    trusted = ["--trusted-keys", str(keys)] if keys.exists() else []
    return main(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--resamples", "200", *trusted, *extra])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard")
    runs = write_records(root / "results", test_records(imported_site="lab-b"))
    unchecked_certificate(runs, next(r for r in test_records() if r.site == "lab-a"), "A", ["gpu", "node"])
    (runs / "lab-b" / "_import-teststudy.json").write_text(json.dumps(
        {"importer": "teststudy", "runs_seen": 11, "imported": ["x"] * 9, "skipped_by_reason": {"reading missing": 2}}))
    # An empty submissions registry: the built-ins and the live outputs only, whatever plugins this venv holds
    # (`make leaderboard` installs the package submissions into the same venv as the tests).
    (root / "submissions").mkdir()
    assert build(runs, root / "site", "--submissions", str(root / "submissions")) == 0
    return root / "site"


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


# --------------------------------------------------------------------------- content


def test_every_kind_of_page_is_built(site):
    names = {p.relative_to(site).as_posix() for p in pages(site)}
    assert {"index.html", "workloads.html", "methodology.html", "cite.html"} <= names
    # mlco2, green-algorithms, flops, codecarbon, codecarbon-twin, the odd id
    assert sum(n.startswith("estimators/") for n in names) == 6
    assert sum(n.startswith("workloads/") for n in names) == 3
    assert sum(n.startswith("sites/") for n in names) == 2
    assert (site / "static" / "style.css").is_file() and (site / "static" / "sort.js").is_file()
    assert (site / SITE_MARKER).is_file()


def _ranking_rows(index_html: str, boundary: str) -> list[str]:
    table = re.search(rf'<table class="ranking sortable" id="ranking-{boundary}">(.*?)</table>', index_html, re.S)
    assert table, f"no ranking table for {boundary}"
    return re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1).split("<tbody>")[1], re.S)


def test_index_ranks_with_the_scorers_numbers(site):
    index = text(site / "index.html")
    gpu = _ranking_rows(index, "gpu")
    # The live outputs are 0.98x and 1.5x the truth: MAPE 2.0% and 50.0%, biases -2.0% and +50.0%.
    # codecarbon and its twin answer alike: tied at rank 1 (the twin's id sorts first).
    assert "codecarbon-twin</a>" in gpu[0] and ">1</td>" in gpu[0]
    assert "codecarbon</a>" in gpu[1] and ">=1</td>" in gpu[1] and 'class="tied"' not in gpu[1]
    for row in gpu[:2]:
        assert "<strong>2.0</strong>" in row and ">-2.0 " in row
    assert f">{ODD}</a>" in gpu[2] and "<strong>50.0</strong>" in gpu[2] and "+50.0" in gpu[2]
    assert "100.0% <span" in gpu[0] and "(18/18)" in gpu[0]
    node = _ranking_rows(index, "node")
    (codecarbon,) = [row for row in node if "codecarbon</a>" in row]
    assert "<strong>29.4</strong>" in codecarbon  # 1.2 / 1.7 - 1 = -29.4%
    # Every estimator is scored at node on the total it reports: those with only a GPU figure too.
    (odd,) = [row for row in node if f">{ODD}</a>" in row]
    assert "total of its gpu figure" in odd
    # cpu and dram have no meter in these runs: said, not scored.
    assert 'id="ranking-cpu"' not in index
    assert "No metered truth at this boundary" in index
    assert "joulebench-0.1.0" in index


def test_ties_are_marked(site):
    summary = json.loads(text(site / "data" / "scores.json"))
    tied = [s for s in summary["scores"] if s["slice"] == "all" and s["tied_with_previous"]]
    assert tied, "the test data should produce at least one tie"
    index = text(site / "index.html")
    for s in tied:
        rows = _ranking_rows(index, s["boundary"])
        row = next(r for r in rows if f">{s['estimator_id']}</a>" in r)
        assert f">={s['rank']}</td>" in row


def test_sites_show_tier_certificate_and_provenance(site):
    index = text(site / "index.html")
    assert re.search(r'lab-a</a></td>\s*<td data-sort="0"><span class="tier tier-A">tier A</span>', index)
    assert re.search(r'lab-b</a></td>\s*<td data-sort="3"><span class="tier tier-uncertified">', index)
    lab_a = text(site / "sites" / f"{slug('lab-a')}.html")
    assert "It verifies against the trusted keys: signed by trusted key test-key" in lab_a and "tier A" in lab_a
    lab_b = text(site / "sites" / f"{slug('lab-b')}.html")
    assert "Test Study 2026" in lab_b and "A. Tester, &#39;A test study&#39;, 2026" in lab_b
    assert "saw 11 runs and imported 9" in lab_b and "2 (reading missing)" in lab_b
    assert "No certificate" in lab_b
    assert lab_b.count('<td class="id">') == 9  # its runs


def test_workload_page_has_spec_energy_cv_and_errors(site):
    page = text(site / "workloads" / f"{slug('test-v1/resnet50-train')}.html")
    assert "25,557,032" in page and "resnet50" in page and "spec sha256" in page
    # Repeats at 1.01, 1.02, 1.03 x 5000 J over 100 iterations: mean 51 J/iteration, CV 0.98%.
    assert "51 J" in page and ">1.0</td>" in page
    assert "codecarbon</a>" in page and "2.0" in page


def test_estimator_page_has_slices_workloads_and_charts(site):
    page = text(site / "estimators" / f"{slug('codecarbon@3.3.2')}.html")
    assert page.count("<svg") == 4  # gpu and node: a scatter and a histogram each
    assert "estimated vs metered energy" in page and "signed errors" in page
    for dimension in ("all", "domain", "task", "size", "profile", "site"):
        assert f"<td>{dimension}</td>" in page
    assert page.count(f'href="../workloads/{slug("test-v1/llama-gen")}.html"') == 2  # one per boundary


def test_methodology_explains_truth_metrics_formulas_and_tiers(site):
    page = text(site / "methodology.html")
    for needle in ("E<sub>total</sub> = E<sub>dynamic</sub> + E<sub>static</sub>", "idle power", "nvml-energy",
                   "MAPE", "bias", "0.3725", "TDP", "MFU", "Tier A: the whole machine", "<table><thead><tr><th>check</th>"):
        assert needle in page, needle


def test_cite_names_version_and_a_data_hash_anyone_can_check(site):
    page = text(site / "cite.html")
    manifest = (site / "data" / "inputs.sha256").read_bytes()
    data_sha = hashlib.sha256(manifest).hexdigest()
    assert "@misc{joulebench_0_1_0_" + data_sha[:8] in page
    assert f"data sha256 {data_sha}" in page
    assert "joulebench-0.1.0" in page
    listed = [line.split("  ", 1)[1] for line in manifest.decode().splitlines()]
    assert len([p for p in listed if p.endswith(".json") and "/_" not in p and "certificate" not in p]) == 18
    assert "lab-a/certificate.json" in listed and "lab-b/_import-teststudy.json" in listed
    for name in ("scores.csv", "scores.json", "runs.csv", "runs.json"):
        assert f'href="data/{name}"' in page and (site / "data" / name).stat().st_size > 0
    runs = list(csv.DictReader(io.StringIO(text(site / "data" / "runs.csv"))))
    assert len(runs) == 18 and {r["tier"] for r in runs} == {"A", "uncertified"}
    assert {r["tier_reason"] for r in runs if r["site"] == "lab-b"} == {"no certificate in lab-b/"}
    assert float(runs[0]["gpu_energy_j"]) > 0 and runs[0]["cpu_energy_j"] == ""
    runs_json = json.loads(text(site / "data" / "runs.json"))
    assert [r["run_id"] for r in runs_json] == sorted(r["run_id"] for r in runs)
    assert {e["estimator_id"] for r in runs_json for e in r["live_estimates"]} == {"codecarbon", "codecarbon-twin", ODD}
    scores = list(csv.DictReader(io.StringIO(text(site / "data" / "scores.csv"))))
    assert any(s["estimator_id"] == "codecarbon" and s["slice"] == "all" and s["boundary"] == "gpu"
               and abs(float(s["mape_pct"]) - 2.0) < 1e-9 for s in scores)


# --------------------------------------------------------------------------- safety and determinism


def test_script_text_is_shown_as_text_and_an_odd_id_gets_a_working_page(site):
    for page in pages(site):
        assert XSS not in text(page), page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(site / "sites" / f"{slug('lab-b')}.html")
    page = site / "estimators" / f"{slug(ODD + '@1.0')}.html"
    assert page.is_file()
    assert f"<h1>{ODD} <span" in text(page)
    for path in site.rglob("*"):
        assert re.fullmatch(r"[a-z0-9.-]+", path.name) or path.name == SITE_MARKER or path.name == "inputs.sha256", path


@pytest.mark.parametrize("ids", [["a", "A"], ["a b", "a-b"], ["..", "."], ["a/b", "a\\b"], ["", " "], ["é", "e"]])
def test_slugs_are_safe_file_names_and_distinct(ids):
    slugs = [slug(i) for i in ids]
    assert len(set(slugs)) == len(ids)
    for s in slugs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", s) and len(s) <= 60


def test_markdown_escapes_everything_it_does_not_make():
    html = str(markdown_html("## T <i>\n\n**<b>bold</b>** and `<code>` and <script>x</script>\n\n- item <u>"))
    assert "<h3>T &lt;i&gt;</h3>" in html
    assert "<strong>&lt;b&gt;bold&lt;/b&gt;</strong>" in html and "<code>&lt;code&gt;</code>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html and "<li>item &lt;u&gt;</li>" in html


def test_two_builds_are_byte_identical(site, tmp_path):
    runs = write_records(tmp_path / "results", test_records(imported_site="lab-b"))
    unchecked_certificate(runs, next(r for r in test_records() if r.site == "lab-a"), "A", ["gpu", "node"])
    (runs / "lab-b" / "_import-teststudy.json").write_text(json.dumps(
        {"importer": "teststudy", "runs_seen": 11, "imported": ["x"] * 9, "skipped_by_reason": {"reading missing": 2}}))
    (tmp_path / "submissions").mkdir()  # the same empty registry, found beside the runs this time
    # Another folder, another process, another string-hash seed: still the same bytes.
    code = ("import sys; from joulebench.cli import main; sys.exit(main(['leaderboard', 'build', '--runs', sys.argv[1], "
            "'--out', sys.argv[2], '--resamples', '200', '--trusted-keys', sys.argv[3]]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    # The same trusted keys as the fixture's build: the certificate in this copy is signed by another key.
    keys = keys_file_for(runs)
    keys.write_bytes(keys_file_for(site.parent / "results").read_bytes())
    lab_a = runs / "lab-a" / "certificate.json"
    lab_a.write_bytes((site.parent / "results" / "lab-a" / "certificate.json").read_bytes())
    subprocess.run([sys.executable, "-c", code, str(runs), str(tmp_path / "again"), str(keys)], check=True, env=env,
                   capture_output=True)
    first = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "again").as_posix(): p.read_bytes() for p in (tmp_path / "again").rglob("*") if p.is_file()}
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert not different


def test_a_rebuild_replaces_the_site_in_place(tmp_path):
    runs = write_records(tmp_path / "results", test_records()[:3])
    out = tmp_path / "site"
    assert build(runs, out) == 0
    (out / "stale.html").write_text("from an older build")
    assert build(runs, out) == 0
    assert not (out / "stale.html").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_empty_results_say_so_and_show_no_numbers(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert build(tmp_path / "results", tmp_path / "site") == 0
    assert "no runs to score" in capsys.readouterr().err
    index = text(tmp_path / "site" / "index.html")
    assert "No runs yet" in index and "nothing has been measured and nothing is ranked" in index
    main_part = index.split("<main>")[1].split("</main>")[0]
    assert "<table" not in main_part
    assert not re.search(r"\d+\.\d", main_part.replace("joulebench-0.1.0", "")), "the empty index shows a number"
    assert not (tmp_path / "site" / "estimators").exists()
    assert (tmp_path / "site" / "methodology.html").is_file() and (tmp_path / "site" / "cite.html").is_file()


def test_the_repositorys_results_folder_builds(tmp_path):
    """What `make leaderboard` builds: the committed results/, real runs or none."""
    results = Path(__file__).resolve().parent.parent / "results"
    assert build(results, tmp_path / "site") == 0
    index = text(tmp_path / "site" / "index.html")
    has_records = any(p.suffix == ".json" and not p.name.startswith("_") and p.name != "certificate.json"
                      for p in results.rglob("*.json"))
    assert ("No runs yet" in index) != has_records


def test_missing_runs_folder_is_an_input_error(tmp_path, capsys):
    assert build(tmp_path / "nowhere", tmp_path / "site") == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path, capsys):
    runs = write_records(tmp_path / "results", test_records()[:3])
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert build(runs, out) == 2
    assert SITE_MARKER in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_bad_record_leaves_the_previous_site_untouched(tmp_path, capsys):
    runs = write_records(tmp_path / "results", test_records()[:3])
    out = tmp_path / "site"
    assert build(runs, out) == 0
    before = text(out / "index.html")
    (runs / "lab-a" / "broken.json").write_text('{"run_id": 3}')
    assert build(runs, out) == 2
    assert "broken.json" in capsys.readouterr().err
    assert text(out / "index.html") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_min_tier_keeps_only_certified_sites(tmp_path):
    runs = write_records(tmp_path / "results", test_records())
    unchecked_certificate(runs, next(r for r in test_records() if r.site == "lab-a"), "C", ["gpu"])
    assert build(runs, tmp_path / "c", "--min-tier", "C") == 0
    index = text(tmp_path / "c" / "index.html")
    assert "9 runs of 3" in index and "Left out: 9 runs from lab-b (uncertified)" in index
    assert build(runs, tmp_path / "b", "--min-tier", "B") == 0
    assert "No runs yet" in text(tmp_path / "b" / "index.html")


def test_leaderboard_needs_no_torch(tmp_path):
    runs = write_records(tmp_path / "results", test_records()[:3])
    code = (
        "import sys; from joulebench.cli import main; "
        f"rc = main(['leaderboard', 'build', '--runs', {str(runs)!r}, '--out', {str(tmp_path / 'site')!r}, '--resamples', '20']); "
        "print(rc, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["0", "False"]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(text(path))
    return parser


def test_every_link_on_every_page_is_relative_and_resolves(site):
    ids = {p: _parse(p).ids for p in pages(site)}
    for page in pages(site):
        for link in _parse(page).links:
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, f"{page}: {link} leaves the site"
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page}: {link} -> {target} does not exist"
            assert site.resolve() in target.parents, f"{page}: {link} leaves the site folder"
            if parts.fragment:
                assert parts.fragment in ids[target], f"{page}: {link}: no id {parts.fragment!r} there"


def test_index_page_is_small(site):
    assert (site / "index.html").stat().st_size < 1_000_000


# --------------------------------------------------------------------------- charts


def test_scatter_draws_every_group_the_identity_line_and_counts_zero_estimates():
    truth = np.array([100.0, 1000.0, 10000.0, 500.0])
    estimate = np.array([120.0, 900.0, 0.0, 500.0])
    svg = str(scatter_loglog(truth, estimate, ["vision", "language", "vision", "vision"], "t <x>"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title>t &lt;x&gt;</title>" in svg
    assert "vision (2)" in svg and "language (1)" in svg  # the 0 J estimate has no place on a log axis
    assert "1 estimate(s) of 0 J not drawn" in svg
    assert svg.count("h0") == 3
    assert scatter_loglog(truth, estimate, ["vision"] * 4, "t") == scatter_loglog(truth, estimate, ["vision"] * 4, "t")


def test_histogram_counts_every_value_drawn_or_not():
    values = np.r_[np.zeros(50), np.full(50, 10.0), [5000.0]]
    svg = str(histogram(values, "h"))
    assert "101 runs" in svg and "1 above" in svg
    assert "no errors to count" in str(histogram(np.array([]), "h"))


# --------------------------------------------------------------------------- real Chromium

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("JOULEBENCH_REQUIRE_CHROMIUM"),
    reason="headless Chromium is not installed (Debian: apt-get install chromium); CI installs it",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    assert CHROMIUM is not None, "JOULEBENCH_REQUIRE_CHROMIUM is set but no chromium binary was found"
    chromium = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def _in_site(url: str, site: Path) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "file" and Path(unquote(parts.path)).resolve().is_relative_to(site.resolve())


@needs_chromium
def test_the_harness_sees_outside_requests_and_console_errors(browser, tmp_path):
    """Control: a page that reaches outside and logs an error must fail the checks below."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><title>c</title><img src="https://example.invalid/x.png">'
                    "<script>console.error('boom')</script>")
    load = browser.open(page.as_uri())
    assert any(url.startswith("https://example.invalid/") for url in load.requests)
    assert any("boom" in e for e in load.console_errors)


@needs_chromium
def test_pages_in_headless_chromium(site, browser, tmp_path):
    shots = Path(os.environ.get("JOULEBENCH_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    chosen = {
        "index": site / "index.html",
        "estimator": site / "estimators" / f"{slug(ODD + '@1.0')}.html",
        "workload": site / "workloads" / f"{slug('test-v1/llama-gen')}.html",
        "site": site / "sites" / f"{slug('lab-b')}.html",
        "methodology": site / "methodology.html",
        "cite": site / "cite.html",
        "workloads": site / "workloads.html",
    }
    for kind, path in chosen.items():
        load = browser.open(path.as_uri())
        assert load.console_errors == [], (kind, load.console_errors)
        assert load.dialogs == [], (kind, load.dialogs)
        outside = [u for u in load.requests if not _in_site(u, site)]
        assert outside == [], (kind, outside)
        assert any(u.endswith("/static/style.css") for u in load.requests), kind
        links = browser.evaluate("Array.from(document.querySelectorAll('a[href], link[href], script[src]'),"
                                 " e => e.href || e.src)")
        assert links, kind
        for url in links:
            assert _in_site(url, site), (kind, url)
            assert Path(unquote(urlsplit(url).path)).is_file(), (kind, url)
        assert browser.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui"), kind
        png = browser.screenshot(shots / f"{kind}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    browser.open(chosen["index"].as_uri())
    # 6 gpu; at node the 2 live estimators with a node figure and the 4 others on the total they report.
    assert browser.evaluate("document.querySelectorAll('table.ranking tbody tr').length") == 12
    first = "document.querySelector('#ranking-gpu tbody tr td:nth-child(2) a').textContent"
    assert browser.evaluate(first) == "codecarbon-twin"
    # The optional sorter: MAPE descending puts the worst first.
    browser.evaluate("document.querySelectorAll('#ranking-gpu thead th')[3].click()")
    browser.evaluate("document.querySelectorAll('#ranking-gpu thead th')[3].click()")
    assert browser.evaluate(first) == "green-algorithms"  # the profile's 700 W at 80% usage: the worst

    browser.open(chosen["estimator"].as_uri())
    assert browser.evaluate("document.querySelector('h1').textContent").startswith(ODD)
    # gpu, and node on the total it reports: a scatter and a histogram each
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 4

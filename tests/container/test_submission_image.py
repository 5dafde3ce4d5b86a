"""An image submission lands on the site: submissions/ccf-gpu built from its Dockerfile on the local Debian base,
run in the sandbox over the run facts by the scorer, ranked with the badge "reproduced"."""

from __future__ import annotations

import json
import re
from pathlib import Path

from joulebench.board import build_site, slug
from joulebench.cli import main
from tests.doubles.records import make_profile, make_record, write_records

ROOT = Path(__file__).resolve().parents[2]


def records():
    a100 = make_profile("a100", accelerator_model="NVIDIA A100-SXM4-40GB", accelerator_tdp_w=400.0)
    h100 = make_profile("h100", accelerator_model="NVIDIA H100 80GB HBM3")
    out = []
    for site, profile in (("lab-a100", a100), ("lab-h100", h100)):
        for workload, util in (("resnet50-train", 90.0), ("bert-infer", 40.0)):
            for repeat in (1, 2):
                out.append(make_record(workload, site=site, profile=profile, repeat=repeat, duration_s=10.0,
                                       gpu_util_pct=util, truth={"gpu": 3000.0 + 100 * repeat}))
    return out


def test_the_image_submission_is_built_run_in_the_sandbox_and_ranked(docker_client, base_image, tmp_path, capsys):
    recs = records()
    runs = write_records(tmp_path / "results", recs)
    view = build_site(runs, tmp_path / "site", resamples=50, submissions_dir=ROOT / "submissions")
    assert view.n_runs == len(recs)
    summary = json.loads((tmp_path / "site" / "data" / "scores.json").read_text())
    (entry,) = [e for e in summary["estimators"] if e["id"] == "ccf-gpu"]
    assert entry["available"] and entry["submission"]["badge"] == "reproduced" and entry["submission"]["kind"] == "image"
    assert "ran it in the sandbox" in entry["submission"]["badge_reason"]
    (score,) = [s for s in summary["scores"] if s["estimator_id"] == "ccf-gpu" and s["slice"] == "all"]
    assert score["n"] == 4 and score["coverage"] == 0.5 and score["rank"] is not None  # A100 listed, H100 not
    # 0.9 and 0.4 utilisation on an A100: 46 + u x 361 W for 10 s.
    per_run = summary["per_run"]
    (answers,) = [a for a in per_run["answers"] if a["estimator_id"] == "ccf-gpu" and a["boundary"] == "gpu"]
    got = {rid: value for rid, value in zip(per_run["run_ids"], answers["energy_j"]) if value is not None}
    expected = {r.run_id: (46 + (r.trace.mean_gpu_util_pct / 100) * 361) * 10.0 for r in recs if r.site == "lab-a100"}
    assert got.keys() == expected.keys() and all(abs(got[k] - expected[k]) < 1e-9 for k in got)
    index = (tmp_path / "site" / "index.html").read_text()
    ranking = re.search(r'id="ranking-gpu">(.*?)</table>', index, re.S).group(1)
    assert re.search(r'ccf-gpu</a> <span class="muted">1.0</span> <span class="badge badge-reproduced"', ranking)
    page = (tmp_path / "site" / "estimators" / f"{slug('ccf-gpu@1.0')}.html").read_text()
    assert "Apache-2.0" in page and "joulebench built the image from Dockerfile" in page

    # joulebench score runs the same image over the same runs: the same numbers.
    assert main(["score", "--runs", str(runs), "--submissions", str(ROOT / "submissions"), "--format", "json",
                 "--resamples", "50"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s for s in printed["scores"] if s["estimator_id"] == "ccf-gpu"] == \
        [s for s in summary["scores"] if s["estimator_id"] == "ccf-gpu"]


def test_submit_check_build_runs_the_image_and_reports_coverage(docker_client, base_image, tmp_path, capsys):
    runs = write_records(tmp_path / "results", records())
    assert main(["submit", "check", str(ROOT / "submissions" / "ccf-gpu"), "--runs", str(runs), "--build"]) == 0
    out = capsys.readouterr().out
    assert "badge: reproduced" in out and "coverage at gpu: answers 4 of the 8 runs metered there" in out

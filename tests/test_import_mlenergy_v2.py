"""The ML.ENERGY leaderboard v2 importer, on verbatim configuration files (tests/data/mlenergy-v2, Apache-2.0).

Expected values are computed by hand from the files' fields.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.estimators.flops import FlopModel
from joulebench.estimators.green_algorithms import GreenAlgorithms
from joulebench.estimators.mlco2 import MLCO2Impact
from joulebench.formats import RunFacts, RunRecord
from joulebench.importers.mlenergy_v2 import import_study

DATA = Path(__file__).parent / "data" / "mlenergy-v2"
SITE = "mlenergy-v2"
LLAMA_8B = "data/llm_text_generation/chat/H100 80GB HBM3/meta-llama/Meta-Llama-3.1-8B-Instruct/bs64+tp1+pp1.json"
MIXTRAL = "data/llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mixtral-8x22B-Instruct-v0.1/bs256+tp8+pp2.json"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "leaderboard-v2"
    shutil.copytree(DATA, root)
    return root


@pytest.fixture
def imported(release: Path, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    import_study(release, SITE, out, commit=(release / "COMMIT").read_text().strip())
    return out


def by_file(out: Path) -> dict[str, RunRecord]:
    found = {}
    for path in (out / SITE).glob("*.json"):
        if not path.name.startswith("_"):
            r = RunRecord.model_validate_json(path.read_bytes())
            found[r.provenance.lines[0].file] = r
    return found


def test_the_run_unit_is_max_bs_requests_at_the_measured_averages(imported: Path):
    r = by_file(imported)[LLAMA_8B]
    # Energy/req 82.58581692374547 J, Avg Output Tokens 482.798, Token tput 1784.7186737216616 tok/s, Max BS 64.
    assert r.truth_j("gpu") == pytest.approx(64 * 82.58581692374547, rel=1e-12)  # 5285.49 J
    assert r.tokens == 30899  # 64 x 482.798 = 30899.072
    assert r.duration_s == pytest.approx(64 * 482.798 / 1784.7186737216616, rel=1e-12)  # 17.31 s
    assert r.energy[0].mean_power_w == pytest.approx(305.28, abs=0.01)  # the study's steady-state power
    assert (r.items, r.iterations, r.device_count) == (64, 1, 1)
    assert r.concurrency == pytest.approx(63.88024385827247)
    assert any(w.startswith("run unit defined by joulebench, not a measured window") for w in r.warnings)
    (truth,) = r.energy
    assert (truth.boundary, truth.meter_id, truth.method) == ("gpu", "zeus-nvml-energy", "counter")
    assert truth.uncertainty.bound_pct == 5.0 and truth.uncertainty.covers_meter_accuracy
    assert {m.boundary for m in r.missing_boundaries} == {"cpu", "dram", "node"}


def test_two_node_pipelines_sum_all_sixteen_gpus(imported: Path):
    r = by_file(imported)[MIXTRAL]
    assert r.device_count == 16 and r.profile.node_count == 2 and r.profile.accelerator.count == 8
    assert r.truth_j("gpu") == pytest.approx(512 * 521.574942332967, rel=1e-12)  # Max BS = bs256 x PP 2
    assert r.energy[0].mean_power_w == pytest.approx(1737, abs=1)  # about 109 W per A100
    assert r.workload.batch_size == 512 and r.workload.params == 141 * 10**9
    assert r.profile.id == "mlenergy-v2-p4d-a100-sxm4-40gb-2nodes"


def test_static_estimators_see_the_concurrency_and_a_per_request_estimate_misses_by_the_batch(imported: Path):
    r = by_file(imported)[LLAMA_8B]
    facts = RunFacts.from_record(r)
    assert facts.concurrency == pytest.approx(63.88024385827247)
    assert MLCO2Impact().estimate(facts) == {}  # no H100 in the calculator's table
    assert GreenAlgorithms().estimate(facts) == {"gpu": pytest.approx(700.0 * r.duration_s)}  # no CPU stated: no node
    flops = 2 * 8e9 * 64 * 483
    assert FlopModel().estimate(facts) == {"gpu": pytest.approx(flops / (989.5e12 * 0.40) * 700.0)}
    # One request's TDP x latency: 700 W x 482.798 tokens x 0.03505461148244233 s = 11,847 J, 143.5x the 82.6 J measured.
    assert any("is 143.5x the measured 83 J" in w for w in r.warnings)


def test_mllm_code_and_unlisted_model_folders(imported: Path):
    found = by_file(imported)
    llava = [r for f, r in found.items() if "llava-1.5-7b-hf" in f]
    assert llava and all(r.workload.params == 7 * 10**9 and "mllm-chat" in r.workload.id for r in llava)
    pp1 = [r for f, r in found.items() if "Mixtral-8x22B-Instruct-v0.1-pp1" in f]
    # The -pp1 folder has no models.json entry of its own; its files name the model, which has one.
    assert pp1 and all(r.workload.params == 141 * 10**9 and r.device_count == 8 for r in pp1)


def test_the_ecologits_fitting_set_is_flagged(imported: Path):
    found = by_file(imported)
    assert any("in-sample for EcoLogits" in w for w in found[LLAMA_8B].warnings)
    assert not any("in-sample for EcoLogits" in w for w in found[MIXTRAL].warnings)  # A100


def test_licence_notice_and_no_local_paths(imported: Path, release: Path):
    site = imported / SITE
    assert (site / "LICENSE").read_bytes() == (release / "LICENSE").read_bytes()
    source = (site / "SOURCE.md").read_text()
    assert "research preview intended for non-commercial use only" in source and "no LICENSE file" in source
    r = by_file(imported)[LLAMA_8B]
    assert r.provenance.license == "Apache-2.0" and "non-commercial" in r.provenance.notice
    assert r.provenance.study == "mlenergy-v2"
    report = json.loads((site / "_import-mlenergy-v2.json").read_text())
    assert report["runs_seen"] == 8 and len(report["imported"]) == 8 and report["source_dir"] == "."
    for path in site.iterdir():
        assert str(release.parent) not in path.read_text(errors="replace")


def test_a_max_bs_that_contradicts_the_file_name_is_an_error(release: Path, tmp_path: Path, capsys):
    path = release / LLAMA_8B
    data = json.loads(path.read_text())
    data["Max BS (reqs)"] = 128
    path.write_text(json.dumps(data))
    out = tmp_path / "results"
    assert main(["import", "mlenergy-v2", str(release), "--site", SITE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert LLAMA_8B in err and "'Max BS (reqs)': expected bs x PP = 64" in err and not out.exists()


def test_a_missing_field_is_an_error(release: Path, tmp_path: Path):
    path = release / MIXTRAL
    data = json.loads(path.read_text())
    del data["Energy/req (J)"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"bs256\+tp8\+pp2.json: field 'Energy/req \(J\)' is missing"):
        import_study(release, SITE, tmp_path / "results")


def test_rerun_is_byte_identical(release: Path, tmp_path: Path):
    out = tmp_path / "results"
    import_study(release, SITE, out)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / SITE).iterdir()}
    import_study(release, SITE, out)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / SITE).iterdir()} == before

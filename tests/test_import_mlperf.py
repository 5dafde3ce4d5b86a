"""The MLPerf Inference importers (v3.0, v4.1), on verbatim power results (tests/data/mlperf-v*, Apache-2.0).

Derived from MLPerf Inference v3.0 and v4.1 results; not verified by MLCommons.
The published figures the records must reproduce are in tests/data/mlperf-v*/published_power.json.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.estimators.flops import FlopModel
from joulebench.estimators.green_algorithms import GreenAlgorithms
from joulebench.estimators.mlco2 import MLCO2Impact
from joulebench.formats import RunFacts, RunRecord
from joulebench.importers.mlperf_inference import import_v3_0, import_v4_1, memory_gib
from joulebench.importers.mlperf_models import count, family_of, load_models

DATA = Path(__file__).parent / "data"
KRAI = "closed/Krai/results/firefly-armnn-v22.11-neon/resnet50"
KRAI_MEASUREMENTS = "closed/Krai/measurements/firefly-armnn-v22.11-neon/resnet50"
UNTETHER = "closed/UntetherAI/results/h13_u3_slim/resnet50/singlestream"


def release(tmp_path: Path, version: str) -> Path:
    """The excerpt laid out as the release lays it out: the Krai SingleStream run's files also back
    its Offline and MultiStream results (identical files in the release), and every power result has
    a performance/power/ folder."""
    root = tmp_path / f"inference_results_{version}"
    shutil.copytree(DATA / f"mlperf-{version}", root)
    if version == "v3.0":
        for scenario in ("offline", "multistream"):
            shutil.copytree(root / KRAI / "singlestream", root / KRAI / scenario)
            shutil.copytree(root / KRAI_MEASUREMENTS / "singlestream", root / KRAI_MEASUREMENTS / scenario)
        for scenario in ("singlestream", "offline", "multistream"):
            (root / KRAI / scenario / "performance" / "power").mkdir()
    else:
        (root / UNTETHER / "performance" / "power").mkdir()
    return root


def published(version: str) -> dict[str, dict]:
    return {p["location"]: p for p in json.loads((DATA / f"mlperf-{version}" / "published_power.json").read_text())}


def records(out: Path, site: str) -> list[RunRecord]:
    return [RunRecord.model_validate_json(p.read_bytes()) for p in sorted((out / site).glob("*.json"))
            if not p.name.startswith("_")]  # fmt: skip


def import_report(out: Path, site: str, importer: str) -> dict:
    return json.loads((out / site / f"_import-{importer}.json").read_text())


# --------------------------------------------------------------------------- the checker's figures


def test_v3_0_one_measurement_backs_three_published_results_each_reproduced(tmp_path: Path):
    root = release(tmp_path, "v3.0")
    out = tmp_path / "results"
    outcome = import_v3_0(root, "mlperf-inference-v3.0", out, commit=(root / "COMMIT").read_text().strip())
    (record,) = records(out, "mlperf-inference-v3.0")  # one spl.txt: one record
    assert outcome.report.runs_seen == 3
    figures = import_report(out, "mlperf-inference-v3.0", "mlperf-inference-v3.0")["summary"]["published_figures"]
    for location, expected in published("v3.0").items():
        assert figures[location]["units"] == expected["units"]
        assert figures[location]["value"] == pytest.approx(expected["value"], rel=1e-12), location
    # By hand: the Offline figure is the window's mean power; the SingleStream one that mean x 600.199 s
    # x 1000 / 5576 queries (802.9 mJ); the MultiStream one, inferred from it, 8x that (6423.5 mJ).
    (truth,) = record.energy
    assert truth.mean_power_w == pytest.approx(7.459471666666665, rel=1e-12)
    assert record.duration_s == pytest.approx(600.199)
    assert truth.energy_j == pytest.approx(7.459471666666665 * 600.199, rel=1e-12)  # 4477.2 J
    assert truth.energy_j * 1000 / 5576 == pytest.approx(802.9353362377449, rel=1e-12)
    assert (record.items, record.iterations) == (5576, 5576)
    assert record.workload.model.config["scenario"] == "SingleStream"
    assert any("backing 3 published result(s)" in w and "(inferred from this run)" in w for w in record.warnings)


def test_v4_1_skips_non_sample_lines_and_reproduces_the_figure(tmp_path: Path):
    root = release(tmp_path, "v4.1")
    out = tmp_path / "results"
    import_v4_1(root, "mlperf-inference-v4.1", out)
    (record,) = records(out, "mlperf-inference-v4.1")
    ((location, expected),) = published("v4.1").items() if len(published("v4.1")) == 1 else [
        (k, v) for k, v in published("v4.1").items() if v["source"].startswith("GATEOverflow")]
    # 231.1185 W x 600 s x 1000 / 4,742,678 queries = 29.2389869 mJ per query (the published figure).
    assert record.energy[0].mean_power_w == pytest.approx(231.1185, rel=1e-9)
    assert record.energy[0].energy_j * 1000 / 4_742_678 == pytest.approx(expected["value"], rel=1e-9)
    assert record.duration_s == 600.0 and record.items == 4_742_678
    assert record.started_at == datetime(2024, 7, 23, 15, 48, 32, 939000, tzinfo=timezone.utc)


def test_truth_is_the_node_with_the_analysers_uncertainty(tmp_path: Path):
    root = release(tmp_path, "v3.0")
    import_v3_0(root, "mlperf-inference-v3.0", tmp_path / "results")
    (record,) = records(tmp_path / "results", "mlperf-inference-v3.0")
    (truth,) = record.energy
    assert truth.boundary == "node" and truth.update_period_s == pytest.approx(1.0, abs=0.01)
    assert truth.uncertainty.covers_meter_accuracy is True
    assert truth.uncertainty.bound_pct == pytest.approx(1.0 + 100 * truth.update_period_s / record.duration_s)
    assert {m.boundary for m in record.missing_boundaries} == {"gpu", "cpu", "dram"}


# --------------------------------------------------------------------------- what the records say


def test_labels_licence_and_source_lines(tmp_path: Path):
    root = release(tmp_path, "v3.0")
    out = tmp_path / "results"
    import_v3_0(root, "mlperf-inference-v3.0", out, commit="1948f9b5b93c5b4dcafe15de0faa08cdf1439fca")
    (record,) = records(out, "mlperf-inference-v3.0")
    label = "derived from MLPerf Inference v3.0 results; not verified by MLCommons"
    sentence = "D" + label[1:]
    p = record.provenance
    assert label in p.citation and sentence in p.note and sentence in p.notice
    assert label in record.warnings and (p.study, p.license) == ("mlperf-inference-v3.0", "Apache-2.0")
    spl = f"{KRAI}/singlestream/performance/run_1/spl.txt"
    lines = {x.what: (x.file, x.line) for x in p.lines}
    first_file, first_line = lines["the first analyser sample inside the window"]
    assert first_file == spl
    sample = (root / spl).read_text().splitlines()[first_line - 1]
    assert sample.startswith("Time,02-26-2023 12:41:06")  # power_begin is 02-26-2023 12:41:06.053
    detail = f"{KRAI}/singlestream/performance/run_1/mlperf_log_detail.txt"
    begin_file, begin_line = lines["power_begin"]
    assert begin_file == detail and '"power_begin"' in (root / detail).read_text().splitlines()[begin_line - 1]
    site = out / "mlperf-inference-v3.0"
    assert (site / "LICENSE.md").read_bytes() == (root / "LICENSE.md").read_bytes()
    source = (site / "SOURCE.md").read_text()
    assert sentence in source and "Apache-2.0" in source and "1948f9b5" in source


def test_the_system_becomes_a_profile_and_unknown_numbers_stay_unknown(tmp_path: Path):
    root = release(tmp_path, "v4.1")
    import_v4_1(root, "mlperf-inference-v4.1", tmp_path / "results")
    (record,) = records(tmp_path / "results", "mlperf-inference-v4.1")
    profile = record.profile
    assert profile.id == "mlperf-v4.1-untetherai-h13_u3_slim"
    acc = profile.accelerator
    assert (acc.vendor, acc.model, acc.count) == ("untether", "UntetherAI speedAI240 Slim", 3)
    assert acc.tdp_w is None and acc.peak_tflops is None  # no datasheet joulebench can cite
    assert (profile.cpu.model, profile.cpu.sockets, profile.cpu.cores_per_socket) == ("AMD EPYC 9124 16-Core Processor", 1, 16)
    assert profile.cpu.tdp_w is None and profile.memory.total_gib == 64.0
    assert record.device_count == 3
    facts = RunFacts.from_record(record)
    # Hardware no estimator knows: none of them answers, and coverage shows it.
    assert MLCO2Impact().estimate(facts) == {} and FlopModel().estimate(facts) == {}
    assert "node" not in GreenAlgorithms().estimate(facts) and "gpu" not in GreenAlgorithms().estimate(facts)
    assert any("no datasheet TDP" in w for w in record.warnings)


def test_the_spec_carries_the_counted_model_and_the_declared_weight_type(tmp_path: Path):
    root = release(tmp_path, "v4.1")
    import_v4_1(root, "mlperf-inference-v4.1", tmp_path / "results")
    (record,) = records(tmp_path / "results", "mlperf-inference-v4.1")
    spec = record.workload
    assert (spec.id, spec.track, spec.domain, spec.task) == ("resnet50-singlestream-float8", "mlperf-inference-v4.1", "vision", "infer")
    assert spec.dtype == "float8" and spec.model.config["weight_data_types"] == "float8"
    assert (spec.params, spec.flops_per_iteration, spec.image_size) == (25_557_032, 8_178_368_512.0, 224)
    krai = release(tmp_path / "krai", "v3.0")
    import_v3_0(krai, "mlperf-inference-v3.0", tmp_path / "krai-results")
    (cpu_run,) = records(tmp_path / "krai-results", "mlperf-inference-v3.0")
    assert cpu_run.profile.kind == "cpu" and cpu_run.device_count == 0 and cpu_run.workload.dtype == "float32"


def test_memory_sizes_are_binary():
    assert memory_gib("2 TB") == 2048 and memory_gib("16x 64 GB") == 1024 and memory_gib("63G") == 63
    assert memory_gib("16 GiB") == 16 and memory_gib("Shared with host") is None


# --------------------------------------------------------------------------- bad and odd input


def test_results_sharing_samples_but_not_the_window_are_an_error(tmp_path: Path, capsys):
    root = release(tmp_path, "v3.0")
    detail = root / KRAI / "offline" / "performance" / "run_1" / "mlperf_log_detail.txt"
    detail.write_text(detail.read_text().replace('"power_end", "value": "02-26-2023 12:51:06.252"',
                                                 '"power_end", "value": "02-26-2023 12:51:07.252"'))
    out = tmp_path / "results"
    assert main(["import", "mlperf-inference-v3.0", str(root), "--site", "mlperf-inference-v3.0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "same analyser samples" in err and "power_end" in err and "Traceback" not in err
    assert not out.exists()


def test_a_power_result_without_its_samples_is_skipped(tmp_path: Path):
    root = release(tmp_path, "v3.0")
    for scenario in ("offline", "multistream"):
        (root / KRAI / scenario / "performance" / "run_1" / "spl.txt").unlink()
    outcome = import_v3_0(root, "mlperf-inference-v3.0", tmp_path / "results")
    assert sorted(s.reason for s in outcome.report.skipped) == ["no_power_samples", "no_power_samples"]
    assert len(records(tmp_path / "results", "mlperf-inference-v3.0")) == 1


def test_a_malformed_sample_names_the_file_and_line(tmp_path: Path):
    root = release(tmp_path, "v4.1")
    spl = root / UNTETHER / "performance" / "run_1" / "spl.txt"
    lines = spl.read_text().splitlines(keepends=True)
    lines[99] = lines[99].replace(",Watts,", ",Watts,x", 1)
    spl.write_text("".join(lines))
    with pytest.raises(InputError, match=rf"{UNTETHER}/performance/run_1/spl.txt: line 100: expected 'Time,"):
        import_v4_1(root, "mlperf-inference-v4.1", tmp_path / "results")


def test_rerun_is_byte_identical(tmp_path: Path):
    root = release(tmp_path, "v3.0")
    out = tmp_path / "results"
    import_v3_0(root, "mlperf-inference-v3.0", out)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "mlperf-inference-v3.0").iterdir()}
    import_v3_0(root, "mlperf-inference-v3.0", out)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "mlperf-inference-v3.0").iterdir()} == before


# --------------------------------------------------------------------------- the pinned model counts


def test_families_are_named_as_the_benchmarks():
    assert [family_of(b) for b in ("resnet50", "bert-99.9", "dlrm-v2-99", "llama2-70b-99", "3d-unet-99.9")] == [
        "resnet50", "bert", "dlrm-v2", "llama2-70b", "3d-unet"]
    families = load_models()
    unknown = {f for f, e in families.items() if e.get("params") is None}
    assert unknown == {"rnnt", "3d-unet", "dlrm", "dlrm-v2", "stable-diffusion-xl"}


@pytest.mark.parametrize("family", ["resnet50", "retinanet", "bert", "gptj", "llama2-70b", "mixtral-8x7b"])
def test_pinned_counts_match_a_recount_on_the_meta_device(family):
    pytest.importorskip("torch")
    entry = load_models()[family]
    values = count(entry)
    assert values["params"] == entry["params"]
    assert values["flops_per_sample"] == entry["flops_per_sample"]
    assert values["flops_method"] == entry["flops_method"]

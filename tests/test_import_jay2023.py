"""The Jay et al. 2023 importer, on verbatim rows of the study's release (tests/data/jay2023, CC BY-SA 4.0).

Expected values are computed by hand from the rows' cells (kWh x 3,600,000 J/kWh).
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
from joulebench.importers.jay2023 import import_study

DATA = Path(__file__).parent / "data" / "jay2023"
COMMIT = (DATA / "COMMIT").read_text().strip()
SITE = "jay2023"
GPU_20 = "GPU_Benchmarks/results/GPU_20_04/processed_table.csv"
GPU_19 = "GPU_Benchmarks/results/GPU_19_04/processed_table.csv"
CPU_08 = "GPU_Benchmarks/results/CPU_08_11/processed_table.csv"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "an-experimental-comparison-of-software-based-power-meters"
    shutil.copytree(DATA, root)
    return root


@pytest.fixture
def imported(release: Path, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    import_study(release, SITE, out, commit=COMMIT)
    return out


def record(out: Path, campaign: str, benchmark_id: str) -> RunRecord:
    return RunRecord.model_validate_json((out / SITE / f"{SITE}.{campaign}.{benchmark_id}.json").read_bytes())


def report(out: Path) -> dict:
    return json.loads((out / SITE / "_import-jay2023.json").read_text())


# --------------------------------------------------------------------------- energy arithmetic on real rows


def test_carbontracker_row_truth_cross_check_and_estimate(imported: Path):
    # GPU_20_04 633_0_1: carbontracker, MG class D on all 8 GPUs.
    r = record(imported, "gpu_20_04", "633_0_1")
    (truth,) = r.energy
    assert (truth.boundary, truth.meter_id, truth.method) == ("node", "omegawatt-wattmeter", "integrated")
    assert truth.energy_j == pytest.approx(0.048180515192241445 * 3_600_000, rel=1e-12)  # 173,449.85 J
    assert r.duration_s == pytest.approx(1650470082.34419 - 1650469923.613681, rel=1e-12)  # 158.73 s
    assert truth.mean_power_w == pytest.approx(173449.8546920692 / 158.7305088043213, rel=1e-9)
    (bmc,) = r.cross_checks
    assert (bmc.meter_id, bmc.energy_j) == ("bmc", pytest.approx(0.04205 * 3_600_000))  # 151,380 J
    assert any("bmc (cross-check) reads -12.7%" in w for w in r.warnings)
    (estimate,) = r.live_estimates
    assert (estimate.estimator_id, estimate.estimator_version, estimate.boundary) == ("carbontracker", "1.1.6", "node")
    assert estimate.energy_j == pytest.approx(0.047978 * 3_600_000)  # 172,720.8 J: as reported, PUE 1.59 kept
    assert estimate.raw["pue"] == 1.59
    assert estimate.raw["energy_kwh_without_pue"] == pytest.approx(0.047978 / 1.59)
    assert "PUE of 1.59" in estimate.mode and "whole run" in estimate.mode


def test_codecarbon_row_keeps_its_components(imported: Path):
    # GPU_19_04 58_0_2: CodeCarbon 2.0.0, LU class D.
    r = record(imported, "gpu_19_04", "58_0_2")
    assert r.truth_j("node") == pytest.approx(0.110964173669867 * 3_600_000, rel=1e-12)  # 399,471.0 J
    assert r.cross_checks[0].energy_j == pytest.approx(0.10355 * 3_600_000)  # 372,780 J
    (estimate,) = r.live_estimates
    assert (estimate.estimator_id, estimate.estimator_version) == ("codecarbon", "2.0.0")
    assert estimate.energy_j == pytest.approx(0.0905705306092957 * 3_600_000, rel=1e-12)  # 326,053.9 J, -18.4%
    parts = [estimate.raw[f"{p}(kWh)"] for p in ("tool_cpu_energy", "tool_gpu_energy", "tool_ram_energy")]
    assert sum(parts) == pytest.approx(0.0905705306092957, rel=1e-9)


def test_experiment_impact_tracker_keeps_its_pue_and_energy_scope_has_none(imported: Path):
    eit = record(imported, "gpu_20_04", "556_0_0").live_estimates[0]
    assert eit.estimator_id == "experiment-impact-tracker"
    assert eit.energy_j == pytest.approx(0.1279438762039411 * 3_600_000, rel=1e-12)  # 460,598 J
    assert eit.raw["pue"] == 1.58
    assert eit.raw["energy_kwh_without_pue"] * 3_600_000 == pytest.approx(291_517.7, abs=0.1)
    es = record(imported, "gpu_20_04", "483_0_1")
    assert es.truth_j("node") == pytest.approx(0.04904080246352413 * 3_600_000, rel=1e-12)  # 176,546.9 J
    assert es.live_estimates[0].estimator_id == "energy-scope"
    assert es.live_estimates[0].energy_j == pytest.approx(0.031129837222222227 * 3_600_000, rel=1e-12)
    assert "pue" not in es.live_estimates[0].raw
    cpu = record(imported, "cpu_08_11", "258_0_1")
    assert cpu.truth_j("node") == pytest.approx(158_138.5, abs=0.1)
    assert cpu.live_estimates[0].energy_j == pytest.approx(28_850.5, abs=0.1)  # pkg + DRAM only: -81.8%
    assert cpu.device_count == 0 and cpu.workload.id == "npb-omp-mg-d"


def test_a_negative_or_missing_tool_value_is_no_estimate_and_says_so(imported: Path):
    negative = record(imported, "cpu_08_11", "763_0_3")
    assert negative.live_estimates == [] and negative.truth_j("node") > 0
    assert any("-0.0679202826867727 kWh, a negative energy" in w for w in negative.warnings)
    one_process = record(imported, "gpu_20_04", "998_0_3")
    assert one_process.live_estimates == []
    missing = record(imported, "gpu_20_04", "729_0_0")
    assert missing.live_estimates == [] and any("reported nothing" in w and "timestamp" in w for w in missing.warnings)
    baseline = record(imported, "gpu_19_04", "632_0_3")
    assert baseline.live_estimates == [] and any("no software meter ran" in w for w in baseline.warnings)


def test_a_wattmeter_reading_below_the_bmc_is_skipped(imported: Path):
    skipped = {s["run_id"]: s for s in report(imported)["skipped"]}
    assert list(skipped) == ["GPU_19_04/23_0_3"]
    assert skipped["GPU_19_04/23_0_3"]["reason"] == "meters_disagree"
    # Line 158 of the release; line 8 of this excerpt, whose other rows are left out.
    assert (skipped["GPU_19_04/23_0_3"]["file"], skipped["GPU_19_04/23_0_3"]["line"]) == (GPU_19, 8)
    assert not (imported / SITE / f"{SITE}.gpu_19_04.23_0_3.json").exists()


def test_one_process_runs_are_marked(imported: Path):
    # GPU_19_04 470_1_0: CodeCarbon on GPU 0's process only, idle, with a negative CPU component.
    r = record(imported, "gpu_19_04", "470_1_0")
    assert r.live_estimates == [] and any("negative energy" in w for w in r.warnings)
    ct = record(imported, "gpu_20_04", "45_0_1")
    assert ct.live_estimates[0].raw["tool_on_one_process"] is False
    assert not any("watched only GPU 0" in w for w in ct.warnings)


# --------------------------------------------------------------------------- what the records say


def test_workloads_are_hpc_with_no_parameter_count_and_the_profile_is_the_dgx1(imported: Path):
    r = record(imported, "gpu_20_04", "633_0_1")
    spec = r.workload
    assert (spec.id, spec.track, spec.domain, spec.task, spec.dtype) == ("npb-cuda-mg-d-x8", "jay2023", "hpc", "compute", "float64")
    assert spec.params is None and spec.flops_per_iteration is None and spec.batch_size == 8
    assert (r.items, r.device_count) == (8, 8)
    idle = record(imported, "cpu_08_11", "993_0_0").workload
    assert (idle.id, idle.task) == ("idle-60s-cpu-set", "idle")
    acc = r.profile.accelerator
    assert (acc.model, acc.count, acc.tdp_w) == ("Tesla V100-SXM2-32GB", 8, 300.0)
    assert acc.peak_tflops.bfloat16 is None and acc.peak_tflops.float64 == 7.8
    assert (r.profile.cpu.sockets, r.profile.cpu.cores_per_socket, r.profile.cpu.tdp_w) == (2, 20, 135.0)


def test_truth_uncertainty_covers_the_window_edges_only(imported: Path):
    r = record(imported, "gpu_20_04", "633_0_1")
    u = r.energy[0].uncertainty
    assert u.bound_pct == pytest.approx(200 / r.duration_s)  # 2 s at the mean power over the window
    assert u.covers_meter_accuracy is False and "accuracy class is not stated" in u.basis


def test_static_estimators_see_the_eight_v100s(imported: Path):
    r = record(imported, "gpu_20_04", "633_0_1")
    facts = RunFacts.from_record(r)
    assert MLCO2Impact().estimate(facts) == {"gpu": pytest.approx(300.0 * 8 * r.duration_s)}
    ga = GreenAlgorithms().estimate(facts)
    assert ga["node"] == pytest.approx((8 * 300.0 + 2 * 135.0 + 512 * 1.073741824 * 0.3725) * r.duration_s)
    assert FlopModel().estimate(facts) == {}  # NPB: no FLOP count in the release


def test_provenance_names_the_file_line_licence_and_attribution(imported: Path, release: Path):
    r = record(imported, "gpu_20_04", "633_0_1")
    p = r.provenance
    assert (p.study, p.license, p.commit) == ("jay2023", "CC-BY-SA-4.0", COMMIT)
    assert [(x.file, x.line) for x in p.lines] == [(GPU_20, 2)]  # line 26 of the release; 2 of this excerpt
    assert "CC BY-SA 4.0" in p.notice and "Jay" in p.citation
    site = imported / SITE
    assert (site / "LICENSE").read_bytes() == (release / "LICENSE").read_bytes()
    source = (site / "SOURCE.md").read_text()
    assert "CC BY-SA 4.0" in source and COMMIT in source and "What was changed" in source
    saved = report(imported)
    assert saved["source_dir"] == "." and saved["runs_seen"] == 15 and len(saved["imported"]) == 14
    assert saved["summary"]["bmc_vs_wattmeter"]["GPU_20_04"]["runs"] == 6
    for path in site.iterdir():
        assert str(release) not in path.read_text(errors="replace") and "/tmp/" not in path.read_text(errors="replace")


def test_rerunning_the_import_is_byte_identical(release: Path, tmp_path: Path):
    out = tmp_path / "results"
    import_study(release, SITE, out, commit=COMMIT)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / SITE).iterdir()}
    second = import_study(release, SITE, out, commit=COMMIT)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / SITE).iterdir()} == before
    assert second.result.written == 0


# --------------------------------------------------------------------------- bad input


def test_a_missing_column_names_the_file_and_column_exits_2_and_writes_nothing(release: Path, tmp_path: Path, capsys):
    path = release / GPU_20
    text = path.read_text()
    path.write_text(text.replace("wattmetre_power_watt_energy_consumption(kWh)", "wattmeter_kwh", 1))
    out = tmp_path / "results"
    assert main(["import", "jay2023", str(release), "--site", SITE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert GPU_20 in err and "'wattmetre_power_watt_energy_consumption(kWh)' is missing" in err
    assert "Traceback" not in err and not out.exists()


def test_a_malformed_cell_names_the_file_line_and_column(release: Path, tmp_path: Path):
    path = release / GPU_19
    text = path.read_text()
    path.write_text(text.replace("0.110964173669867", "0.11O964", 1))
    with pytest.raises(InputError, match=rf"{GPU_19}: line 4: column 'wattmetre_power_watt_energy_consumption\(kWh\)'"):
        import_study(release, SITE, tmp_path / "results")
    assert not (tmp_path / "results").exists()


def _row_text(path: Path, benchmark_id: str) -> str:
    """The verbatim text of one row (its cells may span lines)."""
    import csv
    import io

    text = path.read_text()
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    while True:
        start = reader.line_num
        row = next(reader)
        if row[header.index("gpu_0_benchmark_id")] == benchmark_id:
            return "".join(lines[start:reader.line_num])


def test_the_same_run_twice_is_a_duplicate_and_with_other_values_an_error(release: Path, tmp_path: Path):
    path = release / CPU_08
    original = path.read_text()
    row = _row_text(path, "258_0_1")
    path.write_text(original + row)
    outcome = import_study(release, SITE, tmp_path / "a")
    assert [s.reason for s in outcome.report.skipped if s.run_id == "CPU_08_11/258_0_1"] == ["duplicate_row"]
    path.write_text(original + row.replace("0.043927360924092405", "0.043927360924092406", 1))
    with pytest.raises(InputError, match=r"CPU_08_11/258_0_1.*different values.*wattmetre_power_watt"):
        import_study(release, SITE, tmp_path / "b")


def test_a_checkout_without_its_licence_is_refused(release: Path, tmp_path: Path):
    (release / "LICENSE").unlink()
    with pytest.raises(InputError, match="no LICENSE.*CC BY-SA 4.0"):
        import_study(release, SITE, tmp_path / "results")


def test_the_commit_is_read_from_a_checkout_of_the_study(release: Path, tmp_path: Path):
    git = release / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "config").write_text('[remote "origin"]\n\turl = https://github.com/vladostp/'
                                'an-experimental-comparison-of-software-based-power-meters.git\n')
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    out = tmp_path / "results"
    import_study(release, SITE, out)
    assert record(out, "gpu_20_04", "633_0_1").provenance.commit == COMMIT

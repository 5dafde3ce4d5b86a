"""The Fischer 2025 importer, on small files written here in the study's released format.

The column names and their order, the frame paths and the image-analysis layout
copy the release (raphischer/ai-energy-validation, results/); the values are
made up for the tests. None of the study's data is committed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.errors import InputError
from joulebench.formats import RunRecord
from joulebench.importers import get_importer
from joulebench.importers.fischer2025 import import_study

# Header of results/ollama_900_2025-09-19_18-44-41.csv, in its order.
OLLAMA_COLUMNS = (
    "run_id,experiment_id,status,artifact_uri,start_time,end_time,metrics.power_draw,metrics.power_draw_total,"
    "metrics.running_time,metrics.n_tokens_in,metrics.n_tokens_out,metrics.running_time_total,params.parameters,"
    "params.model,params.architecture,params.dataset,params.n_samples,params.temperature,params.file_size,"
    "params.seconds,params.task,tags.mlflow.source.name,tags.mlflow.source.git.repoURL,"
    "tags.mlflow.project.entryPoint,tags.mlflow.user,tags.mlflow.runName,tags.mlflow.source.git.commit,"
    "tags.mlflow.source.type,tags.mlflow.project.backend,tags.mlflow.project.env"
).split(",")
# Header of results/imagenet_120_2025-09-12_09-25-19.csv, in its order.
IMAGENET_COLUMNS = (
    "run_id,experiment_id,status,artifact_uri,start_time,end_time,metrics.sparse_top_k_categorical_accuracy,"
    "metrics.running_time,metrics.sparse_categorical_accuracy,metrics.power_draw_total,metrics.loss,"
    "metrics.running_time_total,metrics.power_draw,params.batchsize,params.n_samples,params.architecture,"
    "params.task,params.model,params.datadir,params.seconds,params.parameters,params.batch_size,params.dataset,"
    "params.software,tags.mlflow.project.env,tags.mlflow.source.type,tags.mlflow.runName,"
    "tags.mlflow.project.entryPoint,tags.mlflow.project.backend,tags.mlflow.source.git.repoURL,"
    "tags.mlflow.source.name,tags.mlflow.user,tags.mlflow.source.git.commit"
).split(",")
# Header of results/imagenet_120_2025-09-12_02-10-43.csv: the same columns in another order.
IMAGENET_COLUMNS_0910 = (
    "run_id,experiment_id,status,artifact_uri,start_time,end_time,metrics.loss,metrics.sparse_categorical_accuracy,"
    "metrics.sparse_top_k_categorical_accuracy,metrics.power_draw,metrics.running_time,metrics.running_time_total,"
    "metrics.power_draw_total,params.n_samples,params.architecture,params.model,params.seconds,params.batchsize,"
    "params.datadir,params.dataset,params.software,params.parameters,params.batch_size,params.task,"
    "tags.mlflow.source.git.repoURL,tags.mlflow.source.name,tags.mlflow.source.git.commit,tags.mlflow.runName,"
    "tags.mlflow.project.backend,tags.mlflow.project.entryPoint,tags.mlflow.user,tags.mlflow.project.env,"
    "tags.mlflow.source.type"
).split(",")
READINGS_HEADER = ["", "ocr", "value", "manual", "val_diff", "still_errors"]

GPU = "NVIDIA GeForce RTX 4090"
CPU = "13th Gen Intel(R) Core(TM) i9-13900K"
OLLAMA_STEM = "ollama_900_2025-09-19_18-44-41"
IMAGENET_STEM = "imagenet_120_2025-09-12_09-25-19"


def run_id(n: int) -> str:
    return f"{n:032x}"


def ollama_run(n: int, minute: int, **overrides) -> dict:
    row = {
        "run_id": run_id(n),
        "experiment_id": "593090544047217993",
        "status": "FINISHED",
        "artifact_uri": f"file:///home/fischer/repos/ai-energy-validation/mlruns/593090544047217993/{run_id(n)}/artifacts",
        "start_time": f"2025-09-20 05:{minute:02d}:42.246000+00:00",
        "end_time": f"2025-09-20 05:{minute + 16:02d}:09.136000+00:00",
        "metrics.power_draw": "1203.2116404884546",
        "metrics.power_draw_total": "338102.4709772557",
        "metrics.running_time": "3.196378732042957",
        "metrics.n_tokens_in": "52755.0",
        "metrics.n_tokens_out": "128682.0",
        "metrics.running_time_total": "898.182423704071",
        "params.parameters": "7.3B",
        "params.model": "olmo2:7b",
        "params.architecture": GPU,
        "params.dataset": "LLM Benchmark (Puffin)",
        "params.n_samples": "281",
        "params.temperature": "0.7",
        "params.file_size": "4472032405",
        "params.seconds": "900",
        "params.task": "Inference",
        "tags.mlflow.source.git.commit": "1ffbfa560be7fd27159d1da75c8a2e930b8379ee",
    }
    row.update(overrides)
    return row


def imagenet_run(n: int, minute: int, **overrides) -> dict:
    row = {
        "run_id": run_id(n),
        "experiment_id": "839899330872527168",
        "status": "FINISHED",
        "artifact_uri": f"file:///home/fischer/repos/ai-energy-validation/mlruns/839899330872527168/{run_id(n)}/artifacts",
        "start_time": f"2025-09-12 14:{minute:02d}:58.605000+00:00",
        "end_time": f"2025-09-12 14:{minute + 3:02d}:31.541000+00:00",
        "metrics.power_draw_total": "27548.10623106864",
        "metrics.running_time_total": "111.46782408800208",
        "metrics.power_draw": "0.8506702764040465",
        "params.batchsize": "16",
        "params.n_samples": "32384.0",
        "params.architecture": GPU,
        "params.task": "Inference",
        "params.model": "EfficientNetB0",
        "params.datadir": "/data/d1/fischer_diss/imagenet",
        "params.seconds": "120",
        "params.parameters": "5330571",
        "params.batch_size": "16",
        "params.dataset": "ImageNet (ILSVRC 2012)",
        "params.software": "Tensorflow 2.20.0",
        "tags.mlflow.source.git.commit": "e8abdb420bec5a90bcf2772f65509d5ff4d2baae",
    }
    row.update(overrides)
    return row


def write_export(folder: Path, stem: str, columns: list[str], rows: list[dict], drop: str | None = None) -> Path:
    """An MLflow export: newest run first, as `mlflow experiments csv` writes it."""
    path = folder / f"{stem}.csv"
    header = [c for c in columns if c != drop]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def write_readings(
    folder: Path, stem: str, frames: list[tuple], drop: str | None = None, windows: bool = False
) -> Path:
    """The image-analysis file: one row per photo, in the order they were taken.

    frames: (run number, "start"|"stop", value text, manual, still_errors[, ocr text]).
    val_diff is computed as the study does (difference to the row before).
    windows: frame paths like d:\\Repos\\...\\<run_id>_capture_start.jpg, as in
    results/imagenet_120_2025-09-12_02-10-43_image_analysis.csv.
    """
    path = folder / f"{stem}_image_analysis.csv"
    header = [c for c in READINGS_HEADER if c != drop]
    previous = None
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for n, edge, value, manual, flagged, *ocr in frames:
            frame = f"/home/fischer/repos/ai-energy-validation/results/{stem}/{run_id(n)}_capture_{edge}.jpg"
            if windows:
                frame = f"d:\\Repos\\ai-energy-validation\\results\\{stem}\\{run_id(n)}_capture_{edge}.jpg"
            try:
                diff = repr(float(value) - float(previous))
            except (TypeError, ValueError):  # first row, or a cell that is not a number
                diff = ""
            cells = {
                "": frame,
                "ocr": ocr[0] if ocr else value,
                "value": value,
                "manual": str(manual),
                "val_diff": diff,
                "still_errors": str(flagged),
            }
            writer.writerow([cells[c] for c in header])
            previous = value
    return path


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A results/ folder with one Ollama and one ImageNet session, every run usable."""
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(
        folder,
        OLLAMA_STEM,
        OLLAMA_COLUMNS,
        [
            ollama_run(2, 20, **{"params.temperature": "0.1", "metrics.power_draw_total": "338779.61640873255"}),
            ollama_run(1, 0),
        ],
    )
    write_readings(
        folder,
        OLLAMA_STEM,
        [(1, "start", "0.294", False, False), (1, "stop", "0.401", False, False),
         (2, "start", "0.402", False, False), (2, "stop", "0.513", True, False, "0.515")],
    )  # fmt: skip
    write_export(
        folder,
        IMAGENET_STEM,
        IMAGENET_COLUMNS,
        [
            imagenet_run(
                4,
                30,
                **{"params.model": "ConvNeXtTiny", "params.architecture": CPU, "params.parameters": "28589128",
                   "params.n_samples": "3840.0", "metrics.power_draw_total": "28476.476489842204",
                   "metrics.running_time_total": "119.55644751198996"},
            ),
            imagenet_run(3, 20, **{"params.model": "EfficientNetB4", "params.parameters": "19466823"}),
        ],
    )  # fmt: skip
    write_readings(
        folder,
        IMAGENET_STEM,
        [(3, "start", "6.622", False, False), (3, "stop", "6.630", False, False),
         (4, "start", "6.631", False, False), (4, "stop", "6.638", False, False)],
    )  # fmt: skip
    return folder


def records(out: Path, site: str = "fischer2025-desktop") -> dict[str, RunRecord]:
    found = {}
    for path in sorted((out / site).glob("*.json")):
        if path.name.startswith("_"):
            continue
        record = RunRecord.model_validate_json(path.read_bytes())
        found[record.live_estimates[0].raw["study_run_id"]] = record
    return found


def report(out: Path, site: str = "fischer2025-desktop") -> dict:
    return json.loads((out / site / "_import-fischer2025.json").read_text())


# --------------------------------------------------------------------------- join and units


def test_joins_each_run_with_its_photos_by_run_id_and_converts_kwh_to_joules(release: Path, tmp_path: Path):
    out = tmp_path / "out"
    outcome = import_study(release, "fischer2025-desktop", out)
    got = records(out)
    assert sorted(got) == [run_id(n) for n in (1, 2, 3, 4)]
    assert outcome.report.skipped == []

    # 0.401 - 0.294 kWh = 107 Wh, times exactly 3,600,000 J/kWh, no float noise.
    first = got[run_id(1)]
    assert first.energy[0].energy_j == 385200.0
    assert first.truth_j("node") == 385200.0
    # The export lists run 2 before run 1 and the photos the other way round:
    # the join follows the run ids, not the row positions.
    assert got[run_id(2)].truth_j("node") == pytest.approx((0.513 - 0.402) * 3.6e6)
    assert got[run_id(2)].truth_j("node") == 111 * 3600.0
    assert got[run_id(3)].truth_j("node") == 8 * 3600.0
    assert got[run_id(4)].truth_j("node") == 7 * 3600.0


def test_node_truth_states_the_meter_and_its_uncertainty(release: Path, tmp_path: Path):
    import_study(release, "fischer2025-desktop", tmp_path / "out")
    record = records(tmp_path / "out")[run_id(3)]
    (truth,) = record.energy
    assert (truth.boundary, truth.meter_id, truth.method) == ("node", "wall-plug-ocr", "counter")
    assert truth.resolution_j == 3600.0
    assert truth.mean_power_w == pytest.approx(28800.0 / 111.46782408800208)
    assert record.duration_s == pytest.approx(111.46782408800208)
    assert any("+-3600 J" in w and "12.5%" in w for w in record.warnings)  # 1 Wh of 8 Wh
    assert any("8 s after" in w for w in record.warnings)
    # The bound: one 1 Wh step plus the stop photo's 8 s tail at the run's mean power.
    mean_w = 28800.0 / 111.46782408800208
    assert truth.uncertainty.bound_pct == pytest.approx(100 * (3600 + 8 * mean_w) / 28800)
    assert truth.uncertainty.covers_meter_accuracy is False
    assert "accuracy class is not stated" in truth.uncertainty.basis
    assert {m.boundary for m in record.missing_boundaries} == {"gpu", "cpu", "dram"}


def test_codecarbon_is_a_live_estimate_recorded_by_the_study(release: Path, tmp_path: Path):
    import_study(release, "fischer2025-desktop", tmp_path / "out")
    (estimate,) = records(tmp_path / "out")[run_id(1)].live_estimates
    assert estimate.estimator_id == "codecarbon"
    assert estimate.estimator_version == "unknown"
    assert "not stated" in estimate.mode
    assert estimate.boundary == "node"
    # metrics.power_draw_total is already joules (the study multiplied kWh by 3.6e6).
    assert estimate.energy_j == 338102.4709772557
    assert estimate.raw["study_code_commit"] == "1ffbfa560be7fd27159d1da75c8a2e930b8379ee"


def test_workloads_describe_the_study_models_outside_the_pinned_tracks(release: Path, tmp_path: Path):
    import_study(release, "fischer2025-desktop", tmp_path / "out")
    got = records(tmp_path / "out")

    llm = got[run_id(1)]
    spec = llm.workload
    assert (spec.track, spec.domain, spec.task, spec.model.library) == (
        "fischer2025",
        "language",
        "generate",
        "external",
    )
    assert spec.id == "olmo2-7b-t0.7-gpu"
    assert spec.params == 7_300_000_000
    assert spec.flops_per_iteration is None
    assert spec.model.config["tag"] == "olmo2:7b" and spec.model.config["temperature"] == 0.7
    assert spec.seq_len == round(52755 / 281) and spec.new_tokens == round(128682 / 281)
    assert (llm.iterations, llm.items, llm.tokens, llm.device_count) == (281, 281, 128682, 1)
    assert got[run_id(2)].workload.id == "olmo2-7b-t0.1-gpu"

    vision = got[run_id(3)]
    assert vision.workload.id == "efficientnetb4-bs16-gpu"
    assert vision.workload.image_size == 380  # the study's input size for EfficientNetB4
    assert vision.workload.pinned_with == {"tensorflow": "2.20.0"}
    assert (vision.iterations, vision.items) == (32384 // 16, 32384)
    cpu_run = got[run_id(4)]
    assert cpu_run.workload.id == "convnexttiny-bs16-cpu"
    assert cpu_run.device_count == 0 and cpu_run.hardware.cpu_model == CPU and cpu_run.hardware.gpus == []
    assert cpu_run.profile.id == "rtx4090-i9-13900k"


def test_a_reading_fixed_by_hand_is_said_so(release: Path, tmp_path: Path):
    import_study(release, "fischer2025-desktop", tmp_path / "out")
    warnings = records(tmp_path / "out")[run_id(2)].warnings
    assert any("fixed by hand" in w and "'0.515'" in w and "0.513 kWh" in w for w in warnings)


# --------------------------------------------------------------------------- skipped runs


def test_runs_without_trustworthy_readings_are_skipped_and_counted(tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(
        folder,
        OLLAMA_STEM,
        OLLAMA_COLUMNS,
        [ollama_run(n, 2 * n) for n in (1, 2, 3, 4, 5)],
    )
    write_readings(
        folder,
        OLLAMA_STEM,
        [
            (1, "start", "1.000", False, False), (1, "stop", "1.100", False, False),  # good
            (2, "start", "1.101", False, False), (2, "stop", "", False, False),  # OCR failed, never fixed
            (3, "start", "1.300", False, False), (3, "stop", "1.300", False, False),  # display did not advance
            (5, "start", "1.301", False, False), (5, "stop", "1.401", False, False),  # good
            # run 4 was never photographed: unjoinable
        ],
    )  # fmt: skip
    write_export(folder, "ollama_900_2026-05-13_12-34-19", OLLAMA_COLUMNS, [ollama_run(9, 0)])  # no photos at all

    out = tmp_path / "out"
    outcome = import_study(folder, "fischer2025-desktop", out)
    assert sorted(records(out)) == [run_id(1), run_id(5)]
    reasons = {(s.run_id, s.reason) for s in outcome.report.skipped}
    assert reasons == {
        (run_id(2), "missing_reading"),
        (run_id(3), "implausible_reading"),
        (run_id(4), "unjoinable"),
        (run_id(9), "no_readings_file"),
    }
    saved = report(out)
    assert saved["runs_seen"] == 6
    assert saved["skipped_by_reason"] == {
        "implausible_reading": 1,
        "missing_reading": 1,
        "no_readings_file": 1,
        "unjoinable": 1,
    }
    assert len(saved["imported"]) == 2
    assert "skipped 4 run(s)" in outcome.summary()


def test_a_flag_casts_doubt_on_the_flagged_reading_and_the_one_before_it(tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(n, 2 * n) for n in (1, 2, 3)])
    write_readings(
        folder,
        OLLAMA_STEM,
        [
            (1, "start", "1.000", False, False), (1, "stop", "1.100", False, False),
            # Run 2's start reads lower than run 1's stop, so the study flagged it;
            # either reading could be the wrong one.
            (2, "start", "1.090", False, True), (2, "stop", "1.200", False, False),
            (3, "start", "1.201", False, False), (3, "stop", "1.300", False, False),
        ],
    )  # fmt: skip
    out = tmp_path / "out"
    outcome = import_study(folder, "fischer2025-desktop", out)
    assert sorted(records(out)) == [run_id(3)]
    skipped = {s.run_id: s for s in outcome.report.skipped}
    assert skipped[run_id(1)].reason == skipped[run_id(2)].reason == "flagged_reading"
    assert "precedes" in skipped[run_id(1)].detail


def test_a_display_that_went_backwards_unflagged_is_still_caught(tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(1, 0)])
    write_readings(folder, OLLAMA_STEM, [(1, "start", "1.100", False, False), (1, "stop", "1.000", False, False)])
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert [s.reason for s in outcome.report.skipped] == ["flagged_reading"]
    assert records(tmp_path / "out") == {}


def test_a_frozen_session_is_skipped_and_reported(tmp_path: Path):
    # Two sessions in the release show 5.555 kWh on every photo.
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(n, 2 * n) for n in (1, 2)])
    write_readings(folder, OLLAMA_STEM, [(n, e, "5.555", False, False) for n in (1, 2) for e in ("start", "stop")])
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert [s.reason for s in outcome.report.skipped] == ["implausible_reading"] * 2
    assert any("every reading is 5.555 kWh" in w for w in outcome.report.warnings)


# --------------------------------------------------------------------------- provenance and idempotency


def test_every_record_carries_the_provenance_of_the_study(release: Path, tmp_path: Path):
    import_study(release, "fischer2025-desktop", tmp_path / "out", commit="ad7d00dc988ed5bd9b4cf925442ca88007af0d54")
    for record in records(tmp_path / "out").values():
        p = record.provenance
        assert "arXiv:2509.22092" in p.source and "arXiv:2509.22092" in p.citation
        assert "Ground-Truthing AI Energy Consumption" in p.citation
        assert p.repository == "https://github.com/raphischer/ai-energy-validation"
        assert p.commit == "ad7d00dc988ed5bd9b4cf925442ca88007af0d54"
        assert "does not redistribute" in p.note
        stem = OLLAMA_STEM if record.workload.domain == "language" else IMAGENET_STEM
        assert p.files == [f"results/{stem}.csv", f"results/{stem}_image_analysis.csv"]
    assert report(tmp_path / "out")["provenance"]["commit"] == "ad7d00dc988ed5bd9b4cf925442ca88007af0d54"


def test_the_commit_is_read_from_a_checkout_of_the_study(release: Path, tmp_path: Path):
    git = release.parent / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "config").write_text('[remote "origin"]\n\turl = https://github.com/raphischer/ai-energy-validation.git\n')
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("b302e7c4c1ff5231d7a12ef89ae044e9ec6b2e11\n")
    import_study(release.parent, "fischer2025-desktop", tmp_path / "out")  # the checkout's root works too
    assert {r.provenance.commit for r in records(tmp_path / "out").values()} == {
        "b302e7c4c1ff5231d7a12ef89ae044e9ec6b2e11"
    }


def test_rerunning_the_import_changes_nothing(release: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = import_study(release, "fischer2025-desktop", out)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "fischer2025-desktop").iterdir()}
    second = import_study(release, "fischer2025-desktop", out)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "fischer2025-desktop").iterdir()}
    assert before == after
    assert (first.result.written, first.result.unchanged) == (5, 0)  # four records and the report
    assert (second.result.written, second.result.unchanged) == (0, 5)
    assert len(before) == 5


# --------------------------------------------------------------------------- bad input


def test_a_missing_export_column_is_an_input_error_and_writes_nothing(release: Path, tmp_path: Path, capsys):
    rows = [ollama_run(1, 0)]
    write_export(release, OLLAMA_STEM, OLLAMA_COLUMNS, rows, drop="metrics.power_draw_total")
    out = tmp_path / "out"
    code = main(["import", "fischer2025", str(release), "--site", "fischer2025-desktop", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{OLLAMA_STEM}.csv" in err and "'metrics.power_draw_total'" in err
    assert not out.exists()


def test_a_missing_readings_column_is_an_input_error_and_writes_nothing(release: Path, tmp_path: Path):
    write_readings(release, IMAGENET_STEM, [(3, "start", "6.622", False, False)], drop="still_errors")
    with pytest.raises(InputError, match=rf"{IMAGENET_STEM}_image_analysis.csv: column 'still_errors' is missing"):
        import_study(release, "fischer2025-desktop", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_malformed_reading_names_the_file_line_and_column(release: Path, tmp_path: Path):
    write_readings(release, IMAGENET_STEM, [(3, "start", "6.6x2", False, False), (3, "stop", "6.630", False, False)])
    with pytest.raises(InputError, match=r"_image_analysis.csv: line 2: column 'value': expected a reading in kWh"):
        import_study(release, "fischer2025-desktop", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_folder_without_exports_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no MLflow exports"):
        import_study(tmp_path, "fischer2025-desktop", tmp_path / "out")


def test_the_command_line_imports_and_prints_the_accounting(release: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    code = main(["import", "fischer2025", str(release), "--site", "fischer2025-desktop", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "imported 4 run(s)" in printed and "_import-fischer2025.json" in printed
    assert len(records(out)) == 4


def test_an_unknown_importer_names_the_valid_ones(capsys, tmp_path: Path):
    with pytest.raises(InputError, match="Did you mean 'fischer2025'"):
        get_importer("fisher2025")
    assert main(["import", "fisher2025", str(tmp_path), "--site", "x"]) == 2


def test_a_malformed_export_cell_names_the_file_run_and_column(release: Path, tmp_path: Path):
    write_export(release, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(1, 0, **{"metrics.running_time_total": "15 min"})])
    with pytest.raises(InputError, match=rf"{OLLAMA_STEM}.csv: run {run_id(1)}: column 'metrics.running_time_total'"):
        import_study(release, "fischer2025-desktop", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_run_on_other_hardware_is_not_given_the_study_profile(tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(1, 0, **{"params.architecture": "Apple M2"})])
    write_readings(folder, OLLAMA_STEM, [(1, "start", "1.000", False, False), (1, "stop", "1.100", False, False)])
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert [s.reason for s in outcome.report.skipped] == ["unknown_device"]


def test_a_display_that_barely_moved_over_a_long_run_is_implausible(tmp_path: Path):
    # 1 Wh in 898 s: even with a full step of error, under 8 W at the wall.
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(1, 0)])
    write_readings(folder, OLLAMA_STEM, [(1, "start", "1.000", False, False), (1, "stop", "1.001", False, False)])
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    (skipped,) = outcome.report.skipped
    assert skipped.reason == "implausible_reading" and "under 8.0 W" in skipped.detail


# --------------------------------------------------------------------------- quirks of the real release


def test_the_quirks_of_the_real_release_are_read(tmp_path: Path):
    """Seen in the released files, not in the layout the other tests use: a Windows frame
    folder, another column order, a start_time without fractional seconds, a blank line
    at the end, and a hand fix whose OCR text differs from the value (6.816 -> 5.816)."""
    folder = tmp_path / "results"
    folder.mkdir()
    stem = "imagenet_120_2025-09-12_02-10-43"
    export = write_export(
        folder,
        stem,
        IMAGENET_COLUMNS_0910,
        [imagenet_run(6, 20, **{"start_time": "2025-09-12 14:20:27+00:00"}), imagenet_run(5, 10)],
    )
    with export.open("a", encoding="utf-8", newline="") as handle:
        handle.write("\r\n")  # the exports end with an empty line
    write_readings(
        folder,
        stem,
        [(5, "start", "5.809", True, False), (5, "stop", "5.816", True, False, "6.816"),
         (6, "start", "5.818", False, False), (6, "stop", "5.829", False, False)],
        windows=True,
    )  # fmt: skip
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert outcome.report.skipped == [] and outcome.report.warnings == []
    got = records(tmp_path / "out")
    assert got[run_id(5)].truth_j("node") == 7 * 3600.0
    assert any("OCR read '6.816'" in w and "5.816 kWh" in w for w in got[run_id(5)].warnings)
    assert got[run_id(6)].truth_j("node") == 11 * 3600.0
    assert got[run_id(6)].started_at.isoformat() == "2025-09-12T14:20:27+00:00"


def test_readings_above_ten_kwh_are_kept_with_the_10_wh_step_of_the_display(tmp_path: Path):
    # ollama_900_2025-09-12_15-10-06 crosses 10 kWh: from there on every reading has two
    # decimals and was typed in by hand (the OCR reads only d.ddd). The runs are kept with
    # the coarser step as their resolution and uncertainty, not skipped.
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(3, 40), ollama_run(2, 20), ollama_run(1, 0)])
    write_readings(
        folder,
        OLLAMA_STEM,
        [(1, "start", "9.850", False, False), (1, "stop", "9.962", False, False),
         (2, "start", "9.964", False, False), (2, "stop", "10.07", True, False),
         (3, "start", "10.08", True, False), (3, "stop", "10.20", True, False)],
    )  # fmt: skip
    outcome = import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert outcome.report.skipped == []
    got = records(tmp_path / "out")
    assert got[run_id(1)].energy[0].resolution_j == 3600.0
    # Crossing 10 kWh: 9.964 (1 Wh step) -> 10.07 (10 Wh step): 106 Wh, within one 10 Wh step.
    crossing = got[run_id(2)].energy[0]
    assert crossing.energy_j == 106 * 3600.0 and crossing.resolution_j == 36000.0
    above = got[run_id(3)].energy[0]
    assert above.energy_j == pytest.approx(120 * 3600.0) and above.resolution_j == 36000.0
    assert above.uncertainty.bound_pct > 100 * 36000.0 / (120 * 3600.0)
    assert any("10 Wh steps" in w for w in got[run_id(3)].warnings)


def test_a_reading_above_ten_kwh_with_three_decimals_is_not_this_display(tmp_path: Path):
    folder = tmp_path / "results"
    folder.mkdir()
    write_export(folder, OLLAMA_STEM, OLLAMA_COLUMNS, [ollama_run(1, 0)])
    write_readings(folder, OLLAMA_STEM, [(1, "start", "10.081", True, False), (1, "stop", "10.20", True, False)])
    with pytest.raises(InputError, match=r"line 2: column 'value': from 10 kWh on the display counts 10 Wh steps"):
        import_study(folder, "fischer2025-desktop", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the same run twice, re-imports


def test_the_same_run_twice_with_the_same_values_counts_once(release: Path, tmp_path: Path):
    # Run 1 appears again, identical, in a second export of the session.
    write_export(release, "ollama_900_2025-09-19_18-44-41b", OLLAMA_COLUMNS, [ollama_run(1, 0)])
    outcome = import_study(release, "fischer2025-desktop", tmp_path / "out")
    assert sorted(records(tmp_path / "out")) == [run_id(n) for n in (1, 2, 3, 4)]
    dupes = [s for s in outcome.report.skipped if s.reason == "duplicate_row"]
    assert [(s.run_id, s.file, s.line) for s in dupes] == [(run_id(1), "results/ollama_900_2025-09-19_18-44-41b.csv", 2)]
    assert "results/ollama_900_2025-09-19_18-44-41.csv line 3" in dupes[0].detail


def test_the_same_run_twice_with_different_values_is_an_error(release: Path, tmp_path: Path, capsys):
    write_export(
        release, "ollama_900_2025-09-19_18-44-41b", OLLAMA_COLUMNS,
        [ollama_run(1, 0, **{"metrics.power_draw_total": "1.0"})],
    )  # fmt: skip
    out = tmp_path / "out"
    code = main(["import", "fischer2025", str(release), "--site", "fischer2025-desktop", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "ollama_900_2025-09-19_18-44-41b.csv: line 2" in err and "different values" in err
    assert "metrics.power_draw_total" in err and "Traceback" not in err
    assert not out.exists()


def test_a_smaller_reimport_refuses_to_leave_earlier_records_behind_unless_replacing(release: Path, tmp_path: Path):
    out = tmp_path / "out"
    import_study(release, "fischer2025-desktop", out)
    (release / f"{IMAGENET_STEM}.csv").unlink()
    (release / f"{IMAGENET_STEM}_image_analysis.csv").unlink()
    with pytest.raises(InputError, match=r"already holds 2 file\(s\) this import would not write.*--replace"):
        import_study(release, "fischer2025-desktop", out)
    assert sorted(records(out)) == [run_id(n) for n in (1, 2, 3, 4)]  # untouched
    outcome = import_study(release, "fischer2025-desktop", out, replace=True)
    assert sorted(records(out)) == [run_id(1), run_id(2)]
    assert outcome.result.removed == 2
    assert report(out)["imported"] == sorted(r.run_id for r in records(out).values())
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_no_path_of_the_importing_machine_is_stored(release: Path, tmp_path: Path):
    out = tmp_path / "out"
    import_study(release, "fischer2025-desktop", out)
    assert report(out)["source_dir"] == "results"
    for path in (out / "fischer2025-desktop").iterdir():
        assert str(tmp_path) not in path.read_text(), path.name
    record = records(out)[run_id(1)]
    assert [(x.file, x.line) for x in record.provenance.lines] == [
        (f"results/{OLLAMA_STEM}.csv", 3),
        (f"results/{OLLAMA_STEM}_image_analysis.csv", 2),
        (f"results/{OLLAMA_STEM}_image_analysis.csv", 3),
    ]
    assert record.provenance.study == "fischer2025"

"""`joulebench launch slurm|submit` and `joulebench slurm collect` without a cluster (sbatch and sacct scripted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.cluster import launch, slurm
from joulebench.errors import InputError
from joulebench.formats import EstimateFile, MissingBoundary
from tests.doubles.records import make_record

GOLDEN = Path(__file__).parent / "golden"
GPU_V1_ARGS = ["launch", "slurm", "--track", "gpu-v1", "--profile", "nvidia-h100-sxm", "--site", "mylab",
               "--out", "/srv/joulebench/results", "--partition", "gpu", "--live-estimator", "slurm-sstat",
               "--setup", "source /opt/joulebench/.venv/bin/activate"]


def test_dry_run_prints_the_golden_script_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*GPU_V1_ARGS, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out == (GOLDEN / "launch-gpu-v1.sbatch").read_text()
    assert "nothing written" in err and "/srv/joulebench/results/mylab/_launch/gpu-v1-" in err
    assert list(tmp_path.iterdir()) == []


def test_dry_run_of_a_track_with_two_node_counts_prints_both_scripts(capsys):
    assert main(["launch", "slurm", "--track", "gpu-v1-multi", "--profile", "nvidia-dgx-h100", "--site", "mylab",
                 "--out", "/srv/r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "# ===== gpu-v1-multi-1node.sbatch =====" in out and "# ===== gpu-v1-multi-2node.sbatch =====" in out


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["launch", "slurm", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "ci",
            "--out", str(tmp_path / "results"), "--repeats", "1", "--launch-id", "smoke-1", *extra]


def test_a_launch_is_written_atomically_and_never_over_another(tmp_path, capsys):
    assert main(_args(tmp_path)) == 0
    folder = tmp_path / "results" / "ci" / "_launch" / "smoke-1"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "smoke-1node.sbatch"]
    manifest = launch.load_manifest(folder / "manifest.json")
    assert [t.workload for t in manifest.jobs[0].tasks] == ["gpt2_tiny_generate", "mobilenet_v3_small_infer",
                                                             "mobilenet_v3_small_train"]
    assert manifest.jobs[0].job_id is None
    script = folder / "smoke-1node.sbatch"
    assert script.stat().st_mode & 0o777 == 0o755
    assert script.read_text() == launch.scripts(manifest)["smoke-1node.sbatch"]
    assert "joulebench launch submit" in capsys.readouterr().err
    assert main(_args(tmp_path)) == 2
    assert "exists already" in capsys.readouterr().err


def test_submit_records_each_job_id_and_a_second_submit_skips_it(tmp_path, monkeypatch, capsys):
    calls = []

    def sbatch(argv):
        calls.append(argv)
        return "4242\n" if len(calls) == 1 else "4243;jbci\n"

    monkeypatch.setattr(launch, "run_slurm", sbatch)
    assert main([*_args(tmp_path), "--submit"]) == 0
    folder = tmp_path / "results" / "ci" / "_launch" / "smoke-1"
    manifest = launch.load_manifest(folder / "manifest.json")
    assert manifest.jobs[0].job_id == "4242" and manifest.jobs[0].submitted_at is not None
    assert calls == [["sbatch", "--parsable", f"--output={folder}/smoke-1node-%A_%a.out", str(folder / "smoke-1node.sbatch")]]
    assert capsys.readouterr().out.startswith("4242 smoke-1node.sbatch (3 task(s)")
    files = launch.LaunchFiles(folder, folder / "manifest.json", [folder / "smoke-1node.sbatch"])
    launch.submit(files, run=sbatch)
    assert len(calls) == 1  # already submitted


def test_launch_submit_refuses_an_edited_script(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(launch, "run_slurm", lambda argv: "7\n")
    assert main(_args(tmp_path)) == 0
    folder = tmp_path / "results" / "ci" / "_launch" / "smoke-1"
    script = folder / "smoke-1node.sbatch"
    original = script.read_text()
    script.write_text(original.replace("--exclusive", "--oversubscribe"))
    assert main(["launch", "submit", str(folder)]) == 2
    assert "differs from the script its manifest renders" in capsys.readouterr().err
    script.write_text(original)
    assert main(["launch", "submit", str(folder)]) == 0
    assert launch.load_manifest(folder / "manifest.json").jobs[0].job_id == "7"


def test_a_multi_rank_track_is_submitted_one_job_per_node_count(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(launch, "run_slurm", lambda argv: calls.append(argv) or f"{100 + len(calls)}\n")
    args = ["launch", "slurm", "--track", "smoke-multi", "--profile", "x86-cpu-server", "--site", "ci",
            "--out", str(tmp_path / "r"), "--launch-id", "multi", "--submit"]
    assert main(args) == 0
    manifest = launch.load_manifest(tmp_path / "r" / "ci" / "_launch" / "multi" / "manifest.json")
    assert [(j.nodes, j.distributed, j.job_id) for j in manifest.jobs] == [(1, True, "101"), (2, True, "102")]
    assert [c[-1].rsplit("/", 1)[-1] for c in calls] == ["smoke-multi-1node.sbatch", "smoke-multi-2node.sbatch"]
    script = (tmp_path / "r" / "ci" / "_launch" / "multi" / "smoke-multi-1node.sbatch").read_text()
    assert "--nproc-per-node=\"${RANKS_PER_NODE[$SLURM_ARRAY_TASK_ID]}\"" in script and "--no-python" in script


# --------------------------------------------------------------------------- slurm collect


def _records(results: Path) -> list:
    from datetime import datetime, timedelta, timezone

    out = []
    for i, workload in enumerate(("net-a", "net-b")):
        start = datetime.fromtimestamp(1796162310 + 5 * i, tz=timezone.utc)
        record = make_record(workload_id=workload, truth={"cpu": 200.0}, site="ci", duration_s=2.0).model_copy(update={
            "started_at": start, "ended_at": start + timedelta(seconds=2),
            "missing_boundaries": [MissingBoundary(boundary="dram", reason="RAPL: no dram zone under /sys/class/powercap")],
        })
        path = results / "ci" / f"{record.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.model_dump_json())
        out.append(record)
    return out


def test_collect_from_a_saved_sacct_file_then_score_the_estimates(tmp_path, capsys):
    results = tmp_path / "results"
    records = _records(results)
    manifest = slurm.plan_launch(
        launch_id="smoke-1", created_at=records[0].started_at, joulebench_version="0.1.0",
        specs=[r.workload for r in records], profile=records[0].profile, site="ci", out_dir=results)
    job = manifest.jobs[0].model_copy(update={"job_id": "4"})
    manifest = manifest.model_copy(update={"jobs": [job]})
    launch.write_launch(manifest)
    sacct = tmp_path / "sacct.txt"
    sacct.write_text("4_0.0|5.0|COMPLETED|1796162300|1796162330|30|3000|n1\n"
                     "4_1.0|4.0|COMPLETED|1796162300|1796162330|30|6000|n2\n")
    estimates = tmp_path / "estimates.json"
    assert main(["slurm", "collect", "--runs", str(results), "--sacct-file", str(sacct), "--slurm-version", "22.05.8",
                 "--energy-plugin", "acct_gather_energy/rapl", "--out", str(estimates)]) == 0
    document = EstimateFile.model_validate_json(estimates.read_text())
    assert {e.run_id: e.energy_j for e in document.estimates} == {records[0].run_id: 200.0, records[1].run_id: 400.0}
    assert {(e.estimator_id, e.estimator_version, e.boundary) for e in document.estimates} == {
        ("slurm-sacct", "22.05.8", "cpu")}
    capsys.readouterr()
    assert main(["score", "--runs", str(results), "--submission", str(estimates), "--boundary", "cpu",
                 "--format", "json", "--resamples", "200"]) == 0
    summary = json.loads(capsys.readouterr().out)
    scored = [s for s in summary["scores"] if s["estimator_id"] == "slurm-sacct" and s["slice"] == "all"]
    assert scored and scored[0]["mape_pct"] == pytest.approx(50.0)  # 200 J of 200 J, and 400 J of 200 J


def test_collect_needs_job_ids_or_a_sacct_file(tmp_path, capsys):
    results = tmp_path / "results"
    _records(results)
    assert main(["slurm", "collect", "--runs", str(results), "--out", str(tmp_path / "e.json")]) == 2
    assert "no Slurm job ids" in capsys.readouterr().err
    assert main(["slurm", "collect", "--runs", str(results), "--sacct-file", "x", "--out", "e.json"]) == 2
    assert "needs --slurm-version" in capsys.readouterr().err


def test_collect_with_nothing_joined_writes_nothing(tmp_path, capsys):
    results = tmp_path / "results"
    _records(results)
    sacct = tmp_path / "sacct.txt"
    sacct.write_text("")
    out = tmp_path / "e.json"
    assert main(["slurm", "collect", "--runs", str(results), "--sacct-file", str(sacct), "--slurm-version", "22.05.8",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no estimates" in err and "no launch manifest names it" in err and not out.exists()


def test_launch_manifests_are_found_under_results_or_a_site(tmp_path):
    for site in ("a", "b"):
        path = tmp_path / site / "_launch" / "x" / "manifest.json"
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    assert len(launch.find_manifests(tmp_path)) == 2
    assert len(launch.find_manifests(tmp_path / "a")) == 1
    with pytest.raises(InputError, match="field 'launch_id': required field is missing"):
        launch.load_manifest(tmp_path / "a" / "_launch" / "x" / "manifest.json")

"""joulebench on a real Slurm cluster: a job array of the smoke track, Slurm's energy claim scored, requeue.

The cluster (tests/slurm/cluster.py) has two emulated nodes whose synthetic
RAPL sources draw n1 = 100 W and n2 = 50 W: the truth every number here is
checked against. It is a test double; nothing here is a measurement of real
hardware.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from joulebench.cli import main
from joulebench.cluster import launch
from joulebench.formats import EstimateFile
from joulebench.records import load_records
from joulebench.scoring import score_runs
from tests.optional import need_torch
from tests.slurm.cluster import NODE_WATTS

JOB_TIMEOUT_S = 240


def squeue(cluster, job_id: str) -> list[str]:
    return cluster.run("squeue", "-h", "-j", job_id, "-o", "%i %T", check=False).stdout.split("\n")


def wait_for(cluster, job_id: str, timeout_s: float = JOB_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(line.strip() for line in squeue(cluster, job_id)):
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still queued or running after {timeout_s} s: {squeue(cluster, job_id)}")


def sacct_steps(cluster, job_id: str, expected: int, timeout_s: float = 30.0):
    """sacct rows of a finished job (slurmdbd stores them asynchronously, so wait for them)."""
    from joulebench.cluster import slurm

    deadline = time.monotonic() + timeout_s
    while True:
        env = {**cluster.env(), **slurm.SACCT_ENVIRONMENT}
        text = subprocess.run(slurm.sacct_argv([job_id]), capture_output=True, text=True, env=env).stdout
        steps = slurm.parse_sacct(text)
        done = [s for s in steps if s.end is not None and s.consumed_energy_j is not None]
        if len(done) >= expected or time.monotonic() > deadline:
            return steps
        time.sleep(1)


def submit_launch(args: list[str], capsys) -> tuple[str, Path]:
    assert main(args) == 0
    out = capsys.readouterr().out
    job_id = out.split()[0]
    assert job_id.isdigit(), out
    return job_id, Path(args[args.index("--out") + 1])


# --------------------------------------------------------------------------- the cluster itself


def test_the_synthetic_sources_are_visible_only_inside_the_nodes(slurm_cluster):
    assert not Path("/dev/cpu/0/msr").exists()
    assert "jb-synthetic" not in Path("/proc/self/mountinfo").read_text()
    for node in NODE_WATTS:
        seen = slurm_cluster.run("srun", "-w", node, "-N1", "-n1", "cat", "/sys/class/powercap/intel-rapl:0/name")
        assert seen.stdout.strip() == "package-0"


def test_slurm_charges_each_exclusive_job_its_nodes_watts(slurm_cluster, tmp_path):
    job = slurm_cluster.run("sbatch", "--parsable", "--array=0-1", "--exclusive", f"--output={tmp_path}/%A_%a.out",
                            "--wrap", "srun sleep 4").stdout.strip()
    wait_for(slurm_cluster, job)
    steps = [s for s in sacct_steps(slurm_cluster, job, 2) if s.job_id.endswith(".0")]
    assert len(steps) == 2
    for step in steps:
        watts = NODE_WATTS[step.nodelist]
        # Whole seconds and whole joules: within one second's energy.
        assert abs(step.consumed_energy_j - watts * step.elapsed_s) <= 1.5 * watts, step


SSTAT_WINDOW = """
import json, sys, time
from pathlib import Path
from joulebench.estimators import open_live
from joulebench.measure.meters.rapl import discover
meter = next(m for m in discover(Path("/sys/class/powercap")).meters if m.boundary == "cpu")
estimator = open_live("slurm-sstat", Path(sys.argv[1]))
estimator.start()
e0, t0 = meter.read_energy_j(), time.monotonic()
time.sleep(3.0)
e1, t1 = meter.read_energy_j(), time.monotonic()
[estimate] = estimator.stop()
print(json.dumps({"truth_j": e1 - e0, "seconds": t1 - t0, "estimate": estimate.model_dump()}))
"""


@pytest.mark.parametrize("node", sorted(NODE_WATTS))
def test_slurm_sstat_against_the_synthetic_truth(slurm_cluster, joulebench_on_nodes, tmp_path, node):
    script = tmp_path / "window.py"
    script.write_text(SSTAT_WINDOW)
    command = f"{joulebench_on_nodes['setup']}; {sys.executable} {script} {tmp_path}"
    result = slurm_cluster.run("srun", "-w", node, "-N1", "-n1", "--exclusive", "bash", "-c", command, timeout=120)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    watts = NODE_WATTS[node]
    estimate = measured["estimate"]
    # joulebench's RaplMeter reads the synthetic counter: within 2% of watts x seconds.
    assert measured["truth_j"] == pytest.approx(watts * measured["seconds"], rel=0.02)
    # Slurm's claim spans from its first sstat call to its second (a little more than the
    # metered window), in whole joules: within 10% of the truth over 3 s.
    assert estimate["boundary"] == "cpu" and estimate["estimator_id"] == "slurm-sstat"
    assert estimate["energy_j"] == pytest.approx(measured["truth_j"], rel=0.10)
    span = estimate["raw"]["stop"]["called_at"] - estimate["raw"]["start"]["called_at"]
    assert estimate["energy_j"] == pytest.approx(watts * span, abs=2.0 + 0.05 * watts * span)


# --------------------------------------------------------------------------- the smoke track as a job array


@pytest.fixture(scope="module")
def smoke_array(slurm_cluster, tmp_path_factory):
    """`joulebench launch slurm --submit` of the smoke track: three array tasks, one record each."""
    from tests.slurm.conftest import REPO

    need_torch()  # the tasks build the smoke track's models

    results = tmp_path_factory.mktemp("smoke-array") / "results"
    args = ["launch", "slurm", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "ci-slurm",
            "--out", str(results), "--repeats", "1", "--idle-seconds", "1", "--live-estimator", "slurm-sstat",
            "--setup", f"export PYTHONPATH={REPO / 'suite'} OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1",
            "--joulebench", f"{sys.executable} -m joulebench", "--launch-id", "smoke-array", "--submit"]
    assert main(args) == 0
    manifest_path = results / "ci-slurm" / "_launch" / "smoke-array" / "manifest.json"
    job_id = launch.load_manifest(manifest_path).jobs[0].job_id
    t0 = time.monotonic()
    wait_for(slurm_cluster, job_id)
    sys.stderr.write(f"\n[slurm lane] smoke array {job_id}: {time.monotonic() - t0:.1f} s\n")
    return job_id, results, launch.load_manifest(manifest_path)


def test_a_three_task_array_writes_three_valid_records(smoke_array, slurm_cluster):
    job_id, results, manifest = smoke_array
    logs = "\n".join(p.read_text()[-2000:] for p in sorted((results / "ci-slurm" / "_launch" / "smoke-array").glob("*.out")))
    records = load_records(results)
    assert len(records) == 3, logs
    assert {r.run_id for r in records} == {t.run_ids[0] for t in manifest.jobs[0].tasks}
    order = [t.workload for t in manifest.jobs[0].tasks]
    for record in records:
        cpu = next(e for e in record.energy if e.boundary == "cpu")
        assert cpu.meter_id == "rapl:cpu"
        assert min(NODE_WATTS.values()) * 0.9 <= cpu.idle_power_w <= max(NODE_WATTS.values()) * 1.1
        # Every record names the job, the array task that ran it and the srun step (single-process too).
        scheduler = record.scheduler
        assert (scheduler.array_job_id, scheduler.array_task_id, scheduler.step_id) == (
            job_id, order.index(record.workload.id), "0")
        assert scheduler.job_id.isdigit() and scheduler.cluster == "jbci" and scheduler.nodelist in NODE_WATTS
        assert scheduler.exclusive is True and scheduler.restart_count == 0
        assert record.topology is None  # one process: no topology block
        [live] = record.live_estimates
        assert (live.estimator_id, live.boundary) == ("slurm-sstat", "cpu") and live.energy_j > 0
    steps = [s for s in sacct_steps(slurm_cluster, job_id, 3) if s.job_id.endswith(".0")]
    assert sorted(s.job_id for s in steps) == [f"{job_id}_{i}.0" for i in range(3)]
    assert all(s.state == "COMPLETED" for s in steps)


def test_the_slurm_estimator_is_scored_and_on_the_leaderboard(smoke_array, tmp_path):
    _, results, _ = smoke_array
    summary = score_runs(results, resamples=200)
    # Smoke windows are short, so some runs' RAPL truth is looser than the headline's bound: they are scored
    # apart (slice "truth"), but every run is scored, and the ranked ones have a MAPE.
    scored = [s for s in summary.scores if s.estimator_id == "slurm-sstat" and s.slice in ("all", "truth")
              and s.boundary == "cpu"]
    assert sum(s.n for s in scored) == 3 and all(s.mape_pct is not None for s in scored if s.n)
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--runs", str(results), "--out", str(site)]) == 0
    pages = " ".join(p.read_text() for p in site.rglob("*.html"))
    assert "slurm-sstat" in pages


def test_slurm_collect_turns_sacct_history_into_a_scored_submission(smoke_array, slurm_cluster, tmp_path, capsys):
    job_id, results, _ = smoke_array
    sacct_steps(slurm_cluster, job_id, 3)
    estimates = tmp_path / "slurm-sacct.json"
    assert main(["slurm", "collect", "--runs", str(results), "--out", str(estimates)]) == 0
    document = EstimateFile.model_validate_json(estimates.read_text())
    assert len(document.estimates) == 3
    assert {(e.estimator_id, e.boundary) for e in document.estimates} == {("slurm-sacct", "cpu")}
    capsys.readouterr()
    assert main(["score", "--runs", str(results), "--submission", str(estimates), "--boundary", "cpu",
                 "--format", "json", "--resamples", "200"]) == 0
    summary = json.loads(capsys.readouterr().out)
    runs_scored: dict[str, int] = {}
    for s in summary["scores"]:
        if s["slice"] in ("all", "truth"):  # the headline and the runs scored apart: every run once
            runs_scored[s["estimator_id"]] = runs_scored.get(s["estimator_id"], 0) + s["n"]
    assert runs_scored.get("slurm-sacct") == 3 and runs_scored.get("slurm-sstat") == 3


def test_the_dry_run_script_is_accepted_by_sbatch_as_is(slurm_cluster, joulebench_on_nodes, tmp_path, capsys):
    args = ["launch", "slurm", "--track", "smoke", "--profile", "x86-cpu-server", "--site", "ci-slurm",
            "--out", str(tmp_path / "results"), "--setup", joulebench_on_nodes["setup"],
            "--joulebench", joulebench_on_nodes["joulebench"], "--dry-run"]
    assert main(args) == 0
    script = tmp_path / "smoke.sbatch"
    script.write_text(capsys.readouterr().out)
    checked = slurm_cluster.run("sbatch", "--test-only", str(script), check=False)
    assert checked.returncode == 0 and "to start at" in checked.stderr, checked.stderr


# --------------------------------------------------------------------------- requeue


def test_a_task_killed_mid_run_and_requeued_resumes_without_duplicates(slurm_cluster, joulebench_on_nodes, tmp_path, capsys):
    results = tmp_path / "results"
    repeats = 25
    args = ["launch", "slurm", "--track", "smoke", "--only", "mobilenet_v3_small_train", "--profile", "x86-cpu-server",
            "--site", "ci-requeue", "--out", str(results), "--repeats", str(repeats), "--idle-seconds", "1",
            "--setup", joulebench_on_nodes["setup"], "--joulebench", joulebench_on_nodes["joulebench"],
            "--launch-id", "requeue", "--submit"]
    job_id, _ = submit_launch(args, capsys)
    site = results / "ci-requeue"
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline and not list(site.glob("*.json")):
        time.sleep(0.05)
    task = f"{job_id}_0"
    slurm_cluster.run("scontrol", "requeue", task)
    before = {p.name: p.read_bytes() for p in site.glob("*.json")}
    assert 1 <= len(before) < repeats, "the task was not stopped mid-run"
    # Slurm holds a requeued job until now + 120 s (its BeginTime); release it at once.
    time.sleep(1)
    slurm_cluster.run("scontrol", "update", f"JobId={task}", "StartTime=now", check=False)
    wait_for(slurm_cluster, job_id)

    log = "".join(p.read_text() for p in (site / "_launch" / "requeue").glob("*.out"))
    records = load_records(results)
    assert len(records) == repeats, log[-3000:]
    assert sorted(r.repeat for r in records) == list(range(1, repeats + 1))
    for name, data in before.items():  # windows recorded before the kill were skipped, not redone
        assert (site / name).read_bytes() == data
    # The same run ids, resumed by the requeued attempt, which says it is one.
    restarts = {r.run_id: r.scheduler.restart_count for r in records}
    assert {restarts[r.run_id] for r in records if f"{r.run_id}.json" in before} == {0}
    assert {restarts[r.run_id] for r in records if f"{r.run_id}.json" not in before} == {1}
    assert {r.scheduler.array_job_id for r in records} == {job_id}
    assert not [p for p in site.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    steps = sorted((s for s in sacct_steps(slurm_cluster, job_id, 2) if s.job_id == f"{task}.0"),
                   key=lambda s: s.start)
    assert [s.state for s in steps] == ["CANCELLED", "COMPLETED"], steps  # killed, then resumed

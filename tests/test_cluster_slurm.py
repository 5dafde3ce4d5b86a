"""joulebench.cluster.slurm without a cluster: Slurm's text in (captured from Slurm 22.05), scripts and estimates out."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.cluster import slurm
from joulebench.errors import InputError
from joulebench.formats import (
    LaunchManifest,
    MissingBoundary,
    SchedulerInfo,
    SlurmSettings,
    TimeLimitRule,
)
from tests.doubles.records import make_record

GOLDEN = Path(__file__).parent / "golden"
CREATED = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)

# `scontrol show config` of the CI cluster (abridged).
SCONTROL_CONFIG = """\
Configuration data as of 2026-12-01T21:54:00
AccountingStorageType   = accounting_storage/slurmdbd
AcctGatherEnergyType    = acct_gather_energy/rapl
AcctGatherNodeFreq      = 1 sec
ClusterName             = jbci
SLURM_VERSION           = 22.05.8
"""

SCONTROL_JOB = """\
JobId=3 ArrayJobId=2 ArrayTaskId=0 JobName=wrap
   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0
   Partition=ci AllocNode:Sid=localhost:22074
   OverSubscribe=NO Contiguous=0 Licenses=(null) Network=(null)
"""


def fake_runner(outputs: dict[str, str]):
    calls = []

    def run(argv):
        calls.append(list(argv))
        for prefix, text in outputs.items():
            if " ".join(argv).startswith(prefix):
                return text
        raise slurm.SlurmCommandError(f"{argv[0]}: no scripted answer for {argv}")

    run.calls = calls
    return run


# --------------------------------------------------------------------------- the energy plugin


@pytest.mark.parametrize("configured,boundary,dram", [
    ("acct_gather_energy/rapl", "cpu", True),
    ("acct_gather_energy/ipmi", "node", False),
    ("acct_gather_energy/xcc", "node", False),
    ("acct_gather_energy/pm_counters", "node", False),
    ("acct_gather_energy/gpu", "gpu", False),
    ("acct_gather_energy/none", None, False),
    ("(null)", None, False),
    ("acct_gather_energy/something_new", None, False),
])
def test_the_energy_plugin_decides_the_boundary(configured, boundary, dram):
    plugin = slurm.energy_plugin(configured)
    assert (plugin.boundary, plugin.includes_dram) == (boundary, dram)
    assert plugin.note


def test_rapl_is_comparable_with_cpu_only_without_a_dram_domain():
    rapl = slurm.energy_plugin("acct_gather_energy/rapl")
    assert slurm.dram_counted_in_cpu_claim(rapl, has_dram_domain=True)
    assert not slurm.dram_counted_in_cpu_claim(rapl, has_dram_domain=False)
    assert not slurm.dram_counted_in_cpu_claim(slurm.energy_plugin("acct_gather_energy/ipmi"), has_dram_domain=True)


def test_scontrol_config_and_version_are_read():
    config = slurm.parse_scontrol_config(SCONTROL_CONFIG)
    assert config["AcctGatherEnergyType"] == "acct_gather_energy/rapl" and config["ClusterName"] == "jbci"
    assert slurm.read_energy_plugin(fake_runner({"scontrol show config": SCONTROL_CONFIG})).boundary == "cpu"
    assert slurm.parse_version("slurm-wlm 22.05.8\n") == "22.05.8"
    assert slurm.parse_version("slurm 23.11.4") == "23.11.4"


# --------------------------------------------------------------------------- the scheduler block


ARRAY_TASK_ENV = {
    "SLURM_JOB_ID": "3", "SLURM_ARRAY_JOB_ID": "2", "SLURM_ARRAY_TASK_ID": "0", "SLURM_STEP_ID": "0",
    "SLURM_JOB_NODELIST": "n1", "SLURM_CLUSTER_NAME": "jbci", "SLURM_JOB_PARTITION": "ci", "SLURM_RESTART_COUNT": "1",
}


def test_scheduler_block_from_a_job_array_task():
    run = fake_runner({"scontrol show job 3": SCONTROL_JOB, "scontrol show config": SCONTROL_CONFIG})
    info = slurm.scheduler_from_env(ARRAY_TASK_ENV, run)
    assert info == SchedulerInfo(kind="slurm", cluster="jbci", job_id="3", array_job_id="2", array_task_id=0,
                                 step_id="0", nodelist="n1", partition="ci", exclusive=True, restart_count=1,
                                 acct_gather_energy="acct_gather_energy/rapl")


def test_scheduler_block_without_scontrol_and_outside_slurm():
    info = slurm.scheduler_from_env({"SLURM_JOB_ID": "9"})
    assert (info.job_id, info.exclusive, info.step_id, info.restart_count) == ("9", None, None, 0)
    shared = fake_runner({"scontrol show job": "OverSubscribe=OK\n"})
    assert slurm.scheduler_from_env({"SLURM_JOB_ID": "9"}, shared).exclusive is False
    assert slurm.scheduler_from_env({"PATH": "/bin"}) is None
    assert slurm.current_step({"SLURM_JOB_ID": "9"}) == "9.batch"
    assert slurm.current_step({"SLURM_JOB_ID": "9", "SLURM_STEP_ID": "2"}) == "9.2"
    assert slurm.current_step({}) is None


# --------------------------------------------------------------------------- sstat and sacct


def test_sstat_energy_of_the_step():
    assert slurm.parse_sstat_energy("1.0|304\n", "1.0") == 304
    assert slurm.parse_sstat_energy("1.0|\n", "1.0") is None  # no energy plugin: an empty field
    assert slurm.parse_sstat_energy("1.1|50\n", "1.0") is None
    assert slurm.sstat_argv("1.0") == ["sstat", "--noheader", "--parsable2", "--jobs=1.0",
                                       "--format=JobID,ConsumedEnergyRaw"]


# `SLURM_TIME_FORMAT=%s sacct ... --duplicates`: task 0 was requeued once (its first attempt is REQUEUED).
SACCT = """\
4_0|5|REQUEUED|1796162300|1796162302|2||n1
4_0.batch|5.batch|CANCELLED|1796162300|1796162302|2|202|n1
4_0.0|5.0|CANCELLED|1796162300|1796162302|2|183|n1
4_0|5|COMPLETED|1796162310|1796162330|20|1956|n1
4_0.batch|5.batch|COMPLETED|1796162310|1796162330|20|1967|n1
4_0.0|5.0|COMPLETED|1796162310|1796162330|20|1956|n1
4_1|4|COMPLETED|1796162300|1796162315|15|741|n2
4_1.batch|4.batch|COMPLETED|1796162300|1796162315|15|744|n2
4_1.0|4.0|COMPLETED|1796162300|1796162315|15|741|n2
"""


def test_sacct_rows_with_epoch_or_local_times():
    steps = slurm.parse_sacct(SACCT)
    assert len(steps) == 9
    first = steps[2]
    assert (first.job_id, first.job_id_raw, first.state, first.elapsed_s, first.consumed_energy_j) == (
        "4_0.0", "5.0", "CANCELLED", 2, 183)
    assert first.start == datetime.fromtimestamp(1796162300, tz=timezone.utc)
    assert steps[0].consumed_energy_j is None
    iso = slurm.parse_sacct("7.0|7.0|COMPLETED|2026-12-01T21:54:44|2026-12-01T21:54:46|2|200|n1\n")[0]
    assert iso.end - iso.start == timedelta(seconds=2) and iso.start.tzinfo is not None
    assert "--duplicates" in slurm.sacct_argv(["4", "3", "4"]) and "--jobs=3,4" in slurm.sacct_argv(["4", "3", "4"])


def test_bad_sacct_output_names_the_line():
    with pytest.raises(InputError, match="line 2: expected 8 fields"):
        slurm.parse_sacct("4_1.0|4.0|COMPLETED|1|2|1|5|n1\n4_1.0|4.0|COMPLETED\n", "saved.txt")


# --------------------------------------------------------------------------- launch plans and scripts


def _plan(track="smoke", profile="x86-cpu-server", **kwargs) -> LaunchManifest:
    return slurm.plan_launch(
        launch_id=f"{track}-test", created_at=CREATED, joulebench_version="0.1.0",
        specs=catalog.load_workloads(track), profile=catalog.get_profile(profile), site="mylab",
        out_dir=Path("/srv/joulebench/results"), **kwargs,
    )


def test_the_time_limit_is_the_stated_rule():
    rule = TimeLimitRule()
    spec = catalog.select_workloads("gpu-v1", ["llama_7b_prefill"])[0]
    bracket, limit = slurm.task_time_limit_s(spec, rule, repeats=None, idle_s=3.0)
    iteration = spec.target_window_s / spec.measured_iterations
    assert bracket == pytest.approx(10 + 2 + 3 + spec.warmup_iterations * iteration + 3 * spec.target_window_s)
    assert limit == 60 * -(-(3 * bracket + 600) // 60) and limit % 60 == 0
    smoke = catalog.load_workloads("smoke")[0]
    assert slurm.task_time_limit_s(smoke, rule, 1, 1.0)[0] == pytest.approx(
        10 + 2 + 1 + smoke.warmup_iterations * 60 / smoke.measured_iterations + 60)


def test_a_plan_is_one_array_per_node_count_with_run_ids():
    manifest = _plan("gpu-v1-multi", "nvidia-dgx-h100", repeats=2)
    assert [(j.script, j.nodes, len(j.tasks), j.distributed) for j in manifest.jobs] == [
        ("gpu-v1-multi-1node.sbatch", 1, 7, True), ("gpu-v1-multi-2node.sbatch", 2, 1, True)]
    task = manifest.jobs[1].tasks[0]
    assert (task.workload, task.ranks_per_node, len(task.run_ids)) == ("llama_7b_fsdp16_train", 8, 2)
    assert task.run_ids[0].startswith("mylab.llama_7b_fsdp16_train.")
    assert manifest.slurm.gpus_per_node == 8
    assert manifest.jobs[0].time_limit_s == max(t.time_limit_s for t in manifest.jobs[0].tasks)
    assert LaunchManifest.model_validate_json(manifest.model_dump_json()) == manifest


def test_a_plan_refuses_a_profile_too_small_for_its_ranks_and_a_relative_out():
    with pytest.raises(InputError, match=r"runs \d GPU rank.* declares 1 GPU"):
        _plan("gpu-v1-multi", "nvidia-h100-sxm")
    with pytest.raises(InputError, match="expected an absolute path"):
        slurm.plan_launch(launch_id="x", created_at=CREATED, joulebench_version="0", site="s",
                          specs=catalog.load_workloads("smoke"), profile=catalog.get_profile("x86-cpu-server"),
                          out_dir=Path("results"))


def test_the_gpu_v1_script_is_the_golden_one():
    manifest = _plan("gpu-v1", "nvidia-h100-sxm", live_estimators=["slurm-sstat"],
                     slurm=SlurmSettings(partition="gpu", setup=["source /opt/joulebench/.venv/bin/activate"]))
    [job] = manifest.jobs
    text = slurm.render_script(manifest, job)
    assert text == (GOLDEN / "launch-gpu-v1.sbatch").read_text()


def test_the_multi_node_script_is_the_golden_one():
    manifest = _plan("gpu-v1-multi", "nvidia-dgx-h100", slurm=SlurmSettings(account="ml", time_limit_override_min=45))
    text = slurm.render_script(manifest, manifest.jobs[1])
    assert text == (GOLDEN / "launch-gpu-v1-multi-2node.sbatch").read_text()
    assert "#SBATCH --time=0:45:00" in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash to check the scripts' syntax")
@pytest.mark.parametrize("track,profile", [("gpu-v1", "nvidia-h100-sxm"), ("gpu-v1-multi", "nvidia-dgx-h100"),
                                           ("smoke", "x86-cpu-server"), ("smoke-multi", "x86-cpu-server")])
def test_every_script_is_valid_bash(track, profile, tmp_path):
    manifest = _plan(track, profile, slurm=SlurmSettings(joulebench="'/opt/jb venv/bin/python' -m joulebench"))
    for job in manifest.jobs:
        path = tmp_path / job.script
        path.write_text(slurm.render_script(manifest, job))
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "'/opt/jb venv/bin/python' -m joulebench run" in path.read_text()


# --------------------------------------------------------------------------- collect


def _record(workload_id: str, start: int, seconds: float, *, scheduler: SchedulerInfo | None = None,
            dram: bool = False, site: str = "mylab"):
    record = make_record(workload_id=workload_id, truth={"cpu": 100.0 * seconds, **({"dram": 5.0} if dram else {})},
                         site=site)
    update = {
        "started_at": datetime.fromtimestamp(start, tz=timezone.utc),
        "ended_at": datetime.fromtimestamp(start, tz=timezone.utc) + timedelta(seconds=seconds),
        "duration_s": seconds,
        "scheduler": scheduler,
    }
    if not dram:
        update["missing_boundaries"] = [MissingBoundary(boundary="dram", reason="RAPL: no dram zone under /sys/class/powercap")]
    return record.model_copy(update=update)


def _manifest_for(records, job_id: str = "4") -> LaunchManifest:
    manifest = _plan("smoke")
    tasks = [manifest.jobs[0].tasks[0].model_copy(update={"index": i, "workload": r.workload.id, "run_ids": [r.run_id]})
             for i, r in enumerate(records)]
    job = manifest.jobs[0].model_copy(update={"tasks": tasks, "job_id": job_id})
    return manifest.model_copy(update={"jobs": [job]})


RAPL = slurm.energy_plugin("acct_gather_energy/rapl")


def test_collect_joins_through_a_manifest_and_picks_the_attempt_that_contains_the_window():
    early = _record("net-a", 1796162300, 1.0)  # inside the requeued first attempt of task 0
    late = _record("net-b", 1796162312, 2.0)  # task 1 ran it
    manifest = _manifest_for([early, late])
    result = slurm.collect([early, late], slurm.parse_sacct(SACCT), "22.05.8", [manifest], RAPL)
    by_run = {e.run_id: e for e in result.estimates}
    assert by_run[early.run_id].energy_j == pytest.approx(183 * 1.0 / 2)
    assert by_run[late.run_id].energy_j == pytest.approx(741 * 2.0 / 15)
    assert {e.estimator_id for e in result.estimates} == {"slurm-sacct"}
    assert {e.boundary for e in result.estimates} == {"cpu"} and result.notes == []


def test_collect_joins_through_the_scheduler_block():
    info = SchedulerInfo(kind="slurm", job_id="5", step_id="0", acct_gather_energy="acct_gather_energy/ipmi")
    record = _record("net-a", 1796162315, 4.0, scheduler=info)
    result = slurm.collect([record], slurm.parse_sacct(SACCT), "22.05.8")
    [estimate] = result.estimates
    assert (estimate.boundary, estimate.energy_j) == ("node", pytest.approx(1956 * 4.0 / 20))


def test_collect_says_why_a_record_gets_no_estimate():
    unknown = _record("net-x", 1796162300, 1.0)
    with_dram = _record("net-d", 1796162300, 1.0, dram=True)
    outside = _record("net-o", 1796169999, 1.0)
    manifest = _manifest_for([with_dram, outside])
    result = slurm.collect([unknown, with_dram, outside], slurm.parse_sacct(SACCT), "22.05.8", [manifest], RAPL)
    assert result.estimates == []
    notes = "\n".join(result.notes)
    assert "no scheduler block and no launch manifest" in notes
    assert "DRAM domain" in notes
    assert "none (or more than one) containing its window" in notes
    no_plugin = slurm.collect([outside.model_copy(update={"started_at": with_dram.started_at,
                                                           "ended_at": with_dram.ended_at})],
                              slurm.parse_sacct(SACCT), "22.05.8", [manifest], None)
    assert "energy plugin is unknown" in no_plugin.notes[0]

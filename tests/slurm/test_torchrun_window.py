"""A two-node torchrun window on CPU under Slurm, through the real command line: one meter owner per node.

`joulebench launch slurm --submit` of smoke-multi's two-node workload writes
and submits the sbatch script a site would run: `srun` starts one torchrun
agent on each emulated node (c10d rendezvous on the first node), each agent
starts `joulebench run` (`torchrun ... --no-python python -m joulebench run`),
each node's local rank 0 reads joulebench's RaplMeter over that node's
synthetic source (n1 100 W, n2 50 W, a test double), and global rank 0 writes
one record per window whose energy must be their sum, within 1% of the
synthetic truth, with the ranks leaving each edge's barrier within 20 ms of
each other, and the job's Slurm ids in it.
"""

from __future__ import annotations

import socket
import sys
import time

import pytest

from joulebench.cli import main
from joulebench.cluster import launch
from joulebench.records import load_records
from tests.slurm.cluster import NODE_WATTS
from tests.slurm.test_slurm_lane import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_two_node_window_is_the_sum_of_both_nodes_meters(slurm_cluster, joulebench_on_nodes, tmp_path):
    out = tmp_path / "results"
    args = ["launch", "slurm", "--track", "smoke-multi", "--only", "gpt2_tiny_ddp2n_train", "--profile",
            "x86-cpu-server", "--site", "ci-2node", "--out", str(out), "--repeats", "2", "--idle-seconds", "1",
            "--live-estimator", "slurm-sstat", "--setup", joulebench_on_nodes["setup"],
            "--joulebench", joulebench_on_nodes["joulebench"], "--torchrun", f"{sys.executable} -m torch.distributed.run",
            "--rdzv-port", str(_free_port()), "--launch-id", "two-nodes", "--submit"]
    assert main(args) == 0
    folder = out / "ci-2node" / "_launch" / "two-nodes"
    manifest = launch.load_manifest(folder / "manifest.json")
    [job] = manifest.jobs
    assert (job.nodes, job.distributed) == (2, True)
    t0 = time.monotonic()
    wait_for(slurm_cluster, job.job_id)
    elapsed = time.monotonic() - t0
    log = "".join(p.read_text() for p in folder.glob("*.out"))
    records = sorted(load_records(out), key=lambda r: r.repeat) if out.exists() else []
    assert len(records) == 2, log[-4000:]
    assert {r.run_id for r in records} == set(job.tasks[0].run_ids)
    assert log.count("summary: wrote 2 record(s)") == 1, log[-4000:]  # global rank 0 alone reports
    for record in records:
        assert (record.topology.nodes, record.topology.world_size, record.topology.launcher) == (2, 2, "torchrun")
        by_node = {n.node: n for n in record.nodes}
        assert set(by_node) == set(NODE_WATTS)
        assert sorted(r for n in record.nodes for r in n.global_ranks) == [0, 1]
        cpu = next(e for e in record.energy if e.boundary == "cpu")
        parts = {name: next(e for e in n.energy if e.boundary == "cpu").energy_j for name, n in by_node.items()}
        assert cpu.energy_j == pytest.approx(sum(parts.values()))
        truth = sum(NODE_WATTS.values()) * record.duration_s
        assert cpu.energy_j == pytest.approx(truth, rel=0.01), (parts, record.duration_s)
        for name, joules in parts.items():
            assert joules == pytest.approx(NODE_WATTS[name] * record.duration_s, rel=0.02)
        assert cpu.uncertainty is not None and "edge skew" in cpu.uncertainty.basis
        assert record.window_sync.edge_skew_s < 0.020, record.window_sync
        scheduler = record.scheduler
        assert (scheduler.kind, scheduler.array_job_id, scheduler.array_task_id, scheduler.step_id) == (
            "slurm", job.job_id, 0, "0")
        assert scheduler.exclusive is True and scheduler.acct_gather_energy == "acct_gather_energy/rapl"
        assert scheduler.restart_count == 0
        [live] = record.live_estimates
        # Slurm sums the step over both nodes: its claim is the same 150 W, in whole joules over
        # a span a little longer than the window.
        span = live.raw["stop"]["called_at"] - live.raw["start"]["called_at"]
        assert live.energy_j == pytest.approx(sum(NODE_WATTS.values()) * span, rel=0.10, abs=3.0)
    sys.stderr.write(f"\n[slurm lane] two-node job {job.job_id}: {elapsed:.1f} s; windows: " + "; ".join(
        f"{r.duration_s:.2f} s, {r.energy[0].energy_j:.1f} J = {r.energy[0].energy_j / r.duration_s:.2f} W "
        f"(truth {sum(NODE_WATTS.values()):.0f} W, {100 * (r.energy[0].energy_j / (sum(NODE_WATTS.values()) * r.duration_s) - 1):+.2f}%), "
        f"skew {1000 * r.window_sync.edge_skew_s:.2f} ms" for r in records) + "\n")

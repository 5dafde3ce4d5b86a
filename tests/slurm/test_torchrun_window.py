"""A two-node torchrun window on CPU under Slurm: one meter owner per node, energy summed on global rank 0.

srun starts one torchrun agent on each emulated node (c10d rendezvous on the
first node); each node's local rank 0 reads joulebench's RaplMeter over that
node's synthetic source (n1 100 W, n2 50 W, a test double), and the record's
energy must be their sum, within 1% of the synthetic truth, with the ranks
leaving each edge's barrier within 20 ms of each other.
"""

from __future__ import annotations

import socket
import sys
import textwrap

import pytest

from joulebench.records import load_records
from tests.slurm.cluster import NODE_WATTS
from tests.slurm.conftest import REPO
from tests.slurm.test_slurm_lane import wait_for

DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from joulebench import catalog
    from joulebench.cluster.distributed_window import run_distributed
    from joulebench.estimators import open_live

    spec = catalog.select_workloads("smoke-multi", ["gpt2_tiny_ddp2n_train"])[0]
    run_distributed(spec, catalog.get_profile("x86-cpu-server"), site="ci-2node", out_dir=Path(sys.argv[1]),
                    repeats=2, idle_s=1.0,
                    open_live=lambda: [open_live("slurm-sstat", Path(sys.argv[1]) / ".live" / "ci-2node")])
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_two_node_window_is_the_sum_of_both_nodes_meters(slurm_cluster, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "results"
    script = tmp_path / "two-nodes.sbatch"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/bash
        #SBATCH --nodes=2 --ntasks-per-node=1 --exclusive --time=10 --output={tmp_path}/two-nodes-%j.out
        set -euo pipefail
        export PYTHONPATH={REPO / 'suite'} OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
        HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
        HEAD_ADDR=$(scontrol show node "$HEAD_NODE" | grep -o "NodeAddr=[^ ]*" | cut -d= -f2)
        srun --ntasks-per-node=1 --kill-on-bad-exit=1 \\
            {sys.executable} -m torch.distributed.run --nnodes=2 --nproc-per-node=1 \\
            --rdzv-backend=c10d --rdzv-endpoint="$HEAD_ADDR:{_free_port()}" --rdzv-id="$SLURM_JOB_ID" \\
            {driver} {out}
        """))
    job = slurm_cluster.run("sbatch", "--parsable", str(script)).stdout.strip()
    wait_for(slurm_cluster, job)
    log = "".join(p.read_text() for p in tmp_path.glob("two-nodes-*.out"))
    records = sorted(load_records(out), key=lambda r: r.repeat) if out.exists() else []
    assert len(records) == 2, log[-4000:]
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
        assert record.window_sync.edge_skew_s < 0.020, record.window_sync
        assert record.scheduler.job_id == job and record.scheduler.exclusive is True
        assert record.scheduler.acct_gather_energy == "acct_gather_energy/rapl"
        [live] = record.live_estimates
        # Slurm sums the step over both nodes: its claim is the same 150 W, in whole joules over
        # a span a little longer than the window.
        span = live.raw["stop"]["called_at"] - live.raw["start"]["called_at"]
        assert live.energy_j == pytest.approx(sum(NODE_WATTS.values()) * span, rel=0.10, abs=3.0)
    sys.stderr.write("\n[slurm lane] two-node windows: " + "; ".join(
        f"{r.duration_s:.2f} s, {r.energy[0].energy_j:.1f} J = {r.energy[0].energy_j / r.duration_s:.2f} W "
        f"(truth {sum(NODE_WATTS.values()):.0f} W), skew {1000 * r.window_sync.edge_skew_s:.2f} ms" for r in records) + "\n")

"""`joulebench run` over several ranks on CPU: --nproc-per-node, torchrun agents as nodes, and what it refuses.

Every window runs the real workload on two gloo ranks (DDP, FSDP, a pipeline,
tensor parallel: joulebench.measure.parallel_models) through the real command
line. Its truth comes from a test double: a synthetic node meter
(tests/doubles/synthetic_meter.py) "installed" as a meter plugin for the ranks,
drawing a constant invented power, so the true energy of any window is
watts x seconds. Nothing here measures real hardware.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.cli import main
from joulebench.records import load_records
from tests.doubles import synthetic_meter

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "suite"
WATTS = 80.0
ONE_NODE = sorted(s.id for s in catalog.load_workloads("smoke-multi") if s.parallel.nodes == 1)


def _run_args(out: Path, *extra: str) -> list[str]:
    return ["run", "--track", "smoke-multi", "--profile", "x86-cpu-server", "--site", "ci-local", "--out", str(out),
            "--idle-seconds", "0.5", *extra]


@pytest.fixture
def synthetic_node(tmp_path, monkeypatch):
    """The ranks this test starts find a synthetic node meter drawing WATTS (a test double)."""
    folder = synthetic_meter.install(tmp_path / "plugin")
    monkeypatch.setenv("PYTHONPATH", synthetic_meter.pythonpath(folder, SUITE))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for name, value in synthetic_meter.environment(WATTS).items():
        monkeypatch.setenv(name, value)
    return folder


def _node_truth(record) -> tuple[float, float]:
    node = next(e for e in record.energy if e.boundary == "node")
    return node.energy_j, node.energy_j / record.duration_s


def test_nproc_per_node_runs_every_strategy_for_real_and_resumes(tmp_path, synthetic_node, capfd):
    out = tmp_path / "results"
    assert main(_run_args(out, "--nproc-per-node", "2", "--repeats", "1")) == 0
    printed = capfd.readouterr().err
    records = {r.workload.id: r for r in load_records(out)}
    assert sorted(records) == ONE_NODE  # the 2-node spec is left for a 2-node launch, and said so
    assert "gpt2_tiny_ddp2n_train: pinned for ddp, 2 node(s) x 1 rank(s)" in printed
    # Only global rank 0 speaks: one summary, one line per window.
    assert printed.count("summary: wrote 4 record(s)") == 1
    assert printed.count("1 window(s) to measure") == 4 and "Traceback" not in printed
    for record in records.values():
        strategy = record.workload.parallel.strategy
        topology = record.topology
        assert (topology.nodes, topology.world_size, topology.ranks_per_node, topology.launcher, topology.backend) == (
            1, 2, 2, "torchrun", "gloo"), strategy
        [node] = record.nodes
        assert node.global_ranks == [0, 1] and record.device_count == 0
        joules, watts = _node_truth(record)
        # One owner read the node's meter once per edge: the synthetic watts over the window, not twice them.
        assert watts == pytest.approx(WATTS, rel=0.01), strategy
        assert joules == pytest.approx(sum(e.energy_j for e in node.energy if e.boundary == "node"))
        entry = next(e for e in record.energy if e.boundary == "node")
        assert entry.meter_id == synthetic_meter.METER_ID and entry.idle_power_w == pytest.approx(WATTS, rel=0.01)
        assert entry.uncertainty is not None and not entry.uncertainty.covers_meter_accuracy
        assert record.window_sync.edge_skew_s < 0.020, strategy
        assert record.iterations == record.workload.measured_iterations
        assert record.items == record.workload.batch_size * record.iterations
        assert {m.boundary for m in record.missing_boundaries} >= {"gpu"}
        assert record.environment.joulebench_source_sha256 and record.hardware_check.profile_id == "x86-cpu-server"
        assert record.trace is not None and record.trace.power_w["node"]
        assert record.scheduler is None  # not inside a Slurm job
    first = {p.name: p.read_bytes() for p in (out / "ci-local").glob("*.json")}

    # A second launch resumes: the recorded window is kept byte for byte, only the missing one is measured.
    assert main(_run_args(out, "--nproc-per-node", "2", "--repeats", "2", "--only", "llama_tiny_tp2_prefill")) == 0
    printed = capfd.readouterr().err
    assert "resuming: repeat(s) 1 already recorded, measuring 2" in printed
    assert "summary: wrote 1 record(s)" in printed
    after = {p.name: p.read_bytes() for p in (out / "ci-local").glob("*.json")}
    assert set(after) - set(first) == {f"{records['llama_tiny_tp2_prefill'].run_id[:-2]}02.json"}
    assert all(after[name] == data for name, data in first.items())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_torchrun_agents_as_two_nodes_sum_both_nodes_meters(tmp_path, synthetic_node):
    """Two torchrun agents on this machine, told they are nodes a and b, each with its own synthetic meter."""
    out = tmp_path / "results"
    port = _free_port()
    watts = {"node-a": 100.0, "node-b": 50.0}
    agents = []
    for rank, (name, node_watts) in enumerate(watts.items()):
        env = {**os.environ, **synthetic_meter.environment(node_watts), "SLURMD_NODENAME": name}
        argv = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "jb-two-nodes",
                "--no-python", sys.executable, "-m", "joulebench",
                *_run_args(out, "--only", "gpt2_tiny_ddp2n_train", "--repeats", "1")]
        agents.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [agent.communicate(timeout=300)[0] for agent in agents]
    assert [a.returncode for a in agents] == [0, 0], "\n".join(log[-3000:] for log in logs)
    [record] = load_records(out)
    assert (record.topology.nodes, record.topology.world_size, record.topology.ranks_per_node) == (2, 2, 1)
    parts = {n.node: next(e.energy_j for e in n.energy if e.boundary == "node") for n in record.nodes}
    assert set(parts) == set(watts) and sorted(r for n in record.nodes for r in n.global_ranks) == [0, 1]
    joules, _ = _node_truth(record)
    assert joules == pytest.approx(sum(parts.values()))
    assert joules == pytest.approx(sum(watts.values()) * record.duration_s, rel=0.01)
    for name, part in parts.items():
        assert part == pytest.approx(watts[name] * record.duration_s, rel=0.01)
    assert record.window_sync.edge_skew_s < 0.020
    entry = next(e for e in record.energy if e.boundary == "node")
    assert "edge skew" in entry.uncertainty.basis
    assert set(record.trace.power_w) == {"node-a/node", "node-b/node"}
    # Only global rank 0 printed the summary.
    assert sum(log.count("summary: wrote 1 record(s)") for log in logs) == 1


# --------------------------------------------------------------------------- refusals (no rank is started)


TORCHRUN_ENV = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "0",
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x"}


@pytest.mark.parametrize("args,environment,expected", [
    (["--track", "smoke-multi"], {}, "run on several ranks .* Start them with --nproc-per-node N"),
    (["--track", "smoke"], TORCHRUN_ENV, "run as one process, and torchrun started 2 ranks"),
    (["--track", "smoke", "--nproc-per-node", "2"], {}, "run as one process; leave it out"),
    (["--track", "smoke-multi", "--nproc-per-node", "3"], {}, "this launch is 1 node.s. x 3 rank.s.*gpt2_tiny_ddp2_train: ddp"),
    (["--track", "smoke-multi", "--nproc-per-node", "2", "--only", "gpt2_tiny_ddp2n_train"], {},
     "pinned for another: gpt2_tiny_ddp2n_train: ddp, 2 node.s. x 1 rank"),
    (["--track", "smoke-multi", "--nproc-per-node", "2"], TORCHRUN_ENV, "this process was started by torchrun"),
    (["--track", "smoke-multi", "--nproc-per-node", "2", "--container", "img"], {}, "does not start or join ranks"),
    (["--track", "smoke-multi"], {**TORCHRUN_ENV, "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "4"},
     "this launch is 1 node.s. x 4 rank.s."),
], ids=["parallel-alone", "single-under-torchrun", "nproc-single-track", "nproc-no-match", "nproc-explicit-mismatch",
        "nproc-under-torchrun", "nproc-container", "torchrun-no-match"])
def test_what_cannot_run_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys, args, environment, expected):
    import re

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "results"
    argv = ["run", "--profile", "x86-cpu-server", "--site", "ci", "--out", str(out), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert "Traceback" not in err and not out.exists()


def test_a_failure_every_rank_meets_is_reported_once_and_nothing_is_written(tmp_path, synthetic_node, capfd):
    """A damaged record where a window would go: global rank 0 finds it, every rank stops, one message, exit 2."""
    from joulebench.formats import make_run_id
    from joulebench.records import record_path

    out = tmp_path / "results"
    [spec] = catalog.select_workloads("smoke-multi", ["llama_tiny_tp2_prefill"])
    damaged = record_path(out, "ci-local", make_run_id("ci-local", spec, 1))
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{not a record")
    code = main(_run_args(out, "--nproc-per-node", "2", "--repeats", "1", "--only", "llama_tiny_tp2_prefill"))
    err = capfd.readouterr().err
    assert code == 2, err
    assert err.count("joulebench: error:") == 1 and damaged.name in err, err
    assert "Traceback" not in err and "ChildFailedError" not in err
    assert [p.name for p in damaged.parent.iterdir()] == [damaged.name]
    assert damaged.read_text() == "{not a record"

"""joulebench.cluster.torchrun (the launcher's environment, real gloo edges on CPU) and summing nodes (measure.distributed)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from joulebench.cluster import torchrun
from joulebench.errors import InputError
from joulebench.formats import (
    BoundaryEnergy,
    MissingBoundary,
    NodeEnergy,
    TruthUncertainty,
    WindowSync,
)
from joulebench.measure.distributed import combine_nodes, with_edge_skew

SUITE = Path(__file__).resolve().parents[1] / "suite"

TORCHRUN_ENV = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "1",
                "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "17",
                "TORCHELASTIC_RESTART_COUNT": "0"}


def test_no_launcher_means_one_process():
    assert torchrun.detect({"PATH": "/bin"}) is None


def test_the_torchrun_environment_is_read():
    env = torchrun.detect(TORCHRUN_ENV)
    assert (env.rank, env.local_rank, env.world_size, env.node_rank, env.nodes) == (3, 1, 4, 1, 2)
    assert not env.is_meter_owner and env.master_addr == "10.0.0.1" and env.run_id == "17"
    assert torchrun.detect({**TORCHRUN_ENV, "LOCAL_RANK": "0"}).is_meter_owner


@pytest.mark.parametrize("change,expected", [
    ({"LOCAL_WORLD_SIZE": None}, "without LOCAL_WORLD_SIZE"),
    ({"RANK": "x"}, "RANK: expected a whole number"),
    ({"RANK": "4"}, "inconsistent torchrun environment"),
    ({"WORLD_SIZE": "3", "RANK": "2"}, "not a multiple of LOCAL_WORLD_SIZE"),
])
def test_a_broken_launcher_environment_is_refused(change, expected):
    env = {k: v for k, v in {**TORCHRUN_ENV, **change}.items() if v is not None}
    with pytest.raises(InputError, match=expected):
        torchrun.detect(env)


def test_the_meter_owner_sees_exactly_its_nodes_gpus_and_the_node_name():
    env = torchrun.owner_environ({"CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7", "X": "1"}, ["GPU-b", "GPU-a", "GPU-b"])
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-b,GPU-a" and env["X"] == "1"
    assert torchrun.owner_environ({}, [])["CUDA_VISIBLE_DEVICES"] == ""
    assert torchrun.node_name({"SLURMD_NODENAME": "n2"}) == "n2"


def _e(boundary, joules, meter="rapl:cpu", method="counter", period=0.001, idle=None, devices=None):
    return BoundaryEnergy(boundary=boundary, meter_id=meter, method=method, update_period_s=period, energy_j=joules,
                          mean_power_w=joules / 2, idle_power_w=idle, static_energy_j=idle * 2 if idle else None,
                          dynamic_energy_j=joules - idle * 2 if idle else None, per_device_j=devices or {})


def test_nodes_are_summed_per_boundary():
    n1 = NodeEnergy(node="n1", node_rank=0, global_ranks=[0, 1],
                    energy=[_e("cpu", 200.0, idle=90.0, devices={"package-0": 200.0}),
                            _e("gpu", 900.0, meter="nvml-energy:gpu", period=0.1, devices={"0": 450.0, "1": 450.0})])
    n2 = NodeEnergy(node="n2", node_rank=1, global_ranks=[2, 3],
                    energy=[_e("cpu", 100.0, idle=45.0, devices={"package-0": 100.0}),
                            _e("gpu", 800.0, meter="nvml-power:gpu", method="integrated", period=1.0)])
    energy, missing = combine_nodes([n1, n2], duration_s=2.0)
    cpu, gpu = {e.boundary: e for e in energy}["cpu"], {e.boundary: e for e in energy}["gpu"]
    assert (cpu.energy_j, cpu.mean_power_w, cpu.idle_power_w, cpu.static_energy_j) == (300.0, 150.0, 135.0, 270.0)
    assert cpu.per_device_j == {"n1/package-0": 200.0, "n2/package-0": 100.0} and cpu.method == "counter"
    assert (gpu.energy_j, gpu.method, gpu.update_period_s) == (1700.0, "integrated", 1.0)
    assert gpu.meter_id == "nvml-energy:gpu+nvml-power:gpu"
    assert {m.boundary for m in missing} == {"dram", "node"}


def test_a_boundary_one_node_lacks_is_missing_and_names_the_node():
    n1 = NodeEnergy(node="n1", node_rank=0, global_ranks=[0], energy=[_e("cpu", 200.0), _e("dram", 20.0)])
    n2 = NodeEnergy(node="n2", node_rank=1, global_ranks=[1], energy=[_e("cpu", 100.0, idle=40.0)],
                    missing_boundaries=[MissingBoundary(boundary="dram", reason="RAPL: no dram zone")])
    energy, missing = combine_nodes([n1, n2], duration_s=2.0)
    assert [e.boundary for e in energy] == ["cpu"]
    assert energy[0].idle_power_w is None  # n1 measured no idle power: no sum
    dram = next(m for m in missing if m.boundary == "dram")
    assert "metered on n1 but not on every node" in dram.reason and "n2: RAPL: no dram zone" in dram.reason
    with pytest.raises(ValueError, match="two nodes reported under one name"):
        combine_nodes([n1, n1], 1.0)


def _bounded(entry: BoundaryEnergy, pct: float, covers: bool = True) -> BoundaryEnergy:
    return entry.model_copy(update={"uncertainty": TruthUncertainty(bound_pct=pct, covers_meter_accuracy=covers,
                                                                     basis=f"{pct}% for the test")})


def test_a_sum_over_nodes_states_its_uncertainty_widened_by_the_edge_skew():
    n1 = NodeEnergy(node="n1", node_rank=0, global_ranks=[0], energy=[_bounded(_e("cpu", 300.0), 1.0)])
    n2 = NodeEnergy(node="n2", node_rank=1, global_ranks=[1], energy=[_bounded(_e("cpu", 100.0), 5.0, covers=False)])
    [cpu], _ = combine_nodes([n1, n2], duration_s=2.0)
    # Each node at its limit, added: (300 x 1% + 100 x 5%) / 400 J = 2%.
    assert cpu.uncertainty.bound_pct == pytest.approx(2.0) and not cpu.uncertainty.covers_meter_accuracy
    assert "n1: 1.00% of 300.0 J" in cpu.uncertainty.basis and "n2: 5.00% of 100.0 J" in cpu.uncertainty.basis
    wider = with_edge_skew(cpu, WindowSync(start_skew_s=0.004, end_skew_s=0.006), duration_s=2.0)
    assert wider.uncertainty.bound_pct == pytest.approx(2.5)  # + 10 ms of 2 s
    assert "edge skew (4.00 ms at the start, 6.00 ms at the end)" in wider.uncertainty.basis
    [one], _ = combine_nodes([n1], duration_s=2.0)
    assert one.uncertainty == n1.energy[0].uncertainty  # one node: its own bound
    unbounded = NodeEnergy(node="n3", node_rank=1, global_ranks=[1], energy=[_e("cpu", 100.0)])
    assert combine_nodes([n1, unbounded], duration_s=2.0)[0][0].uncertainty is None


def test_edge_skew_is_the_spread_of_barrier_exits():
    assert torchrun.edge_skew_s([10.0, 10.002, 10.001]) == pytest.approx(0.002)
    assert torchrun.edge_skew_s([]) == 0.0


RANK_SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    import torch.distributed as dist
    from joulebench.cluster import torchrun

    env = torchrun.detect()
    dist.init_process_group("gloo")
    group = torchrun.side_group(timeout_s=60)
    ticks = iter(range(100))
    read = (lambda: {"meter": next(ticks)}) if env.is_meter_owner else None
    start = torchrun.barrier_edge(group, sync=lambda: None, read=read)
    time.sleep(0.2 + 0.1 * env.rank)  # unequal work: the end barrier waits for the slowest rank
    end = torchrun.barrier_edge(group, sync=lambda: None, read=read)
    gathered = torchrun.gather_to_rank0(group, {"rank": env.rank, "start": start.wall_s, "end": end.wall_s,
                                                "duration": end.monotonic_s - start.monotonic_s,
                                                "readings": [start.readings, end.readings]})
    if env.rank == 0:
        with open(sys.argv[1], "w") as out:
            json.dump(gathered, out)
    dist.barrier(group=group)
    dist.destroy_process_group()
""")


def test_two_ranks_on_cpu_agree_on_the_edges(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    out = tmp_path / "edges.json"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SUITE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torchrun.start_local_ranks(2, [str(script), str(out)], log_dir=str(tmp_path / "logs"))
    ranks = json.loads(out.read_text())
    assert [r["rank"] for r in ranks] == [0, 1]
    assert torchrun.edge_skew_s([r["start"] for r in ranks]) < 0.05
    assert torchrun.edge_skew_s([r["end"] for r in ranks]) < 0.05
    assert all(r["duration"] >= 0.29 for r in ranks)  # both waited for rank 1 (0.3 s of work)
    assert ranks[0]["readings"] == [{"meter": 0}, {"meter": 1}] and ranks[1]["readings"] == [None, None]


def test_a_failing_rank_fails_the_launch(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    with pytest.raises(ChildFailedError):
        torchrun.start_local_ranks(2, ["-c", "import os, sys; sys.exit(int(os.environ['RANK']) + 3)"],
                                   log_dir=str(tmp_path / "logs"))
    with pytest.raises(InputError, match="at least 1"):
        torchrun.start_local_ranks(0, ["-c", "pass"])

"""The distributed window prototype on CPU: two ranks on one node (torchrun --standalone), gloo, one meter owner.

The node's RAPL counter is a test double: a powercap tree on disk whose
energy_uj a thread advances at SYNTHETIC_WATTS, so the window's true energy is
known (watts x seconds). It is not a measurement of anything.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from joulebench.cluster import torchrun
from joulebench.records import load_records
from tests.doubles.powercap import FakePowercapTree

torch = pytest.importorskip("torch")

SUITE = Path(__file__).resolve().parents[1] / "suite"
SYNTHETIC_WATTS = 80.0

DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from joulebench import catalog
    from joulebench.cluster.distributed_window import run_distributed

    out, powercap = Path(sys.argv[1]), Path(sys.argv[2])
    spec = catalog.select_workloads("smoke-multi", ["gpt2_tiny_ddp2_train"])[0]
    run_distributed(spec, catalog.get_profile("x86-cpu-server"), site="ci-local", out_dir=out, repeats=1,
                    idle_s=0.5, powercap_root=powercap)
""")


class SyntheticCounter:
    """Advances a fake powercap zone's energy_uj at `watts` until stopped (test double)."""

    def __init__(self, tree: FakePowercapTree, zone: str, watts: float, period_s: float = 0.002):
        self.tree, self.zone, self.watts, self.period_s = tree, zone, watts, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        path = self.tree.root / self.zone / "energy_uj"
        scratch = path.parent / ".energy_uj.next"
        while not self._stop.is_set():
            scratch.write_text(f"{int((time.monotonic() - t0) * self.watts * 1e6)}\n")
            os.replace(scratch, path)
            time.sleep(self.period_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_two_ranks_one_node_one_owner_one_record(tmp_path, monkeypatch):
    tree = FakePowercapTree(tmp_path / "sys")
    tree.add_zone("intel-rapl:0", "package-0")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "results"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SUITE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with SyntheticCounter(tree, "intel-rapl:0", SYNTHETIC_WATTS):
        torchrun.start_local_ranks(2, [str(driver), str(out), str(tree.root)], log_dir=str(tmp_path / "logs"))
    [record] = load_records(out)
    assert (record.topology.nodes, record.topology.world_size, record.topology.launcher) == (1, 2, "torchrun")
    assert record.topology.backend == "gloo" and record.topology.gpus_per_node == 0
    [node] = record.nodes
    assert node.global_ranks == [0, 1]
    cpu = next(e for e in record.energy if e.boundary == "cpu")
    assert cpu.meter_id == "rapl:cpu" and cpu.per_device_j.keys() == {f"{node.node}/package-0"}
    # One owner read the counter once per edge: the energy is the synthetic watts x the window, not twice it.
    assert cpu.energy_j == pytest.approx(SYNTHETIC_WATTS * record.duration_s, rel=0.05)
    assert cpu.idle_power_w == pytest.approx(SYNTHETIC_WATTS, rel=0.05)
    assert record.window_sync.edge_skew_s < 0.05
    assert record.iterations == record.workload.measured_iterations and record.items == 4 * record.iterations
    assert {m.boundary for m in record.missing_boundaries} >= {"gpu", "dram", "node"}
    assert record.scheduler is None or record.scheduler.kind == "slurm"

"""The parts of the distributed runner (measure.distributed) one at a time: owners' meters, traces, checks, agreement."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from joulebench.errors import NoMeterError
from joulebench.formats import HardwareCheck, PowerTrace
from joulebench.measure.distributed import (
    combine_traces,
    merge_hardware_checks,
    open_owner_meters,
)
from joulebench.measure.meter_set import MeterSet
from tests.doubles.scripted_meter import ScriptedMeter

SUITE = Path(__file__).resolve().parents[1] / "suite"


class ScriptedGpus(ScriptedMeter):
    """A scripted GPU meter that reports `boards` devices (a test double)."""

    def __init__(self, boards: int):
        super().__init__(boundary="gpu", meter_id="scripted:gpu")
        self.boards = boards
        self.closed = False

    def per_device_energy_j(self) -> dict[str, float]:
        return {str(i): 0.0 for i in range(self.boards)}

    def close(self) -> None:
        self.closed = True


def test_the_owner_meters_exactly_its_nodes_gpus_or_refuses():
    seen = []

    def open_meters(environ, boards=2):
        seen.append(environ["CUDA_VISIBLE_DEVICES"])
        return MeterSet(primary=[ScriptedGpus(boards)])

    meters = open_owner_meters(open_meters, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, "n1", ["GPU-b", "GPU-a"])
    assert seen == ["GPU-b,GPU-a"] and len(meters.primary) == 1
    fewer = MeterSet(primary=[ScriptedGpus(1)])
    with pytest.raises(NoMeterError, match="node n1: the GPU meter scripted:gpu sees 1 GPU.s., and the node's ranks use 2"):
        open_owner_meters(lambda environ: fewer, {}, "n1", ["GPU-b", "GPU-a"])
    assert fewer.primary[0].closed
    cpu_only = MeterSet(primary=[ScriptedMeter(boundary="cpu")])
    assert open_owner_meters(lambda environ: cpu_only, {}, "n1", []) is cpu_only


def _trace(t, node_w, cpu):
    return PowerTrace(period_s=0.1, t_s=t, power_w={"node": node_w}, cpu_util_pct=cpu)


def test_traces_of_several_nodes_keep_each_nodes_power_and_average_utilisation():
    one = _trace([0.0, 0.1, 0.2], [100.0, 101.0, 102.0], [50.0, 60.0, None])
    assert combine_traces({"n1": one}) is one
    both = combine_traces({"n1": one, "n2": _trace([0.0, 0.1], [50.0, 51.0], [70.0, None])})
    assert both.t_s == [0.0, 0.1]  # paired by index, up to the shorter
    assert both.power_w == {"n1/node": [100.0, 101.0], "n2/node": [50.0, 51.0]}
    assert both.cpu_util_pct == [60.0, 60.0] and both.gpu_util_pct == []
    assert combine_traces({}) is None


def test_hardware_checks_of_several_nodes_name_their_node():
    checks = {"n1": HardwareCheck(profile_id="p", warnings=["RAM differs"]),
              "n2": HardwareCheck(profile_id="p", errors=["no GPU"], warnings=["RAM differs"])}
    merged = merge_hardware_checks(checks, "p")
    assert merged.errors == ["n2: no GPU"] and merged.warnings == ["n1: RAM differs", "n2: RAM differs"]
    assert merge_hardware_checks({"n1": checks["n2"]}, "p").errors == ["no GPU"]


AGREE = textwrap.dedent("""
    import json, sys
    import torch.distributed as dist
    from joulebench.cluster import torchrun
    from joulebench.errors import InputError, ReportedElsewhere
    from joulebench.measure.distributed import agree

    dist.init_process_group("gloo")
    group = torchrun.side_group(timeout_s=60)
    rank = dist.get_rank()
    found = {"ok": agree(group, lambda: rank * 10)}

    def fails_on_rank_1():
        if rank == 1:
            raise InputError("meters.yaml: field 'url': expected https")
        return "fine"

    try:
        agree(group, fails_on_rank_1)
    except ReportedElsewhere as exc:
        found["raised"] = ["ReportedElsewhere", exc.exit_code, ""]
    except InputError as exc:
        found["raised"] = ["InputError", exc.exit_code, str(exc)]
    everyone = torchrun.gather_to_rank0(group, found)
    if rank == 0:
        json.dump(everyone, open(sys.argv[1], "w"))
    dist.barrier(group=group)
    dist.destroy_process_group()
""")


def test_a_failure_on_one_rank_stops_every_rank_and_rank_0_names_it(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from joulebench.cluster import torchrun

    script = tmp_path / "agree.py"
    script.write_text(AGREE)
    out = tmp_path / "found.json"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SUITE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torchrun.start_local_ranks(2, [str(script), str(out)], log_dir=str(tmp_path / "logs"))
    rank0, rank1 = json.loads(out.read_text())
    assert (rank0["ok"], rank1["ok"]) == (0, 10)
    # Rank 0 reports the failure it did not have, with the same exit code; rank 1 stops quietly.
    assert rank0["raised"] == ["InputError", 2, "rank 1: meters.yaml: field 'url': expected https"]
    assert rank1["raised"] == ["ReportedElsewhere", 2, ""]

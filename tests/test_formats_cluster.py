"""The formats' additions for clusters are additive: old specs keep their hashes, old records load and re-dump unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from joulebench import catalog
from joulebench.formats import (
    BoundaryEnergy,
    MissingBoundary,
    NodeEnergy,
    RunFacts,
    RunRecord,
    SchedulerInfo,
    Topology,
    WindowSync,
    WorkloadSpec,
)
from tests.doubles.records import make_record

GOLDEN = Path(__file__).parent / "golden" / "spec_hashes_before_additions.json"
ADDED_SPEC_FIELDS = ("parallel", "comm_bytes_per_iteration", "comm_method")
ADDED_RECORD_FIELDS = ("topology", "nodes", "window_sync", "scheduler")


def test_shipped_specs_keep_the_hashes_they_had_before_the_additions():
    before = json.loads(GOLDEN.read_text())["spec_hash"]
    now = {f"{s.track}/{s.id}": s.spec_hash for s in catalog.load_workloads() if f"{s.track}/{s.id}" in before}
    assert now == before


@pytest.mark.parametrize("spec", [s for s in catalog.load_workloads() if s.parallel is None], ids=lambda s: f"{s.track}/{s.id}")
def test_a_spec_without_a_layout_dumps_no_added_field(spec):
    assert not set(ADDED_SPEC_FIELDS) & set(json.loads(spec.model_dump_json()))
    assert not set(ADDED_SPEC_FIELDS) & set(spec.model_dump())


def test_a_spec_with_a_layout_dumps_it_and_hashes_it():
    spec = catalog.select_workloads("smoke-multi", ["gpt2_tiny_ddp2_train"])[0]
    dumped = json.loads(spec.model_dump_json())
    assert dumped["parallel"]["ranks_per_node"] == 2 and dumped["comm_bytes_per_iteration"] > 0
    other = spec.model_copy(update={"comm_bytes_per_iteration": spec.comm_bytes_per_iteration + 1})
    assert WorkloadSpec.model_validate_json(other.model_dump_json()).spec_hash != spec.spec_hash
    assert WorkloadSpec.model_validate_json(spec.model_dump_json()) == spec


def test_an_old_record_loads_and_re_dumps_byte_for_byte():
    text = make_record(truth={"gpu": 1000.0, "cpu": 200.0}).model_dump_json(indent=1)
    data = json.loads(text)
    assert not set(ADDED_RECORD_FIELDS) & set(data)
    loaded = RunRecord.model_validate_json(text)
    assert loaded.topology is None and loaded.nodes is None and loaded.scheduler is None
    assert loaded.model_dump_json(indent=1) == text
    facts = RunFacts.from_record(loaded)
    assert (facts.node_count, facts.world_size, facts.parallel, facts.comm_bytes_per_iteration) == (1, 1, None, None)


def _energy(boundary: str, joules: float, meter: str = "rapl:cpu") -> BoundaryEnergy:
    return BoundaryEnergy(boundary=boundary, meter_id=meter, method="counter", update_period_s=0.001,
                          energy_j=joules, mean_power_w=joules / 2)


def _two_node_record(**changes) -> dict:
    record = make_record(truth={"cpu": 300.0})
    data = json.loads(record.model_dump_json())
    data["energy"] = [json.loads(_energy("cpu", 300.0).model_dump_json())]
    data["topology"] = Topology(nodes=2, world_size=2, ranks_per_node=1, gpus_per_node=0, launcher="torchrun",
                                backend="gloo").model_dump()
    data["nodes"] = [
        NodeEnergy(node="n1", node_rank=0, global_ranks=[0], energy=[_energy("cpu", 200.0)]).model_dump(),
        NodeEnergy(node="n2", node_rank=1, global_ranks=[1], energy=[_energy("cpu", 100.0)],
                   missing_boundaries=[MissingBoundary(boundary="gpu", reason="no GPU")]).model_dump(),
    ]
    data["window_sync"] = WindowSync(start_skew_s=0.001, end_skew_s=0.002).model_dump()
    data["scheduler"] = SchedulerInfo(kind="slurm", job_id="17", array_job_id="15", array_task_id=2, step_id="0",
                                      acct_gather_energy="acct_gather_energy/rapl").model_dump()
    data.update(changes)
    return data


def test_a_two_node_record_round_trips_and_its_facts_say_so():
    record = RunRecord.model_validate(_two_node_record())
    assert RunRecord.model_validate_json(record.model_dump_json()) == record
    assert record.window_sync.edge_skew_s == 0.002
    facts = RunFacts.from_record(record)
    assert facts.node_count == 2 and facts.world_size == 2


def test_job_energy_must_be_the_sum_of_the_nodes():
    data = _two_node_record()
    data["energy"][0]["energy_j"] = 310.0
    with pytest.raises(ValidationError, match="not the sum of the nodes"):
        RunRecord.model_validate(data)


def test_a_boundary_not_metered_on_every_node_cannot_be_in_the_job_energy():
    data = _two_node_record()
    data["nodes"][1]["energy"] = []
    with pytest.raises(ValidationError, match="not metered on every node"):
        RunRecord.model_validate(data)


def test_nodes_must_cover_every_rank_once():
    data = _two_node_record()
    data["nodes"][1]["global_ranks"] = [0]
    with pytest.raises(ValidationError, match="global_ranks"):
        RunRecord.model_validate(data)
    data = _two_node_record(topology=None)
    with pytest.raises(ValidationError, match="needs a topology"):
        RunRecord.model_validate(data)

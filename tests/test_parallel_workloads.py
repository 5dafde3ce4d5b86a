"""The multi-rank tracks (gpu-v1-multi, smoke-multi): layouts, public communication facts, window estimates, pins."""

from __future__ import annotations

import copy
import shutil

import pytest

from joulebench import catalog
from joulebench.catalog import parallel
from joulebench.errors import InputError
from joulebench.formats import ParallelLayout, WorkloadSpec
from tests.optional import need_torch

MULTI = catalog.load_workloads("gpu-v1-multi")
SMOKE_MULTI = catalog.load_workloads("smoke-multi")
GPU_V1 = {s.id: s for s in catalog.load_workloads("gpu-v1")}


def _by_id(specs):
    return {s.id: s for s in specs}


def test_gpu_v1_multi_has_the_ladder_fsdp_pipeline_and_tensor_parallel():
    by_id = _by_id(MULTI)
    ladder = sorted(s.world_size for s in MULTI if s.parallel.strategy == "ddp")
    assert ladder == [1, 2, 4, 8]
    fsdp = {(s.parallel.nodes, s.parallel.ranks_per_node) for s in MULTI if s.parallel.strategy == "fsdp"}
    assert fsdp == {(1, 8), (2, 8)}
    assert all(6.0e9 <= s.params <= 7.5e9 for s in MULTI if s.parallel.strategy == "fsdp")
    pipeline = [s for s in MULTI if s.parallel.strategy == "pipeline"]
    assert pipeline and all(s.parallel.micro_batches > s.parallel.pipeline_parallel for s in pipeline)
    tensor = [s for s in MULTI if s.parallel.strategy == "tensor"]
    assert tensor and all(s.task == "infer" for s in tensor)
    assert all(s.parallel.backend == "nccl" and s.dtype == "bfloat16" and s.repeats == 3 for s in MULTI)
    assert by_id["llama_1b3_ddp8_train"].world_size == 8


def test_the_ddp_ladder_runs_gpu_v1s_llama_1b3_train_on_every_rank():
    single = GPU_V1["llama_1b3_train"]
    for spec in MULTI:
        if spec.parallel.strategy != "ddp":
            continue
        assert spec.model == single.model and spec.seq_len == single.seq_len
        assert spec.batch_size // spec.parallel.data_parallel == single.batch_size
        assert spec.params == single.params
        # Global FLOPs: N ranks each doing the single-GPU step.
        assert spec.flops_per_iteration == pytest.approx(spec.world_size * single.flops_per_iteration, rel=1e-9)


def test_smoke_multi_is_gloo_on_cpu_with_two_ranks_on_one_node_and_on_two():
    assert {(s.parallel.nodes, s.parallel.ranks_per_node) for s in SMOKE_MULTI} == {(1, 2), (2, 1)}
    assert all(s.parallel.backend == "gloo" and s.world_size == 2 and s.dtype == "float32" for s in SMOKE_MULTI)
    # Every strategy gpu-v1-multi uses runs for real in CI, on one node; FSDP, pipeline and tensor parallel
    # on the same (Llama-shaped) model family as gpu-v1-multi's, so the same builders run.
    one_node = {s.parallel.strategy: s for s in SMOKE_MULTI if s.parallel.nodes == 1}
    assert set(one_node) == {s.parallel.strategy for s in MULTI} == {"ddp", "fsdp", "pipeline", "tensor"}
    for strategy in ("fsdp", "pipeline", "tensor"):
        assert one_node[strategy].model.config["model_type"] == "llama"
        assert one_node[strategy].task == _by_id(MULTI)[{"fsdp": "llama_7b_fsdp8_train", "pipeline": "llama_7b_pp4_train",
                                                          "tensor": "llama_13b_tp2_prefill"}[strategy]].task


@pytest.mark.parametrize("spec", MULTI + SMOKE_MULTI, ids=lambda s: f"{s.track}/{s.id}")
def test_comm_bytes_and_their_formula_are_the_layouts(spec):
    total, method = parallel.comm_bytes(spec)
    assert spec.comm_bytes_per_iteration == total
    assert spec.comm_method == method


def test_comm_bytes_formulas_by_hand():
    by_id = _by_id(MULTI)
    p = by_id["llama_1b3_ddp8_train"].params
    assert by_id["llama_1b3_ddp8_train"].comm_bytes_per_iteration == 2 * 7 * p * 2
    assert by_id["llama_1b3_ddp1_train"].comm_bytes_per_iteration == 0
    p7 = by_id["llama_7b_fsdp16_train"].params
    assert by_id["llama_7b_fsdp16_train"].comm_bytes_per_iteration == 3 * 15 * p7 * 2
    # 3 stage boundaries, 16 x 2048 tokens of width 4096 in bf16, forward and backward.
    assert by_id["llama_7b_pp4_train"].comm_bytes_per_iteration == 2 * 3 * 16 * 2048 * 4096 * 2
    # 40 layers x 2 all-reduces x 2 (T-1) x 4 x 2048 x 5120 x 2 bytes.
    assert by_id["llama_13b_tp2_prefill"].comm_bytes_per_iteration == 40 * 2 * 2 * 1 * 4 * 2048 * 5120 * 2


@pytest.mark.parametrize("spec", MULTI, ids=lambda s: s.id)
def test_target_window_is_the_estimate_and_5_to_16_s(spec):
    assert spec.target_window_s == pytest.approx(parallel.estimate_window_s(spec), abs=0.006)
    assert 5.0 <= spec.target_window_s <= 16.0


def test_every_multi_workload_has_an_assumed_mfu_and_no_stale_one():
    assert set(parallel.ASSUMED_MFU["gpu-v1-multi"]) == {s.id for s in MULTI}


VALID_LAYOUT = {"strategy": "ddp", "backend": "nccl", "nodes": 2, "ranks_per_node": 4, "data_parallel": 8}

BAD_LAYOUTS = [
    ("grid does not fill the ranks", {"data_parallel": 4}, "must equal nodes x ranks_per_node = 8"),
    ("ddp with tensor parallel", {"data_parallel": 4, "tensor_parallel": 2}, "spreads over data_parallel"),
    ("fsdp without sharding", {"strategy": "fsdp"}, "sharding is required for fsdp"),
    ("sharding on ddp", {"sharding": "full_shard"}, "only applies to fsdp"),
    ("pipeline without micro-batches", {"strategy": "pipeline", "data_parallel": 1, "pipeline_parallel": 8,
                                        "schedule": "gpipe"}, "needs schedule and micro_batches"),
    ("micro-batches on ddp", {"micro_batches": 4}, "only apply to pipeline"),
    ("unknown strategy", {"strategy": "zero3"}, "strategy"),
]


@pytest.mark.parametrize("label,change,expected", BAD_LAYOUTS, ids=[b[0] for b in BAD_LAYOUTS])
def test_bad_layouts_are_refused_with_the_reason(label, change, expected):
    with pytest.raises(ValueError, match=expected):
        ParallelLayout.model_validate({**VALID_LAYOUT, **change})


def _spec_data(spec: WorkloadSpec) -> dict:
    return copy.deepcopy(spec.model_dump())


def test_a_global_batch_that_does_not_split_is_refused_and_comm_facts_need_a_layout():
    spec = _by_id(MULTI)["llama_7b_pp4_train"]
    data = _spec_data(spec)
    data["batch_size"] = 12  # not a whole number of its 8 micro-batches
    with pytest.raises(ValueError, match="must divide into"):
        WorkloadSpec.model_validate(data)
    data = _spec_data(spec)
    del data["comm_method"]
    with pytest.raises(ValueError, match="needs comm_bytes_per_iteration and the comm_method"):
        WorkloadSpec.model_validate(data)
    single = _spec_data(GPU_V1["llama_1b3_train"])
    single["comm_bytes_per_iteration"] = 5
    with pytest.raises(ValueError, match="only apply to workloads with a parallel layout"):
        WorkloadSpec.model_validate(single)


def test_a_parallel_workload_is_never_built_as_one_process():
    need_torch()
    from joulebench.measure import models
    with pytest.raises(InputError, match="runs on 2 ranks .* one process cannot be run as it: .*--nproc-per-node 2"):
        models.build_workload(SMOKE_MULTI[0], "cpu")


def test_pinning_a_multi_track_recounts_and_changes_nothing():
    pytest.importorskip("torch")
    from joulebench.measure.pinning_parallel import pin_parallel_workloads

    assert [r.changed for r in pin_parallel_workloads("smoke-multi")] == [()] * len(SMOKE_MULTI)


def test_pinning_fills_a_never_pinned_multi_file(tmp_path):
    pytest.importorskip("torch")
    from joulebench.measure.pinning_parallel import pin_parallel_workloads

    source = catalog.WORKLOADS_DIR / "smoke-multi"
    folder = tmp_path / "smoke-multi"
    shutil.copytree(source, folder)
    target = folder / "gpt2_tiny_ddp2_train.yaml"
    keys = ("params", "flops_per_iteration", "flops_method", "pinned_with", "comm_bytes_per_iteration", "comm_method")
    target.write_text("\n".join(l for l in target.read_text().splitlines() if not l.startswith(keys)) + "\n")
    [result] = pin_parallel_workloads("smoke-multi", write=True, only=["gpt2_tiny_ddp2_train"], root=tmp_path)
    assert result.written and set(keys) <= set(result.changed)
    assert catalog.load_workload(target) == catalog.load_workload(source / "gpt2_tiny_ddp2_train.yaml")
    assert "# smoke-multi: 2 ranks on one node" in target.read_text()  # comments kept


def test_pinning_a_spec_without_a_layout_is_refused(tmp_path):
    pytest.importorskip("torch")
    from joulebench.measure.pinning_parallel import pin_parallel_file

    folder = tmp_path / "smoke"
    folder.mkdir()
    path = folder / "mobilenet_v3_small_infer.yaml"
    shutil.copy(catalog.WORKLOADS_DIR / "smoke" / path.name, path)
    with pytest.raises(InputError, match="expected a parallel layout"):
        pin_parallel_file(path)


def test_workloads_pin_checks_multi_rank_specs_with_their_communication(capsys):
    pytest.importorskip("torch")
    from joulebench.cli import main

    assert main(["workloads", "pin", "--track", "smoke-multi"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SMOKE_MULTI)
    assert all("comm bytes/iter" in line and line.endswith("up to date") for line in lines), lines
    assert main(["workloads", "pin", "--track", "smoke"]) == 0
    assert "comm bytes" not in capsys.readouterr().out

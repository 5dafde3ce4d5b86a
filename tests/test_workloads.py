"""The pinned suite (catalog/workloads/) and its window sizing: no torch needed (tests/test_models.py has the builders)."""

from __future__ import annotations

import pytest

from joulebench import catalog
from joulebench.catalog import sizing

ALL_SPECS = catalog.load_workloads()
GPU = catalog.load_workloads("gpu-v1")
CPU = catalog.load_workloads("cpu-v1")
SMOKE = catalog.load_workloads("smoke")


def _by_id(specs):
    return {s.id: s for s in specs}


# --------------------------------------------------------------------------- the shipped files


def test_every_shipped_workload_file_loads():
    files = [p for p in catalog.WORKLOADS_DIR.rglob("*.yaml") if not p.name.startswith("_")]
    assert len(files) == len(ALL_SPECS) >= 29
    assert {s.track for s in ALL_SPECS} == {"gpu-v1", "cpu-v1", "smoke", "gpu-v1-multi", "smoke-multi"}


def test_gpu_v1_covers_domains_tasks_dtypes_and_sizes():
    assert len(GPU) >= 20
    assert {s.domain for s in GPU} == {"vision", "language"}
    assert {s.task for s in GPU} == {"train", "infer", "generate"}
    assert {"float32", "bfloat16"} <= {s.dtype for s in GPU}
    params = sorted(s.params for s in GPU)
    assert 2.0e6 <= params[0] <= 3.0e6, "smallest should be ~2.5M (MobileNetV3-Small)"
    assert 12.0e9 <= params[-1] <= 14.0e9, "largest should be ~13B"
    assert all(s.repeats == 3 for s in GPU)


def test_gpu_v1_has_the_named_models():
    archs = {s.model.architecture for s in GPU}
    assert {"mobilenet_v3_small", "resnet50", "vit_b_16"} <= archs
    assert archs & {"efficientnet_b0", "convnext_tiny"}
    assert archs & {"vit_l_16", "vit_h_14"}
    assert "DistilBertForMaskedLM" in archs or any(
        s.model.config.get("model_type") == "bert" and s.model.config.get("hidden_size") == 768 for s in GPU
    )
    bert_large = [s for s in GPU if s.model.config.get("model_type") == "bert" and s.model.config.get("hidden_size") == 1024]
    assert bert_large, "BERT-large is missing"
    gpt2_widths = {s.model.config.get("n_embd") for s in GPU if s.model.config.get("model_type") == "gpt2"}
    assert gpt2_widths == {768, 1024, 1280, 1600}, "GPT-2 small, medium, large and XL"

    def decoders(lo, hi, task):
        return [
            s for s in GPU
            if s.model.config.get("model_type") in ("llama", "gpt2") and lo <= s.params <= hi and s.task == task
        ]

    trainers = decoders(1.1e9, 1.6e9, "train")
    assert any(s.optimizer == "adamw" and s.dtype == "bfloat16" for s in trainers), "~1.3B decoder trained with AdamW"
    assert decoders(6.0e9, 7.5e9, "infer"), "~7B prefill"
    assert decoders(6.0e9, 7.5e9, "generate"), "~7B decode"
    assert decoders(12.0e9, 14.0e9, "infer"), "~13B prefill"


def test_cpu_and_smoke_tracks():
    assert len(CPU) >= 6
    assert all(s.dtype == "float32" for s in CPU)
    assert {s.domain for s in CPU} == {"vision", "language"}
    assert 2 <= len(SMOKE) <= 3
    assert all(s.repeats == 2 and s.warmup_iterations == 1 for s in SMOKE)
    assert {s.task for s in SMOKE} == {"train", "infer", "generate"}


@pytest.mark.parametrize("spec", GPU + CPU, ids=lambda s: f"{s.track}/{s.id}")
def test_target_window_is_the_sizing_estimate_and_5_to_10_s(spec):
    assert spec.target_window_s == pytest.approx(sizing.estimate_window_s(spec), abs=0.006)
    assert 5.0 <= spec.target_window_s <= 10.0


def test_one_gpu_v1_pass_fits_8_minutes_on_one_h100():
    # Each workload: 3 s idle + 2 s build + its warm-up + 3 windows; 10 s once for start-up.
    total = sizing.estimate_pass_s(GPU)
    assert total == pytest.approx(
        sizing.PASS_STARTUP_S
        + sum(
            sizing.IDLE_S_PER_WORKLOAD + sizing.BUILD_S_PER_WORKLOAD
            + s.warmup_iterations * sizing.estimate_iteration_s(s) + s.repeats * s.target_window_s
            for s in GPU
        )
    )
    assert total <= sizing.GPU_V1_PASS_BUDGET_S == 480.0


def test_every_workload_has_an_assumed_mfu_and_no_stale_one():
    for track in ("gpu-v1", "cpu-v1"):
        ids = {s.id for s in catalog.load_workloads(track)}
        assert set(sizing.ASSUMED_MFU[track]) == ids

"""The pinned suite (workloads/), the model builders (joulebench.measure.models) and pinning (joulebench.measure.pinning)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.catalog import sizing
from joulebench.errors import InputError
from joulebench.formats import WorkloadSpec

torch = pytest.importorskip("torch")
models = pytest.importorskip("joulebench.measure.models")
pinning = pytest.importorskip("joulebench.measure.pinning")

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


# --------------------------------------------------------------------------- pinned counts


def _flops_tolerance(spec: WorkloadSpec) -> float:
    """Relative tolerance on a recount of FLOPs.

    With the library versions the spec was pinned with, the count is deterministic
    and must match to the FLOP. Another torch / transformers / torchvision version
    (within pyproject's bounds) may dispatch a slightly different set of ops (an
    attention path, a fused projection) or change a counting formula, so we then
    allow 2%, which still catches a wrong batch, length, model shape or task.
    """
    if pinning.library_versions(spec) == spec.pinned_with:
        return 0.0
    return 0.02


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.track}/{s.id}")
def test_stored_params_and_flops_match_a_rebuild_on_the_meta_device(spec):
    params, flops = models.count_params_and_flops(spec)
    assert spec.params == params
    assert spec.flops_per_iteration == pytest.approx(flops, rel=_flops_tolerance(spec), abs=0)
    assert spec.flops_method == models.FLOPS_METHODS[spec.task]


def test_generate_series_equals_counting_every_decode_step():
    gpt2 = _by_id(SMOKE)["gpt2_tiny_generate"]
    assert models.generate_flops_by_full_loop(gpt2) == gpt2.flops_per_iteration
    # A Llama shape too: rotary embeddings and grouped-query attention.
    llama = gpt2.model_copy(
        update={
            "model": gpt2.model.model_copy(
                update={
                    "architecture": "LlamaForCausalLM",
                    "config": dict(
                        model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, vocab_size=512, max_position_embeddings=128,
                    ),
                }
            ),
            "new_tokens": 11,
        }
    )
    assert models.generate_flops_by_full_loop(llama) == models.count_params_and_flops(llama)[1]


def test_grouped_convolution_backward_is_twice_its_forward():
    # torch's formula leaves groups out of the weight gradient; ours must not.
    with torch.device("meta"):
        depthwise = torch.nn.Conv2d(16, 16, 3, groups=16)
        grouped = torch.nn.Conv2d(16, 32, 3, groups=4)
    for conv in (depthwise, grouped):
        x = torch.empty(2, 16, 32, 32, device="meta", requires_grad=True)
        forward = models.count_flops(lambda: conv(x))
        both = models.count_flops(lambda: conv(x).sum().backward())
        assert both == 3 * forward


def test_bf16_model_is_built_in_bf16_and_the_default_dtype_is_restored():
    spec = _by_id(GPU)["llama_13b_prefill"]
    before = torch.get_default_dtype()
    model = models.build_model(spec, "meta")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert all(p.device.type == "meta" for p in model.parameters())
    assert torch.get_default_dtype() == before


# --------------------------------------------------------------------------- building and stepping


def _smoke_outputs(spec: WorkloadSpec, steps: int = 2):
    workload = models.build_workload(spec, "cpu")
    try:
        outputs = [workload.step().clone() for _ in range(steps)]
        workload.sync()
        return outputs
    finally:
        workload.close()


@pytest.mark.parametrize("spec", SMOKE, ids=lambda s: s.id)
def test_smoke_workload_steps_on_cpu_and_is_deterministic(spec):
    first = _smoke_outputs(spec)
    again = _smoke_outputs(spec)
    for a, b in zip(first, again):
        assert torch.equal(a, b), "same seed, same outputs"
    if spec.task == "train":
        assert first[0].ndim == 0 and torch.isfinite(first[0])
        assert not torch.equal(first[0], first[1]), "the optimizer step changes the next loss"
    elif spec.task == "infer":
        assert first[0].shape == (spec.batch_size, 1000)
    else:
        assert first[0].shape == (spec.batch_size, spec.new_tokens)
        assert first[0].dtype == torch.long


def test_another_seed_gives_other_weights():
    spec = _by_id(SMOKE)["mobilenet_v3_small_infer"]
    assert not torch.equal(_smoke_outputs(spec, 1)[0], _smoke_outputs(spec.model_copy(update={"seed": 1}), 1)[0])


def test_close_frees_the_model():
    workload = models.build_workload(_by_id(SMOKE)["mobilenet_v3_small_train"], "cpu")
    workload.step()
    workload.close()
    assert workload.model is None and workload.optimizer is None


def test_fp32_precision_is_pinned_and_restored():
    before = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
    restore = models._set_fp32_precision(ieee=True)
    assert (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == ("ieee", "ieee")
    restore()
    assert (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision) == before


def test_sequence_longer_than_the_model_allows_names_the_field():
    spec = _by_id(SMOKE)["gpt2_tiny_generate"].model_copy(update={"seq_len": 125})
    with pytest.raises(InputError, match="seq_len.*max_position_embeddings 128"):
        models.count_params_and_flops(spec)


def test_unknown_architecture_names_the_field():
    spec = _by_id(SMOKE)["mobilenet_v3_small_infer"]
    bad = spec.model_copy(update={"model": spec.model.model_copy(update={"architecture": "resnet5O"})})
    with pytest.raises(InputError, match="model.architecture.*resnet5O"):
        models.build_model(bad, "meta")


# --------------------------------------------------------------------------- pinning


SMOKE_FILE = catalog.WORKLOADS_DIR / "smoke" / "mobilenet_v3_small_infer.yaml"


def _tmp_track(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smoke" / "mobilenet_v3_small_infer.yaml"
    path.parent.mkdir()
    path.write_text(text)
    return path


def test_pin_rewrites_only_the_pinned_lines(tmp_path):
    original = SMOKE_FILE.read_text()
    stale = (
        original.replace("params: 2542856", "params: 999  # typed by hand")
        .replace("seed: 0", "# a comment kept as written\nseed: 0")
    )
    stale = "\n".join(line for line in stale.splitlines() if not line.startswith("pinned_with"))
    stale += "\npinned_with:\n  torch: '1.0'\n"
    path = _tmp_track(tmp_path, stale)

    dry = pinning.pin_workloads("smoke", write=False, root=tmp_path)
    assert [r.changed for r in dry] == [("params", "pinned_with")]
    assert path.read_text() == stale, "a dry run writes nothing"

    [result] = pinning.pin_workloads("smoke", write=True, root=tmp_path)
    assert result.written and result.params == 2542856
    text = path.read_text()
    assert "# a comment kept as written\nseed: 0" in text
    assert "  torch: '1.0'" not in text
    kept = [line for line in stale.splitlines() if not line.startswith(("params", "pinned_with", "  torch"))]
    assert [line for line in text.splitlines() if not line.startswith(("params", "pinned_with"))] == kept
    spec = catalog.load_workload(path)
    assert spec.params == 2542856 and spec.pinned_with == pinning.library_versions(spec)
    assert pinning.pin_workloads("smoke", write=True, root=tmp_path)[0].changed == ()


def test_pin_fills_a_never_pinned_file(tmp_path):
    pinned_keys = ("params", "flops_per_iteration", "flops_method", "pinned_with")
    bare = "\n".join(line for line in SMOKE_FILE.read_text().splitlines() if not line.startswith(pinned_keys)) + "\n"
    path = _tmp_track(tmp_path, bare)
    with pytest.raises(InputError):
        catalog.load_workload(path)
    pinning.pin_workloads(write=True, root=tmp_path)
    assert catalog.load_workload(path) == catalog.load_workload(SMOKE_FILE)


def test_pin_writes_the_window_estimate_with_its_assumptions(tmp_path):
    source = catalog.WORKLOADS_DIR / "gpu-v1" / "resnet50_train.yaml"
    original = catalog.load_workload(source)
    text = re.sub(r"(?m)^target_window_s:.*$", "target_window_s: 99.0  # typed by hand", source.read_text())
    text = re.sub(r"(?m)^measured_iterations:.*$", f"measured_iterations: {2 * original.measured_iterations}", text)
    path = tmp_path / "gpu-v1" / "resnet50_train.yaml"
    path.parent.mkdir()
    path.write_text(text)
    [result] = pinning.pin_workloads("gpu-v1", write=True, root=tmp_path)
    assert result.changed == ("target_window_s",)
    spec = catalog.load_workload(path)
    assert spec.target_window_s == round(sizing.estimate_window_s(spec), 2)
    assert spec.target_window_s == pytest.approx(2 * original.target_window_s, abs=0.02)
    line = next(line for line in path.read_text().splitlines() if line.startswith("target_window_s"))
    assert "MFU 0.4" in line and "67 TFLOPS float32" in line and "H100" in line


def test_pin_refuses_unknown_track_or_workload(tmp_path):
    shutil.copytree(catalog.WORKLOADS_DIR / "smoke", tmp_path / "smoke")
    with pytest.raises(InputError, match="unknown track 'smokey'"):
        pinning.pin_workloads("smokey", root=tmp_path)
    with pytest.raises(InputError, match="unknown workload 'nope'"):
        pinning.pin_workloads("smoke", only=["nope"], root=tmp_path)

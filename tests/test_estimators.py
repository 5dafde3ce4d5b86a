"""Estimators: each baseline's formula against a hand calculation, the registry, the live adapters."""

from __future__ import annotations

import json
import math
import sys

import pytest

from joulebench.cli import main
from joulebench.errors import InputError, JoulebenchError
from joulebench.estimators import (
    J_PER_KWH,
    EstimatorFailedError,
    EstimatorUnavailableError,
    carbontracker_live,
    codecarbon_live,
    create_static,
    eco2ai_live,
    get_class,
    list_estimators,
    open_live,
)
from joulebench.estimators.base import check_estimates
from joulebench.estimators.flops import FlopModel
from joulebench.estimators.green_algorithms import GreenAlgorithms
from joulebench.estimators.mlco2 import MLCO2Impact
from joulebench.formats import RunFacts, WorkloadSpec
from tests.doubles.live_trackers import (
    ScriptedCarbonTracker,
    ScriptedEco2aiTracker,
    ScriptedEmissionsTracker,
)
from tests.doubles.plugins import FAKE_STATIC_PLUGIN, installed_plugin
from tests.doubles.records import make_profile, make_record


def facts(**kwargs) -> RunFacts:
    return RunFacts.from_record(make_record(**kwargs))


# --------------------------------------------------------------------------- RunFacts


def test_run_facts_carry_observables_and_never_the_truth():
    record = make_record(truth={"gpu": 1234.0}, gpu_util_pct=40.0, cpu_util_pct=10.0, duration_s=12.5)
    f = RunFacts.from_record(record)
    assert (f.run_id, f.duration_s, f.iterations, f.device_count) == (record.run_id, 12.5, 100, 1)
    assert (f.mean_gpu_util_pct, f.mean_cpu_util_pct) == (40.0, 10.0)
    assert not {"energy", "trace", "cross_checks", "live_estimates"} & set(RunFacts.model_fields)
    assert "1234" not in f.model_dump_json()
    # Round trip as the sandbox will pipe it.
    assert RunFacts.model_validate_json(f.model_dump_json()) == f


def test_run_facts_without_trace_have_no_utilisation():
    f = facts(truth={"gpu": 1.0})
    assert f.mean_gpu_util_pct is None and f.mean_cpu_util_pct is None


# --------------------------------------------------------------------------- mlco2


def test_mlco2_does_not_answer_for_a_device_its_table_lacks():
    # The calculator lists no H100: it has no answer, whatever TDP the profile declares.
    f = facts(profile=make_profile(accelerator_model="H100 SXM5 80GB", accelerator_tdp_w=700.0, accelerator_count=4),
              duration_s=10.0)
    assert f.device_count == 4
    assert MLCO2Impact.tdp_w(f.profile) is None
    assert MLCO2Impact().estimate(f) == {}


@pytest.mark.parametrize(
    ("model", "tdp"),
    [("A100 SXM4 80GB", 400.0), ("A100-SXM4-80GB", 400.0), ("NVIDIA Tesla T4", 70.0), ("A100 PCIe 40GB", 250.0),
     ("Tesla V100-SXM2-32GB", 300.0)],
)
def test_mlco2_prefers_the_pinned_table(model, tdp):
    # The profile says 999 W; the calculator's table wins for devices it lists.
    f = facts(profile=make_profile(accelerator_model=model, accelerator_tdp_w=999.0), duration_s=3.0)
    assert MLCO2Impact().estimate(f) == {"gpu": tdp * 3.0}


def test_mlco2_on_a_cpu_profile_is_cpu_tdp_times_sockets():
    cpu = make_profile("test-cpu", kind="cpu", cpu_model="Intel(R) Xeon(R) Gold 6148", cpu_tdp_w=1.0, sockets=2)
    assert MLCO2Impact().estimate(facts(profile=cpu, duration_s=10.0)) == {"cpu": 150.0 * 2 * 10.0}
    other = make_profile("test-cpu", kind="cpu", cpu_model="Some CPU", cpu_tdp_w=125.0, sockets=1)
    assert MLCO2Impact().estimate(facts(profile=other, duration_s=4.0)) == {}


def test_mlco2_gives_nothing_for_a_gpu_profile_run_without_gpus():
    assert MLCO2Impact().estimate(facts(device_count=0)) == {}


# --------------------------------------------------------------------------- green-algorithms


def test_green_algorithms_hand_calculation():
    profile = make_profile(accelerator_tdp_w=700.0, cpu_tdp_w=250.0, sockets=2, cores_per_socket=32, memory_gib=512.0)
    f = facts(profile=profile, duration_s=10.0, gpu_util_pct=50.0, cpu_util_pct=20.0)
    got = GreenAlgorithms().estimate(f)
    cpu = 64 * (250.0 / 32) * 0.20 * 10.0  # 1000 J
    gpu = 1 * 700.0 * 0.50 * 10.0  # 3500 J
    dram = 512 * 1.073741824 * 0.3725 * 10.0  # 2047.84 J
    assert got["cpu"] == pytest.approx(1000.0, rel=1e-12) == pytest.approx(cpu)
    assert got["gpu"] == pytest.approx(3500.0, rel=1e-12) == pytest.approx(gpu)
    assert got["dram"] == pytest.approx(2047.8404067, rel=1e-9) == pytest.approx(dram)
    assert got["node"] == pytest.approx(cpu + gpu + dram, rel=1e-12)


def test_green_algorithms_defaults_to_full_usage_without_a_trace():
    profile = make_profile(accelerator_tdp_w=300.0, cpu_tdp_w=100.0, sockets=1, cores_per_socket=10, memory_gib=1.0)
    got = GreenAlgorithms().estimate(facts(profile=profile, duration_s=2.0))
    assert got["cpu"] == pytest.approx(100.0 * 2.0)
    assert got["gpu"] == pytest.approx(300.0 * 2.0)


def test_green_algorithms_cpu_profile_has_no_gpu_term():
    cpu = make_profile("test-cpu", kind="cpu")
    got = GreenAlgorithms().estimate(facts(profile=cpu, cpu_util_pct=150.0))
    assert "gpu" not in got
    assert got["node"] == pytest.approx(got["cpu"] + got["dram"])
    assert got["cpu"] == pytest.approx(2 * 250.0 * 10.0)  # utilisation clamped to 100%


# --------------------------------------------------------------------------- flops


def test_flops_hand_calculation_and_device_count_cancels():
    profile = make_profile(accelerator_tdp_w=700.0, peak_tflops={"float32": 60.0, "bfloat16": 900.0, "float16": 900.0},
                           accelerator_count=2)
    # 1e17 FLOPs take at least 1e17 / (2 x 900e12) = 56 s on this hardware; the window says 200 s.
    f = facts(profile=profile, flops_per_iteration=1e15, iterations=100, duration_s=200.0)
    # t = 1e17 / (2 x 900e12 x 0.4) = 138.9 s; E = t x 2 x 700 W = 1e17 x 700 / (900e12 x 0.4) = 194444.4 J
    assert FlopModel().estimate(f)["gpu"] == pytest.approx(1e17 * 700.0 / (900e12 * 0.4), rel=1e-12)
    assert FlopModel().estimate(f)["gpu"] == pytest.approx(194444.444, rel=1e-6)
    one = facts(profile=profile, flops_per_iteration=1e15, iterations=100, device_count=1, duration_s=200.0)
    assert FlopModel().estimate(one) == FlopModel().estimate(f)


def test_flops_uses_the_peak_of_the_spec_dtype():
    profile = make_profile(accelerator_tdp_w=100.0, peak_tflops={"float32": 10.0, "bfloat16": 40.0, "float16": 40.0})
    record = make_record(profile=profile, flops_per_iteration=4e12, iterations=1)
    spec32 = record.workload.model_copy(update={"dtype": "float32"})
    f32 = RunFacts.from_record(record).model_copy(update={"workload": spec32})
    assert FlopModel().estimate(f32)["gpu"] == pytest.approx(4e12 / (10e12 * 0.4) * 100.0)
    assert FlopModel().estimate(RunFacts.from_record(record))["gpu"] == pytest.approx(4e12 / (40e12 * 0.4) * 100.0)


def test_flops_falls_back_to_k_n_d_for_external_models():
    spec = WorkloadSpec(
        id="imported-llm", track="imported", domain="language", task="train",
        model={"library": "external", "architecture": "Keras"}, dtype="bfloat16", batch_size=4, seq_len=256,
        optimizer="adamw", warmup_iterations=0, measured_iterations=10, repeats=1, seed=0, params=1_000_000,
    )
    f = facts(workload=spec, iterations=10)
    flops = 6.0 * 1_000_000 * (4 * 256) * 10
    assert FlopModel.total_flops(f) == flops
    assert FlopModel().estimate(f)["gpu"] == pytest.approx(flops * 700.0 / (900e12 * 0.4))


def test_flops_declines_cpu_profiles_and_runs_without_gpus():
    assert FlopModel().estimate(facts(profile=make_profile("test-cpu", kind="cpu"))) == {}
    assert FlopModel().estimate(facts(device_count=0)) == {}


# --------------------------------------------------------------------------- what an estimator may return


@pytest.mark.parametrize(
    "values",
    [{"gpu": float("nan")}, {"gpu": -1.0}, {"gpu": float("inf")}, {"node": 1.0}, {"gpu": True}, {"gpu": "12"}, [1.0]],
)
def test_check_estimates_refuses_bad_values(values):
    with pytest.raises(ValueError):
        check_estimates("x", ("gpu",), values)


# --------------------------------------------------------------------------- registry


def test_list_has_every_builtin_with_its_declarations():
    infos = {i.id: i for i in list_estimators()}
    assert {"mlco2", "green-algorithms", "flops", "codecarbon", "carbontracker", "eco2ai"} <= set(infos)
    assert infos["mlco2"].kind == "static" and infos["mlco2"].boundaries == ("gpu", "cpu")
    assert infos["codecarbon"].kind == "live" and infos["codecarbon"].boundaries == ("gpu", "cpu", "dram", "node")
    for info in infos.values():
        assert info.version and info.available in (True, False)
        assert info.available or info.reason  # never unavailable without saying why


def test_unavailable_live_estimators_are_listed_with_the_reason(monkeypatch):
    monkeypatch.setattr(carbontracker_live, "installed_version", lambda name: None)
    monkeypatch.setattr(eco2ai_live, "installed_version", lambda name: None)
    infos = {i.id: i for i in list_estimators()}
    assert not infos["carbontracker"].available
    assert "carbontracker is not installed" in infos["carbontracker"].reason
    assert "pip install 'joulebench[carbontracker]'" in infos["carbontracker"].reason
    assert not infos["eco2ai"].available and "not installed" in infos["eco2ai"].reason


def test_estimators_list_json(capsys):
    assert main(["estimators", "list", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    for item in items:
        assert {"id", "version", "kind", "boundaries", "available", "reason"} <= set(item)
    assert any(i["id"] == "green-algorithms" and i["boundaries"] == ["gpu", "cpu", "dram", "node"] for i in items)


def test_unknown_id_suggests_the_closest():
    with pytest.raises(InputError, match="Did you mean 'mlco2'"):
        get_class("mlco")
    with pytest.raises(InputError, match="unknown estimator"):
        open_live("no-such-estimator", "/tmp")


def test_open_live_refuses_static_and_create_static_refuses_live(tmp_path):
    with pytest.raises(InputError, match="not live"):
        open_live("mlco2", tmp_path)
    with pytest.raises(InputError, match="not static"):
        create_static("codecarbon")


def test_open_live_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(codecarbon_live, "installed_version", lambda name: None)
    with pytest.raises(EstimatorUnavailableError) as err:
        open_live("codecarbon", tmp_path)
    assert "codecarbon is not installed: pip install 'joulebench[estimators]'" in str(err.value)
    assert isinstance(err.value, JoulebenchError)


def test_third_party_plugin_is_found_through_the_entry_point_group(tmp_path):
    modules = {"fake_joulebench_plugin": FAKE_STATIC_PLUGIN.format(estimator_id="half-tdp")}
    with installed_plugin(tmp_path, "fake-plugin", {"half-tdp": "fake_joulebench_plugin:FakeHalfTdp"}, modules):
        infos = {i.id: i for i in list_estimators()}
        assert infos["half-tdp"].available and infos["half-tdp"].kind == "static"
        assert "fake-plugin" in infos["half-tdp"].source
        f = facts(profile=make_profile(accelerator_tdp_w=400.0), duration_s=5.0)
        assert create_static("half-tdp").estimate(f) == {"gpu": 1000.0}
    assert "half-tdp" not in {i.id for i in list_estimators()}


def test_broken_and_clashing_plugins_are_listed_not_dropped(tmp_path):
    modules = {
        "fake_broken_plugin": "raise ImportError('needs a package that is not installed')\n",
        "fake_clash_plugin": FAKE_STATIC_PLUGIN.format(estimator_id="mlco2"),
        "fake_wrong_id_plugin": FAKE_STATIC_PLUGIN.format(estimator_id="something-else"),
    }
    entry_points = {
        "broken": "fake_broken_plugin:Whatever",
        "mlco2": "fake_clash_plugin:FakeHalfTdp",
        "wrong-id": "fake_wrong_id_plugin:FakeHalfTdp",
    }
    with installed_plugin(tmp_path, "fake-bad-plugins", entry_points, modules):
        infos = {i.id: i for i in list_estimators()}
        assert not infos["broken"].available and "needs a package that is not installed" in infos["broken"].reason
        clash = [i for i in infos.values() if i.id.startswith("mlco2 (")]
        assert clash and not clash[0].available and "built-in" in clash[0].reason
        assert infos["mlco2"].available and infos["mlco2"].source == "builtin"
        assert get_class("mlco2") is MLCO2Impact
        assert not infos["wrong-id"].available and "registered as 'wrong-id'" in infos["wrong-id"].reason
        with pytest.raises(EstimatorUnavailableError, match="could not be loaded"):
            create_static("broken")


# --------------------------------------------------------------------------- codecarbon adapter


@pytest.fixture
def pinned_codecarbon(monkeypatch):
    monkeypatch.setattr(codecarbon_live, "installed_version", lambda name: "3.3.2")


def test_codecarbon_adapter_converts_kwh_exactly_and_keeps_boundaries_apart(tmp_path, pinned_codecarbon):
    scripted = ScriptedEmissionsTracker(cpu_kwh=0.001, gpu_kwh=0.002, ram_kwh=0.0005, cpu_mode="cpu_load")
    est = codecarbon_live.CodeCarbonLive(tmp_path, tracker_factory=lambda: scripted)
    est.start()
    out = {e.boundary: e for e in est.stop()}
    assert scripted.calls == ["get_detected_hardware", "start", "stop"]
    assert set(out) == {"gpu", "cpu", "dram", "node"}
    assert out["cpu"].energy_j == 0.001 * 3_600_000 == 3600.0
    assert out["gpu"].energy_j == 7200.0
    assert out["dram"].energy_j == 1800.0
    assert out["node"].energy_j == pytest.approx(12600.0, rel=1e-12)
    assert J_PER_KWH == 3_600_000
    assert all(e.estimator_id == "codecarbon" and e.estimator_version == "3.3.2" for e in out.values())
    assert "no RAPL" in out["cpu"].mode and out["gpu"].mode.startswith("nvml")
    assert out["node"].raw["emissions_data"]["cpu_energy"] == 0.001
    assert out["node"].raw["settings"]["measure_power_secs"] == 15.0
    assert out["cpu"].raw == {"field": "cpu_energy", "kwh": 0.001}


def test_codecarbon_adapter_records_rapl_mode_and_a_missing_gpu(tmp_path, pinned_codecarbon):
    scripted = ScriptedEmissionsTracker(cpu_mode="intel_rapl", gpu=False, gpu_kwh=0.0, force_ram_power=10)
    est = codecarbon_live.CodeCarbonLive(tmp_path, tracker_factory=lambda: scripted)
    est.start()
    out = {e.boundary: e for e in est.stop()}
    assert out["cpu"].mode.startswith("intel_rapl: RAPL")
    assert out["gpu"].mode.startswith("no GPU detected") and out["gpu"].energy_j == 0.0
    assert out["dram"].mode == "forced constant 10 W"


def test_codecarbon_adapter_fails_loudly_when_codecarbon_swallowed_an_error(tmp_path, pinned_codecarbon):
    est = codecarbon_live.CodeCarbonLive(tmp_path, tracker_factory=lambda: ScriptedEmissionsTracker(produce_result=False))
    est.start()
    with pytest.raises(EstimatorFailedError, match="produced no result"):
        est.stop()


def test_codecarbon_adapter_refuses_bad_call_order_and_a_negative_reading(tmp_path, pinned_codecarbon):
    est = codecarbon_live.CodeCarbonLive(tmp_path, tracker_factory=lambda: ScriptedEmissionsTracker(cpu_kwh=-1.0))
    with pytest.raises(EstimatorFailedError, match="without start"):
        est.stop()
    est.start()
    with pytest.raises(EstimatorFailedError, match="twice"):
        est.start()
    with pytest.raises(EstimatorFailedError, match="cpu_energy"):
        est.stop()


def test_codecarbon_adapter_sets_up_a_fresh_tracker_for_each_window(tmp_path, pinned_codecarbon):
    made = []

    def factory():
        made.append(ScriptedEmissionsTracker())
        return made[-1]

    est = codecarbon_live.CodeCarbonLive(tmp_path, tracker_factory=factory)
    for _ in range(2):
        est.start()
        assert len(est.stop()) == 4
    assert len(made) == 2


def test_real_codecarbon_offline_tracker_on_cpu(tmp_path):
    """CodeCarbon itself, offline, on this machine's CPU: no GPU needed, no network, no files."""
    pytest.importorskip("codecarbon")
    import time

    est = open_live("codecarbon", tmp_path)
    est.start()
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:
        pass
    out = {e.boundary: e for e in est.stop()}
    assert set(out) == {"gpu", "cpu", "dram", "node"}
    data = out["node"].raw["emissions_data"]
    assert data["codecarbon_version"] == codecarbon_live.installed_version("codecarbon")
    for boundary, field in codecarbon_live.FIELDS.items():
        assert out[boundary].energy_j == data[field] * 3_600_000
        assert out[boundary].energy_j >= 0 and math.isfinite(out[boundary].energy_j)
    parts = out["gpu"].energy_j + out["cpu"].energy_j + out["dram"].energy_j
    assert out["node"].energy_j == pytest.approx(parts, rel=1e-9)
    assert out["cpu"].energy_j > 0 and out["dram"].energy_j > 0
    assert out["cpu"].mode  # which CPU mode CodeCarbon chose is always recorded
    assert list(tmp_path.glob("*.csv")) == []  # offline and file-less, as configured


# --------------------------------------------------------------------------- carbontracker and eco2ai adapters


@pytest.fixture
def pinned_others(monkeypatch):
    monkeypatch.setattr(carbontracker_live, "installed_version", lambda name: "2.4.7")
    monkeypatch.setattr(eco2ai_live, "installed_version", lambda name: "0.3.12")


def test_carbontracker_adapter_reads_components_without_pue(tmp_path, pinned_others):
    scripted = ScriptedCarbonTracker(gpu_kwh=0.002, cpu_kwh=0.001)
    est = carbontracker_live.CarbontrackerLive(tmp_path, tracker_factory=lambda: scripted)
    est.start()
    out = {e.boundary: e for e in est.stop()}
    assert out["gpu"].energy_j == 7200.0 and out["cpu"].energy_j == 3600.0
    assert out["node"].energy_j == pytest.approx(10800.0)
    assert out["cpu"].mode == "GenericCPU: TDP x CPU utilisation model (no RAPL)"
    assert out["node"].raw["epoch_times_s"] == [1.5]
    assert scripted.tracker.stopped and scripted.intensity_stopper.was_set and scripted.deleted


def test_carbontracker_adapter_fails_when_it_stopped_itself(tmp_path, pinned_others):
    est = carbontracker_live.CarbontrackerLive(tmp_path, tracker_factory=lambda: ScriptedCarbonTracker(dies=True))
    est.start()
    with pytest.raises(EstimatorFailedError, match="stopped itself"):
        est.stop()


def test_eco2ai_adapter_reads_its_own_row_as_node(tmp_path, pinned_others):
    est = eco2ai_live.Eco2aiLive(tmp_path, tracker_factory=lambda name: ScriptedEco2aiTracker(name, kwh=0.003))
    est.start()
    (out,) = est.stop()
    assert out.boundary == "node" and out.energy_j == pytest.approx(10800.0)
    assert out.raw["csv_row"]["id"] == "scripted-eco2ai-run"


def test_eco2ai_adapter_fails_without_output(tmp_path, pinned_others):
    est = eco2ai_live.Eco2aiLive(tmp_path, tracker_factory=lambda name: ScriptedEco2aiTracker(name, write=False))
    est.start()
    with pytest.raises(EstimatorFailedError, match="no output file"):
        est.stop()


def test_listing_imports_no_heavy_packages():
    import subprocess

    code = "import sys; from joulebench.estimators import list_estimators; list_estimators(); " \
           "print(sorted(m for m in ('torch', 'codecarbon', 'carbontracker', 'eco2ai', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

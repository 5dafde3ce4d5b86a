"""Test double: valid RunRecords built from a few keyword arguments.

The energies here are whatever a test passes in (`truth={"gpu": 1000.0}`);
they stand for metered truth only inside tests and are never written to
results/. Every record is built through the real schemas (WorkloadSpec,
HardwareProfile, RunRecord), so it is valid exactly when a real one would be.

    make_record(workload_id="resnet50-train", truth={"gpu": 1000.0, "node": 1800.0},
                live=[live_estimate("codecarbon", "gpu", 950.0)], site="lab-a")
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from joulebench import SUITE_VERSION, __version__
from joulebench.formats import (
    BoundaryEnergy,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    PowerTrace,
    Provenance,
    RunRecord,
    TruthUncertainty,
    WorkloadSpec,
    make_run_id,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def make_workload(
    workload_id: str = "resnet50-train",
    *,
    domain: str = "vision",
    task: str = "train",
    params: int = 25_557_032,
    flops_per_iteration: float | None = None,
    track: str = "test-v1",
    dtype: str = "bfloat16",
    batch_size: int = 32,
    measured_iterations: int = 100,
) -> WorkloadSpec:
    """A valid spec; the FLOPs default (2 x params x batch, x3 for training) is a test value, not a count."""
    if flops_per_iteration is None:
        flops_per_iteration = 2.0 * params * batch_size * (3 if task == "train" else 1)
    if domain == "vision":
        model = {"library": "torchvision", "architecture": "resnet50"}
        shape: dict[str, Any] = {"image_size": 224}
    else:
        model = {"library": "transformers", "architecture": "LlamaForCausalLM", "config": {"model_type": "llama"}}
        shape = {"seq_len": 512}
        if task == "generate":
            shape["new_tokens"] = 64
    return WorkloadSpec(
        id=workload_id,
        track=track,
        domain=domain,
        task=task,
        model=model,
        dtype=dtype,
        batch_size=batch_size,
        optimizer="adamw" if task == "train" else None,
        warmup_iterations=5,
        measured_iterations=measured_iterations,
        repeats=3,
        seed=0,
        params=params,
        flops_per_iteration=flops_per_iteration,
        **shape,
    )


def make_profile(
    profile_id: str = "test-gpu",
    *,
    kind: str = "gpu",
    accelerator_model: str = "Test GPU 80GB",
    accelerator_count: int = 1,
    accelerator_tdp_w: float = 700.0,
    peak_tflops: dict[str, float] | None = None,
    cpu_model: str = "Test CPU 32-core",
    sockets: int = 2,
    cores_per_socket: int = 32,
    cpu_tdp_w: float = 250.0,
    memory_gib: float = 512.0,
) -> HardwareProfile:
    data: dict[str, Any] = {
        "id": profile_id,
        "name": f"test profile {profile_id}",
        "kind": kind,
        "cpu": {
            "model": cpu_model,
            "match": [cpu_model],
            "sockets": sockets,
            "cores_per_socket": cores_per_socket,
            "threads_per_core": 2,
            "tdp_w": cpu_tdp_w,
        },
        "memory": {"total_gib": memory_gib},
        "sources": ["tests/doubles/records.py (test values)"],
    }
    if kind == "gpu":
        data["accelerator"] = {
            "vendor": "nvidia",
            "model": accelerator_model,
            "match": [accelerator_model],
            "count": accelerator_count,
            "memory_gib": 80.0,
            "tdp_w": accelerator_tdp_w,
            "peak_tflops": peak_tflops or {"float32": 60.0, "bfloat16": 900.0, "float16": 900.0},
        }
    return HardwareProfile.model_validate(data)


def live_estimate(
    estimator_id: str, boundary: str, energy_j: float, *, version: str = "1.0", mode: str = "test double"
) -> LiveEstimate:
    return LiveEstimate(estimator_id=estimator_id, estimator_version=version, boundary=boundary, energy_j=energy_j, mode=mode)


def make_record(
    workload_id: str = "resnet50-train",
    *,
    domain: str = "vision",
    task: str = "train",
    params: int = 25_557_032,
    truth: dict[str, float] | None = None,
    live: list[LiveEstimate | dict] | None = None,
    site: str = "test-site",
    profile_id: str = "test-gpu",
    profile_kind: str = "gpu",
    profile: HardwareProfile | None = None,
    workload: WorkloadSpec | None = None,
    duration_s: float = 10.0,
    iterations: int | None = None,
    device_count: int | None = None,
    repeat: int = 1,
    gpu_util_pct: float | None = None,
    cpu_util_pct: float | None = None,
    run_id: str | None = None,
    flops_per_iteration: float | None = None,
    track: str = "test-v1",
    provenance: Provenance | None = None,
    truth_bound_pct: float | None = 1.0,
) -> RunRecord:
    """A valid RunRecord; `truth` maps boundary -> joules for the primary meters of this test run.

    Its truth states a 1% uncertainty bound (inside the headline's) unless
    `truth_bound_pct` says otherwise (None: no bound stated).
    """
    spec = workload or make_workload(
        workload_id, domain=domain, task=task, params=params, flops_per_iteration=flops_per_iteration, track=track
    )
    hw = profile or make_profile(profile_id, kind=profile_kind)
    iterations = iterations if iterations is not None else spec.measured_iterations
    if device_count is None:
        device_count = hw.accelerator.count if hw.accelerator else 0
    energy = [
        BoundaryEnergy(
            boundary=boundary,
            meter_id=f"test-meter:{boundary}",
            method="counter",
            update_period_s=0.1,
            energy_j=joules,
            mean_power_w=joules / duration_s,
            uncertainty=None if truth_bound_pct is None else TruthUncertainty(
                bound_pct=truth_bound_pct, covers_meter_accuracy=True, basis="a test double's stated bound"),
        )
        for boundary, joules in (truth or {}).items()
    ]
    trace = None
    if gpu_util_pct is not None or cpu_util_pct is not None:
        trace = PowerTrace(
            period_s=0.1,
            t_s=[0.0, 0.1],
            gpu_util_pct=[gpu_util_pct, gpu_util_pct] if gpu_util_pct is not None else [],
            cpu_util_pct=[cpu_util_pct, cpu_util_pct] if cpu_util_pct is not None else [],
        )
    tokens = spec.tokens_per_iteration
    return RunRecord(
        run_id=run_id or make_run_id(site, spec, repeat),
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=hw,
        profile_hash=hw.profile_hash,
        hardware=DetectedHardware(),
        hardware_check=HardwareCheck(profile_id=hw.id),
        environment=Environment(python="3.11.7", platform="test double", joulebench=__version__),
        started_at=START,
        ended_at=START + timedelta(seconds=duration_s),
        duration_s=duration_s,
        iterations=iterations,
        items=spec.items_per_iteration * iterations,
        tokens=tokens * iterations if tokens is not None else None,
        device_count=device_count,
        idle_window_s=0.0,
        energy=energy,
        trace=trace,
        live_estimates=[e if isinstance(e, LiveEstimate) else LiveEstimate.model_validate(e) for e in (live or [])],
        provenance=provenance,
    )


def write_records(folder: Path, records: list[RunRecord]) -> Path:
    """Lay records out as the runner does, folder/<site>/<run_id>.json; returns the folder."""
    folder = Path(folder)
    for record in records:
        path = folder / record.site / f"{record.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.model_dump_json(indent=1))
    return folder

"""CodeCarbon's OfflineEmissionsTracker around the measured window (live)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joulebench.estimators.base import (
    EstimatorFailedError,
    LiveEstimator,
    joules_from_kwh,
    pinned_package_status,
)
from joulebench.formats import LiveEstimate
from joulebench.measure.environment import installed_version

PACKAGE = "codecarbon"
PINNED_VERSION = "3.3.2"
INSTALL_HINT = "pip install 'joulebench[estimators]'"
ADAPTER_VERSION = "1"

# What each CPU mode of CodeCarbon means; the mode decides the CPU error.
CPU_MODES = {
    "intel_rapl": "intel_rapl: RAPL energy counters",
    "cpu_load": "cpu_load: TDP x CPU load model (no RAPL found)",
    "constant": "constant: TDP-based constant power (no RAPL found)",
    "intel_power_gadget": "intel_power_gadget: Intel Power Gadget",
    "windows_emi": "windows_emi: Windows Energy Meter Interface",
}
# EmissionsData field (kWh) -> joulebench boundary.
FIELDS = {"gpu": "gpu_energy", "cpu": "cpu_energy", "dram": "ram_energy", "node": "energy_consumed"}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


class CodeCarbonLive(LiveEstimator):
    """CodeCarbon (OfflineEmissionsTracker): GPU from NVML, CPU from RAPL or a TDP model, RAM from a model.

    Source: CodeCarbon, github.com/mlco2/codecarbon, methodology at
    docs.codecarbon.io (explanation/methodology); pinned to codecarbon==3.3.2
    by the `[estimators]` extra. Results are filed under the installed
    CodeCarbon version.

    Recorded as four boundaries from one tracker: gpu (gpu_energy), cpu
    (cpu_energy), dram (ram_energy) and node (energy_consumed, their sum),
    each converted from kWh at exactly 3,600,000 J/kWh. Each entry's mode says
    how CodeCarbon got it (e.g. cpu_load when it found no RAPL and fell back to
    TDP x load); the node entry keeps CodeCarbon's full output in `raw`.

    Settings (everything else is CodeCarbon's own default, including any
    .codecarbon.config it finds):
    - offline: OfflineEmissionsTracker, country_iso_code "USA" (affects only
      CO2, which joulebench does not score), no output files, no API;
    - measure_power_secs 15 (CodeCarbon's default), tracking_mode "machine"
      (its default), pue 1.0 (its default), log_level "error".
    A tracker is set up (hardware detection, about 1-2 s the first time in a
    process) when the estimator is opened and again, outside the window, in
    `start()` after each `stop()`.
    """

    id = "codecarbon"
    version = PINNED_VERSION
    boundaries = ("gpu", "cpu", "dram", "node")

    COUNTRY_ISO_CODE = "USA"
    MEASURE_POWER_SECS = 15.0
    TRACKING_MODE = "machine"
    PUE = 1.0

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return pinned_package_status(PACKAGE, installed_version(PACKAGE), PINNED_VERSION, INSTALL_HINT)

    @classmethod
    def current_version(cls) -> str:
        return installed_version(PACKAGE) or PINNED_VERSION

    def __init__(self, workdir: Path, tracker_factory: Callable[[], Any] | None = None):
        super().__init__(workdir)
        self._factory = tracker_factory or self._offline_tracker
        self._tracker: Any = None
        self._running = False
        self._prepare()

    def settings(self) -> dict[str, Any]:
        return {
            "tracker": "OfflineEmissionsTracker",
            "country_iso_code": self.COUNTRY_ISO_CODE,
            "measure_power_secs": self.MEASURE_POWER_SECS,
            "tracking_mode": self.TRACKING_MODE,
            "pue": self.PUE,
            "output_methods": [],
        }

    def _offline_tracker(self) -> Any:
        import logging

        from codecarbon import OfflineEmissionsTracker

        # CodeCarbon sets its logger to INFO when imported; beside a run only its errors matter.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)

        self.workdir.mkdir(parents=True, exist_ok=True)
        return OfflineEmissionsTracker(
            project_name="joulebench",
            country_iso_code=self.COUNTRY_ISO_CODE,
            measure_power_secs=self.MEASURE_POWER_SECS,
            tracking_mode=self.TRACKING_MODE,
            pue=self.PUE,
            output_dir=str(self.workdir),
            output_methods=[],
            log_level="error",
            allow_multiple_runs=True,
        )

    def _prepare(self) -> None:
        # CodeCarbon logs and swallows its own exceptions, so a broken tracker
        # shows up as a missing attribute here, not as an error it raised.
        try:
            tracker = self._factory()
            tracker.get_detected_hardware()
        except Exception as exc:
            raise EstimatorFailedError(f"codecarbon could not set up its tracker: {exc!r}") from exc
        self._tracker = tracker

    def start(self) -> None:
        if self._running:
            raise EstimatorFailedError("codecarbon: start() called twice without stop()")
        if self._tracker is None:
            self._prepare()
        self._tracker.start()
        self._running = True

    def stop(self) -> list[LiveEstimate]:
        if not self._running:
            raise EstimatorFailedError("codecarbon: stop() called without start()")
        tracker, self._tracker, self._running = self._tracker, None, False
        tracker.stop()
        data = getattr(tracker, "final_emissions_data", None)
        if data is None:
            raise EstimatorFailedError(
                "codecarbon produced no result for this window (it logs and swallows its own errors; "
                "rerun with its log_level at 'debug' to see why)"
            )
        output = dataclasses.asdict(data) if dataclasses.is_dataclass(data) else dict(vars(data))
        return self._estimates(tracker, output)

    def close(self) -> None:
        if self._running and self._tracker is not None:
            try:
                self._tracker.stop()
            finally:
                self._tracker, self._running = None, False

    def _estimates(self, tracker: Any, output: dict[str, Any]) -> list[LiveEstimate]:
        modes = describe_modes(tracker)
        version = self.current_version()
        estimates = []
        for boundary, field in FIELDS.items():
            kwh = output.get(field)
            if not isinstance(kwh, (int, float)) or not math.isfinite(kwh) or kwh < 0:
                raise EstimatorFailedError(f"codecarbon reported {field} = {kwh!r}, expected kWh >= 0")
            if boundary == "node":
                raw = {
                    "adapter_version": ADAPTER_VERSION,
                    "settings": self.settings(),
                    "modes": modes,
                    "hardware": _jsonable(getattr(tracker, "_conf", {}).get("hardware")),
                    "emissions_data": _jsonable(output),
                }
            else:
                raw = {"field": field, "kwh": kwh}
            estimates.append(
                LiveEstimate(
                    estimator_id=self.id,
                    estimator_version=version,
                    boundary=boundary,
                    energy_j=joules_from_kwh(kwh),
                    mode=modes[boundary],
                    raw=raw,
                )
            )
        return estimates


def describe_modes(tracker: Any) -> dict[str, str]:
    """How CodeCarbon measured or modelled each boundary, read from the hardware it set up."""
    hardware = list(getattr(tracker, "_hardware", []) or [])
    by_kind: dict[str, Any] = {}
    for item in hardware:
        by_kind.setdefault(type(item).__name__, item)
    modes: dict[str, str] = {}
    modes["gpu"] = "nvml: NVML energy counter" if "GPU" in by_kind else "no GPU detected: reports 0"
    cpu = by_kind.get("CPU")
    if cpu is not None:
        mode = str(getattr(cpu, "_mode", "unknown"))
        text = CPU_MODES.get(mode, mode)
        tdp = getattr(cpu, "_tdp", None)
        modes["cpu"] = f"{text}, TDP {tdp} W" if mode in ("cpu_load", "constant") and tdp else text
    elif "AppleSiliconChip" in by_kind or "Raspberry" in by_kind:
        modes["cpu"] = "on-chip power sensor"
    else:
        modes["cpu"] = "no CPU tracker: reports 0"
    ram = by_kind.get("RAM")
    forced = getattr(ram, "_force_ram_power", None) if ram is not None else None
    if ram is None:
        modes["dram"] = "no RAM tracker: reports 0"
    elif forced is not None:
        modes["dram"] = f"forced constant {forced} W"
    else:
        modes["dram"] = "RAM power model (DIMM-count heuristic)"
    modes["node"] = "sum of gpu, cpu and dram; pue 1.0"
    return modes

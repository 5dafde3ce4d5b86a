"""Zeus's ZeusMonitor around joulebench's measured window: a live estimator (submissions/zeus/)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from joulebench.estimators import EstimatorFailedError, LiveEstimator, pinned_package_status
from joulebench.formats import LiveEstimate

PACKAGE = "zeus"
PINNED_VERSION = "0.16.0"
WINDOW = "joulebench-window"
ADAPTER_VERSION = "1"


def installed_version() -> str | None:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


class ZeusLive(LiveEstimator):
    """Zeus 0.16.0 (ml-energy/zeus): ZeusMonitor's energy window around the measured window; it measures, never models.

    Source: Zeus, github.com/ml-energy/zeus (Apache-2.0), `zeus.monitor.ZeusMonitor`
    begin_window / end_window; pinned to zeus==0.16.0. Zeus is the instrument
    of the ML.ENERGY Leaderboard and a PyTorch ecosystem project (NSDI'23, SOSP'24,
    NeurIPS'25 D&B); results are filed under the installed Zeus version.

    Recorded per window, each only where Zeus can read it:
    - gpu: the sum over GPUs of the NVML total-energy counter difference
      (AMD GPUs through amdsmi); per-GPU joules kept in `raw`;
    - cpu: the RAPL package counters, summed over packages;
    - dram: the RAPL DRAM counters, summed.
    It never estimates what it cannot measure: no node boundary, and on a
    machine with neither a supported GPU nor readable RAPL it records nothing
    (the window's outputs are then missing, never zero).

    Settings (everything else is Zeus's default):
    - ZeusMonitor(gpu_indices=None, cpu_indices=None): every GPU the process
      can see (CUDA_VISIBLE_DEVICES narrows it) and every RAPL package it can
      read (RAPL without permission is skipped, as Zeus does);
    - approx_instant_energy False (its default);
    - begin_window / end_window with sync_execution=False: joulebench's runner
      synchronises the device at the window's edges itself.
    The monitor is created (NVML and RAPL probed) when the estimator is opened,
    outside the window.
    """

    id = "zeus"
    version = PINNED_VERSION
    boundaries = ("gpu", "cpu", "dram")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return pinned_package_status(PACKAGE, installed_version(), PINNED_VERSION,
                                     f"pip install {PACKAGE}=={PINNED_VERSION}", pinned_by="this submission")

    @classmethod
    def current_version(cls) -> str:
        return installed_version() or PINNED_VERSION

    def __init__(self, workdir: Path, monitor_factory: Callable[[], Any] | None = None):
        super().__init__(workdir)
        try:
            self._monitor = (monitor_factory or self._zeus_monitor)()
        except Exception as exc:  # Zeus's own errors (NVML, RAPL permissions) become one of ours
            raise EstimatorFailedError(f"zeus could not set up its monitor: {type(exc).__name__}: {exc}") from exc
        self._running = False

    @staticmethod
    def _zeus_monitor() -> Any:
        from zeus.monitor import ZeusMonitor

        return ZeusMonitor(gpu_indices=None, cpu_indices=None, approx_instant_energy=False)

    def settings(self) -> dict[str, Any]:
        return {"gpu_indices": getattr(self._monitor, "gpu_indices", None),
                "cpu_indices": getattr(self._monitor, "cpu_indices", None),
                "approx_instant_energy": False, "sync_execution": False}

    def start(self) -> None:
        if self._running:
            raise EstimatorFailedError("zeus: start() called twice without stop()")
        self._monitor.begin_window(WINDOW, sync_execution=False)
        self._running = True

    def stop(self) -> list[LiveEstimate]:
        if not self._running:
            raise EstimatorFailedError("zeus: stop() called without start()")
        self._running = False
        measurement = self._monitor.end_window(WINDOW, sync_execution=False)
        version = self.current_version()
        out = []
        for boundary, per_device, mode in (
            ("gpu", measurement.gpu_energy, "NVML total-energy counter (amdsmi on AMD), summed over GPUs"),
            ("cpu", measurement.cpu_energy, "RAPL package counters, summed"),
            ("dram", measurement.dram_energy, "RAPL DRAM counters, summed"),
        ):
            if not per_device:
                continue
            joules = {str(k): float(v) for k, v in per_device.items()}
            if any(v < 0 or v != v for v in joules.values()):
                raise EstimatorFailedError(f"zeus reported {boundary} energy {joules}, expected joules >= 0")
            raw = {"adapter_version": ADAPTER_VERSION, "per_device_j": joules, "time_s": float(measurement.time)}
            if boundary == "gpu":
                raw["settings"] = self.settings()
            out.append(LiveEstimate(estimator_id=self.id, estimator_version=version, boundary=boundary,
                                    energy_j=sum(joules.values()), mode=mode, raw=raw))
        if not out:
            raise EstimatorFailedError(
                "zeus measured nothing on this machine: no supported GPU (NVML, amdsmi) and no readable RAPL; "
                "it never models what it cannot measure"
            )
        return out

    def close(self) -> None:
        if self._running:
            self._running = False
            self._monitor.end_window(WINDOW, sync_execution=False, cancel=True)

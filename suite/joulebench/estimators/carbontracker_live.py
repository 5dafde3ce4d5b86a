"""carbontracker around the measured window (live), as one "epoch"."""

from __future__ import annotations

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

PACKAGE = "carbontracker"
PINNED_VERSION = "2.4.7"
INSTALL_HINT = "pip install 'joulebench[carbontracker]'"
ADAPTER_VERSION = "1"


class CarbontrackerLive(LiveEstimator):
    """carbontracker: GPU power polled from NVML, CPU from RAPL or a TDP x utilisation model, integrated per epoch.

    Source: Anthony, Kanding, Selvan, "Carbontracker: Tracking and Predicting
    the Carbon Footprint of Training Deep Learning Models", ICML 2020 Workshop
    on Challenges in Deploying and Monitoring ML Systems (arXiv:2007.03051);
    github.com/lfwa/carbontracker, written against carbontracker==2.4.7.

    The window is one carbontracker epoch. Boundaries: gpu and cpu (one per
    component carbontracker found) and node (their sum). carbontracker
    multiplies its reported total by a PUE constant (1.58 in 2.4.7); joulebench
    meters sit inside the facility, so node is the component sum without it,
    and the PUE-scaled total stays in `raw`. carbontracker has no DRAM term.

    Settings: epochs 1, monitor_epochs 1, no prediction, update_interval 1 s
    (its default), components "all", devices_by_pid False (its default),
    ignore_errors True (otherwise it exits the process on an error), logs in
    the estimator's work folder. carbontracker's public API only prints its
    totals, so the adapter reads the per-component energy from its monitoring
    thread (`tracker.tracker.components[i].energy_usage`); a carbontracker
    whose internals differ fails with a clear error rather than a wrong number.
    Its carbon-intensity thread looks up the location by IP; offline that
    lookup fails in the background and energy is unaffected.
    """

    id = "carbontracker"
    version = PINNED_VERSION
    boundaries = ("gpu", "cpu", "node")

    UPDATE_INTERVAL_S = 1

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return pinned_package_status(PACKAGE, installed_version(PACKAGE), PINNED_VERSION, INSTALL_HINT)

    @classmethod
    def current_version(cls) -> str:
        return installed_version(PACKAGE) or PINNED_VERSION

    def __init__(self, workdir: Path, tracker_factory: Callable[[], Any] | None = None):
        super().__init__(workdir)
        self._factory = tracker_factory or self._carbontracker
        self._tracker: Any = None
        self._thread: Any = None

    def _carbontracker(self) -> Any:
        from carbontracker.tracker import CarbonTracker

        logs = self.workdir / "carbontracker"
        logs.mkdir(parents=True, exist_ok=True)
        return CarbonTracker(
            epochs=1,
            epochs_before_pred=0,
            monitor_epochs=1,
            update_interval=self.UPDATE_INTERVAL_S,
            interpretable=False,
            ignore_errors=True,
            components="all",
            log_dir=str(logs),
            verbose=0,
        )

    def start(self) -> None:
        if self._tracker is not None:
            raise EstimatorFailedError("carbontracker: start() called twice without stop()")
        tracker = self._factory()
        thread = getattr(tracker, "tracker", None)
        if thread is None or getattr(tracker, "deleted", False):
            raise EstimatorFailedError(f"carbontracker could not start; see its log in {self.workdir / 'carbontracker'}")
        self._tracker, self._thread = tracker, thread
        tracker.epoch_start()

    def stop(self) -> list[LiveEstimate]:
        if self._tracker is None:
            raise EstimatorFailedError("carbontracker: stop() called without start()")
        tracker, thread = self._tracker, self._thread
        self._tracker = self._thread = None
        if getattr(tracker, "deleted", False):
            raise EstimatorFailedError(
                f"carbontracker stopped itself during the window; see its log in {self.workdir / 'carbontracker'}"
            )
        try:
            # The thread's epoch_end only closes the epoch; the tracker's would
            # also print a report and look up carbon intensity online.
            thread.epoch_end()
            epoch_times = list(thread.epoch_times)
            components = {}
            for component in thread.components:
                kwh = float(component.energy_usage(epoch_times)[0])
                components[component.name] = {
                    "kwh": kwh,
                    "handler": type(getattr(component, "handler", None)).__name__,
                    "devices": [str(d) for d in component.devices()],
                }
        except (AttributeError, IndexError, TypeError) as exc:
            raise EstimatorFailedError(
                f"carbontracker {self.current_version()} does not look like {PINNED_VERSION} inside: {exc!r}"
            ) from exc
        finally:
            _shut_down(tracker, thread)
        return self._estimates(components, epoch_times)

    def close(self) -> None:
        if self._tracker is not None:
            _shut_down(self._tracker, self._thread)
            self._tracker = self._thread = None

    def _estimates(self, components: dict[str, dict], epoch_times: list[float]) -> list[LiveEstimate]:
        version = self.current_version()
        pue = _carbontracker_pue()
        out = []
        total_kwh = 0.0
        for name in ("gpu", "cpu"):
            if name not in components:
                continue
            entry = components[name]
            kwh = entry["kwh"]
            if not math.isfinite(kwh) or kwh < 0:
                raise EstimatorFailedError(f"carbontracker reported {kwh!r} kWh for {name}")
            total_kwh += kwh
            out.append(
                LiveEstimate(
                    estimator_id=self.id,
                    estimator_version=version,
                    boundary=name,
                    energy_j=joules_from_kwh(kwh),
                    mode=f"{entry['handler']}: {_handler_mode(entry['handler'])}",
                    raw={"kwh": kwh, "devices": entry["devices"]},
                )
            )
        if not out:
            raise EstimatorFailedError(f"carbontracker found no GPU or CPU component (found {sorted(components)})")
        out.append(
            LiveEstimate(
                estimator_id=self.id,
                estimator_version=version,
                boundary="node",
                energy_j=joules_from_kwh(total_kwh),
                mode=f"sum of {', '.join(e.boundary for e in out)}; carbontracker's PUE removed",
                raw={
                    "adapter_version": ADAPTER_VERSION,
                    "components": components,
                    "epoch_times_s": epoch_times,
                    "carbontracker_pue": pue,
                    "reported_total_kwh": total_kwh * pue if pue is not None else None,
                    "update_interval_s": self.UPDATE_INTERVAL_S,
                },
            )
        )
        return out


def _handler_mode(handler: str) -> str:
    return {
        "NvidiaGPU": "NVML power polled every update_interval",
        "IntelCPU": "RAPL energy counters",
        "GenericCPU": "TDP x CPU utilisation model (no RAPL)",
    }.get(handler, "carbontracker handler")


def _carbontracker_pue() -> float | None:
    try:
        from carbontracker import constants
    except ImportError:
        return None
    return getattr(constants, "PUE_2023", None)


def _shut_down(tracker: Any, thread: Any) -> None:
    """Stop carbontracker's threads without its report (which would look up carbon intensity)."""
    try:
        thread.stop()
    finally:
        stopper = getattr(tracker, "intensity_stopper", None)
        if stopper is not None:
            stopper.set()
        tracker.deleted = True

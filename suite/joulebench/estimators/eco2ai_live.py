"""eco2AI's Tracker around the measured window (live)."""

from __future__ import annotations

import csv
import math
import uuid
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

PACKAGE = "eco2ai"
PINNED_VERSION = "0.3.12"
INSTALL_HINT = "pip install 'joulebench[eco2ai]'"
ADAPTER_VERSION = "1"
ENERGY_COLUMN = "power_consumption(kWh)"


class Eco2aiLive(LiveEstimator):
    """eco2AI: CPU from TDP x process utilisation, GPU from NVML power, RAM from a memory model; total only.

    Source: Budennyy et al., "eco2AI: carbon emissions tracking of machine
    learning models as the first step towards sustainable AI", Doklady
    Mathematics 106 (2022), arXiv:2208.00406; github.com/sb-ai-lab/Eco2AI,
    written against eco2ai==0.3.12.

    eco2AI reports one number, power_consumption(kWh) = (CPU + GPU + RAM) x
    PUE, so it is scored on the node boundary only. Settings: measure_period
    10 s (its default), pue 1 (its default), cpu_processes "current" (its
    default: the CPU term counts this process only), alpha_2_code "US" (so it
    does not look the country up by IP; affects only CO2), ignore_warnings True,
    its CSV written in the estimator's work folder and read back as raw output.
    """

    id = "eco2ai"
    version = PINNED_VERSION
    boundaries = ("node",)

    MEASURE_PERIOD_S = 10
    ALPHA_2_CODE = "US"

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return pinned_package_status(PACKAGE, installed_version(PACKAGE), PINNED_VERSION, INSTALL_HINT)

    @classmethod
    def current_version(cls) -> str:
        return installed_version(PACKAGE) or PINNED_VERSION

    def __init__(self, workdir: Path, tracker_factory: Callable[[str], Any] | None = None):
        super().__init__(workdir)
        self._factory = tracker_factory or self._eco2ai
        self._tracker: Any = None
        self._csv: Path | None = None

    def _eco2ai(self, file_name: str) -> Any:
        from eco2ai import Tracker

        return Tracker(
            project_name="joulebench",
            experiment_description="joulebench measured window",
            file_name=file_name,
            measure_period=self.MEASURE_PERIOD_S,
            alpha_2_code=self.ALPHA_2_CODE,
            pue=1,
            ignore_warnings=True,
        )

    def start(self) -> None:
        if self._tracker is not None:
            raise EstimatorFailedError("eco2ai: start() called twice without stop()")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._csv = self.workdir / f"eco2ai-{uuid.uuid4().hex}.csv"
        try:
            tracker = self._factory(str(self._csv))
        except Exception as exc:
            raise EstimatorFailedError(f"eco2ai could not set up its tracker: {exc!r}") from exc
        tracker.start()
        self._tracker = tracker

    def stop(self) -> list[LiveEstimate]:
        if self._tracker is None or self._csv is None:
            raise EstimatorFailedError("eco2ai: stop() called without start()")
        tracker, path = self._tracker, self._csv
        self._tracker = self._csv = None
        run_id = str(tracker.id)
        tracker.stop()
        row = _row(path, run_id)
        try:
            kwh = float(row[ENERGY_COLUMN])
        except (KeyError, ValueError) as exc:
            raise EstimatorFailedError(f"{path}: column {ENERGY_COLUMN!r} missing or not a number: {exc!r}") from exc
        if not math.isfinite(kwh) or kwh < 0:
            raise EstimatorFailedError(f"{path}: eco2ai reported {kwh!r} kWh")
        return [
            LiveEstimate(
                estimator_id=self.id,
                estimator_version=self.current_version(),
                boundary="node",
                energy_j=joules_from_kwh(kwh),
                mode="cpu (tdp x process utilisation) + gpu (nvml power) + ram (memory model); pue 1",
                raw={"adapter_version": ADAPTER_VERSION, "csv_row": dict(row), "measure_period_s": self.MEASURE_PERIOD_S},
            )
        ]

    def close(self) -> None:
        if self._tracker is not None:
            try:
                self._tracker.stop()
            finally:
                self._tracker = self._csv = None


def _row(path: Path, run_id: str) -> dict[str, str]:
    """The row eco2AI wrote for this tracker (it appends to the file)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("id") == run_id]
    except FileNotFoundError:
        raise EstimatorFailedError(f"eco2ai wrote no output file at {path}") from None
    if not rows:
        raise EstimatorFailedError(f"{path}: no row for eco2ai tracker id {run_id}")
    return rows[-1]

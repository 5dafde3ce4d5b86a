"""The two kinds of estimator joulebench scores, and the one unit conversion they share.

A *static* estimator sees a `RunFacts` (the spec, the declared hardware and
what any user observes: duration, iterations, device count, mean utilisation)
and returns joules for each boundary it claims. It runs at scoring time, on any
machine, from the run records.

A *live* estimator runs on the hardware around the measured window: the runner
calls `start()` right before the window's first meter read and `stop()` right
after its last, and stores what `stop()` returns in the run record. It keeps
the tool's raw output and the mode the tool worked in (e.g. RAPL found, or a
TDP fallback), because the same tool in two modes is two different estimators.

Both declare `id`, `version`, `kind` and `boundaries`; `availability()` says
whether the estimator can run here and, when not, why.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from joulebench.errors import JoulebenchError
from joulebench.formats import Boundary, LiveEstimate, RunFacts

# Exact by definition (1 kWh = 1000 W x 3600 s); estimators that speak kWh
# are converted with this and nothing rounder.
J_PER_KWH = 3_600_000


def joules_from_kwh(kwh: float) -> float:
    return float(kwh) * J_PER_KWH


class EstimatorUnavailableError(JoulebenchError):
    """The estimator cannot run on this machine (a package is missing, a plugin fails to import)."""


class EstimatorFailedError(JoulebenchError):
    """The estimator ran but produced no usable answer."""


class Estimator(ABC):
    id: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[str]
    boundaries: ClassVar[tuple[Boundary, ...]]

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """(True, "") when it can run here; otherwise (False, what is missing and how to fix it)."""
        return True, ""

    @classmethod
    def current_version(cls) -> str:
        """The version results are filed under (a live adapter reports the wrapped tool's)."""
        return cls.version

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


class StaticEstimator(Estimator):
    kind: ClassVar[str] = "static"

    @abstractmethod
    def estimate(self, facts: RunFacts) -> dict[str, float]:
        """Joules per boundary, for the boundaries (among those claimed) it can estimate for this run.

        A boundary left out means "no estimate for this run" and lowers the
        estimator's coverage; it is never filled in by the scorer.
        """


class LiveEstimator(Estimator):
    kind: ClassVar[str] = "live"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)

    @abstractmethod
    def start(self) -> None:
        """Begin tracking; called right before the window's first meter read."""

    @abstractmethod
    def stop(self) -> list[LiveEstimate]:
        """Stop tracking and return one LiveEstimate per boundary; called right after the last read."""

    def close(self) -> None:
        """Stop anything still running without recording it (a window that failed midway)."""


def pinned_package_status(package: str, found: str | None, pinned: str, install_hint: str,
                          pinned_by: str = "joulebench") -> tuple[bool, str]:
    """`availability()` of an adapter around a pinned third-party package (a submission's adapter too)."""
    if found is None:
        return False, f"{package} is not installed: {install_hint}"
    if found != pinned:
        return True, f"{package} {found} installed; {pinned_by} pins {pinned} (results are filed under {found})"
    return True, ""


def check_estimates(estimator_id: str, claimed: tuple[str, ...], values: dict) -> dict[str, float]:
    """Validate what a static estimator returned; raise ValueError saying what is wrong."""
    if not isinstance(values, dict):
        raise ValueError(f"{estimator_id} returned {type(values).__name__}, expected a dict of boundary -> joules")
    checked: dict[str, float] = {}
    for boundary, value in values.items():
        if boundary not in claimed:
            raise ValueError(f"{estimator_id} returned boundary {boundary!r}, which it does not claim {list(claimed)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{estimator_id} returned {value!r} for {boundary}, expected a number of joules")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{estimator_id} returned {value!r} J for {boundary}, expected a finite value >= 0")
        checked[boundary] = float(value)
    return checked

"""The one interface every energy meter implements.

A meter covers exactly one boundary and reads cumulative energy in joules from
an arbitrary origin; a window's energy is the difference of two reads. Raw
counters stay in their native unit inside the meter and become joules once,
in `read_energy_j`. Meters that integrate power poll it on a thread of their
own between `start()` and `stop()`.

Optional abilities are declared here with a neutral default, so callers never
probe with hasattr: a meter that keeps samples judges a window
(`window_quality`), a meter read over a network says how often it may be read
(`min_read_interval_s`) and what its own clock says (`read_device_clock`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from joulebench.errors import JoulebenchError
from joulebench.formats import Boundary, MeterMethod


class MeterError(JoulebenchError):
    """A meter failed to read; the vendor's error is chained as the cause."""


@dataclass(frozen=True)
class WindowQuality:
    """Whether a window [start_s, end_s] (host monotonic time) was sampled densely enough."""

    meter_id: str
    start_s: float
    end_s: float
    samples: int
    missed: int
    late: int
    max_gap_s: float
    max_gap_allowed_s: float
    valid: bool
    reason: str

    def as_warning(self) -> str:
        return (
            f"{self.meter_id}: window invalid: {self.reason} "
            f"({self.samples} samples, {self.missed} missed, {self.late} late)"
        )


@dataclass(frozen=True)
class DeviceClock:
    """The device's clock read once against the host's."""

    device_unix_s: float
    host_unix_s: float
    #: the device's time resolution plus half the round trip
    uncertainty_s: float

    @property
    def offset_s(self) -> float:
        return self.device_unix_s - self.host_unix_s


class Meter(ABC):
    #: unique on a machine, e.g. "nvml-energy:gpu" or "rapl:package-0"
    id: str
    boundary: Boundary
    method: MeterMethod
    #: how often the underlying value changes, in seconds
    update_period_s: float
    #: reads closer together than this cost the source more than they tell (0: no limit)
    min_read_interval_s: float = 0.0
    #: a clock of its own (a device on the network); host meters share the host's
    has_device_clock: ClassVar[bool] = False
    #: the meter's own accuracy in % of a reading, where a published figure exists (None: not stated)
    accuracy_pct: ClassVar[float | None] = None
    #: where that figure comes from
    accuracy_source: ClassVar[str] = ""

    def window_quality(self, start_s: float, end_s: float) -> WindowQuality | None:
        """Whether [start_s, end_s] (host monotonic time) was sampled densely enough; None: nothing to judge."""
        return None

    def read_device_clock(self) -> DeviceClock | None:
        """The meter's own clock against the host's, where the source reports one."""
        return None

    def start(self) -> None:
        """Begin sampling (integrated meters); counters need nothing."""

    def stop(self) -> None:
        """Stop sampling and release what `start` took."""

    @abstractmethod
    def read_energy_j(self) -> float:
        """Cumulative energy in joules since an arbitrary origin; never decreases."""

    def read_power_w(self) -> float | None:
        """Instantaneous power for the trace, where the source has it."""
        return None

    def per_device_energy_j(self) -> dict[str, float]:
        """Cumulative energy per device (e.g. per GPU), where the meter sums several."""
        return {}

    def close(self) -> None:
        self.stop()

    def describe(self) -> dict:
        return {
            "id": self.id,
            "boundary": self.boundary,
            "method": self.method,
            "update_period_s": self.update_period_s,
        }


class PowerIntegrator:
    """Trapezoidal integration of a power reading polled on a daemon thread.

    Used by meters whose source reports power but no energy counter. The poll
    period should match the source's update period: polling faster only reads
    the same value again.
    """

    def __init__(self, read_power_w: Callable[[], float], period_s: float, clock: Callable[[], float] = time.monotonic):
        self._read = read_power_w
        self._period = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._energy_j = 0.0
        self._last: tuple[float, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        now, power = self._clock(), self._read()
        with self._lock:
            if self._last is not None:
                t0, p0 = self._last
                self._energy_j += 0.5 * (p0 + power) * (now - t0)
            self._last = (now, power)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="power-integrator", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.sample()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None

    def energy_j(self) -> float:
        """Energy so far, including the stretch since the last poll."""
        self.sample()
        with self._lock:
            return self._energy_j

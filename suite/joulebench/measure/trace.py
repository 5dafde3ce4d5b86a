"""A background trace of power and utilisation during a measured window.

The trace is for looking at a window (and for static estimators that need the
mean utilisation), not for the window's energy: that comes from the meters'
cumulative reads at the window's edges. It polls at no more than 10 Hz because
one NVML call costs about 2 ms and the sources update every ~100 ms anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from joulebench.formats import PowerTrace
from joulebench.measure.meters.base import Meter

MIN_PERIOD_S = 0.1  # 10 Hz
MAX_POINTS = 600  # a downsampled trace stays small in the record


class CpuUtilization:
    """Whole-machine CPU busy share from /proc/stat deltas."""

    def __init__(self, proc_stat: Path = Path("/proc/stat")):
        self._path = proc_stat
        self._last = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            fields = self._path.read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return None
        values = [int(v) for v in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle

    def __call__(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] == last[0]:
            return None
        total, idle = now[0] - last[0], now[1] - last[1]
        return 100.0 * (total - idle) / total


class Trace:
    def __init__(
        self,
        meters: Sequence[Meter],
        period_s: float = MIN_PERIOD_S,
        gpu_utilization: Callable[[], float | None] | None = None,
        cpu_utilization: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if period_s < MIN_PERIOD_S:
            raise ValueError(f"trace period {period_s} s is faster than 10 Hz")
        self._meters = list(meters)
        self._period = period_s
        self._gpu_util = gpu_utilization
        self._cpu_util = cpu_utilization
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._last_energy: dict[str, tuple[float, float]] = {}
        self.t_s: list[float] = []
        self.power_w: dict[str, list[float | None]] = {m.boundary: [] for m in self._meters}
        self.gpu_util_pct: list[float | None] = []
        self.cpu_util_pct: list[float | None] = []

    def _power(self, meter: Meter, now: float) -> float | None:
        power = meter.read_power_w()
        # Sources without a power reading (RAPL): the slope of the energy counter.
        energy = meter.read_energy_j()
        last = self._last_energy.get(meter.id)
        self._last_energy[meter.id] = (now, energy)
        if power is None and last is not None and now > last[0]:
            power = (energy - last[1]) / (now - last[0])
        return power

    def sample(self) -> None:
        now = self._clock()
        self.t_s.append(round(now - self._t0, 4))
        for meter in self._meters:
            self.power_w[meter.boundary].append(self._power(meter, now))
        self.gpu_util_pct.append(self._gpu_util() if self._gpu_util else None)
        self.cpu_util_pct.append(self._cpu_util() if self._cpu_util else None)

    def start(self) -> None:
        self._t0 = self._clock()
        self._stop.clear()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="power-trace", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.sample()

    def stop(self) -> PowerTrace:
        """End sampling with one last sample; calling it again changes nothing."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.sample()
        return self.result()

    def result(self) -> PowerTrace:
        stride = max(1, -(-len(self.t_s) // MAX_POINTS))
        return PowerTrace(
            period_s=self._period * stride,
            t_s=self.t_s[::stride],
            power_w={b: _mean_blocks(v, stride) for b, v in self.power_w.items()},
            gpu_util_pct=_mean_blocks(self.gpu_util_pct, stride),
            cpu_util_pct=_mean_blocks(self.cpu_util_pct, stride),
        )


def _mean_blocks(values: list[float | None], stride: int) -> list[float | None]:
    """Average consecutive blocks of `stride` samples, ignoring missing ones."""
    out: list[float | None] = []
    for i in range(0, len(values), stride):
        block = [v for v in values[i : i + stride] if v is not None]
        out.append(round(sum(block) / len(block), 3) if block else None)
    return out

"""ScriptedMeter: a test double whose power follows a script, not hardware.

Energy is the exact integral of the scripted power over the (real or fake)
clock, so tests know the true answer a window must report.

Options for certification tests (all off by default, keyword-only):
- `ticks=True`: the counter changes only every `update_period_s`, like NVML's
  100 ms counter: energy and power hold between ticks.
- `resolution_j`: energy reads are floored to this step (a Wh display, a kWh counter).
- `read_cost_s`: each read advances the fake clock by this much (it must have `advance`).
- `readings`: a fixed sequence of energy reads (the last repeats), e.g. a falling counter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from joulebench.measure.meters.base import Meter


class ScriptedMeter(Meter):
    def __init__(
        self,
        boundary: str = "gpu",
        power_w: float | Callable[[float], float] = 100.0,
        method: str = "counter",
        update_period_s: float = 0.001,
        meter_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        integration_step_s: float = 0.001,
        *,
        ticks: bool = False,
        resolution_j: float | None = None,
        read_cost_s: float = 0.0,
        readings: Sequence[float] | None = None,
    ):
        self.id = meter_id or f"scripted:{boundary}"
        self.boundary = boundary
        self.method = method
        self.update_period_s = update_period_s
        self._constant = None if callable(power_w) else float(power_w)
        self._power = power_w if callable(power_w) else (lambda t: self._constant)
        self._clock = clock
        self._t0 = clock()
        self._step = integration_step_s
        self._ticks = ticks
        self._tick_count = 0
        self._tick_energy = 0.0
        self._resolution = resolution_j
        self._read_cost = read_cost_s
        self._readings = list(readings) if readings is not None else None
        self.reads = 0

    def _elapsed(self) -> float:
        return self._clock() - self._t0

    def _spend_read_cost(self) -> None:
        if self._read_cost:
            self._clock.advance(self._read_cost)

    def _ticked_energy(self, t: float) -> float:
        # Left-point sum per tick: the counter adds P(tick start) x period at each tick.
        due = int(math.floor(t / self.update_period_s + 1e-9))
        while self._tick_count < due:
            self._tick_energy += self._power(self._tick_count * self.update_period_s) * self.update_period_s
            self._tick_count += 1
        return self._tick_energy

    def read_energy_j(self) -> float:
        self.reads += 1
        self._spend_read_cost()
        if self._readings is not None:
            return self._readings[min(self.reads - 1, len(self._readings) - 1)]
        t = self._elapsed()
        if self._ticks:
            energy = self._ticked_energy(t)
        elif self._constant is not None:
            energy = self._constant * t
        else:
            # Midpoint rule on a fine grid; exact for constant and linear scripts.
            n = max(1, int(t / self._step))
            dt = t / n
            energy = sum(self._power((i + 0.5) * dt) for i in range(n)) * dt
        if self._resolution:
            energy = math.floor(energy / self._resolution + 1e-9) * self._resolution
        return energy

    def read_power_w(self) -> float | None:
        t = self._elapsed()
        if self._ticks:
            last_tick = max(0, int(math.floor(t / self.update_period_s + 1e-9)) - 1)
            return self._power(last_tick * self.update_period_s)
        return self._power(t)

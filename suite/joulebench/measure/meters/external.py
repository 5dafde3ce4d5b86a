"""What every meter outside the host (BMC, smart plug, lab analyzer) has in common.

Such a meter is read over a network, so each sample is stamped with *host*
time (the midpoint of the request, on `time.monotonic`), a request that fails
or times out is kept as a missed sample rather than dropped, and a sample that
arrives much later than the poll period is marked late. A window whose largest
gap between good samples exceeds `max_gap_s` is invalid for a meter that
integrates power; the runner asks `window_quality(start_s, end_s)` and marks
the record. Credentials never reach a sample, an error text or `describe()`.
"""

from __future__ import annotations

import re
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from joulebench.formats import Boundary, MeterMethod
from joulebench.measure.meters.base import DeviceClock, Meter, MeterError, WindowQuality

#: a sample later than this many poll periods after the previous good one is late
LATE_FACTOR = 1.5
#: default largest gap between good samples, in poll periods, before a window is invalid
DEFAULT_MAX_GAP_PERIODS = 3.0
#: samples kept per meter (a day at 1 Hz); older ones are only needed for no window
HISTORY_SAMPLES = 86_400


@dataclass(frozen=True)
class Reading:
    """One answer from the device, in joules and watts (converted once, here)."""

    power_w: float | None
    energy_j: float | None = None
    #: the device's own unix time, where the same answer carries it
    device_time_s: float | None = None


@dataclass(frozen=True)
class Sample:
    t_s: float  # host time.monotonic() at the request midpoint
    wall_s: float  # host time.time() at the request midpoint
    latency_s: float  # how long the request took: the read cost
    power_w: float | None = None
    energy_j: float | None = None
    error: str | None = None  # set on a missed sample, credentials scrubbed
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def scrub(message: str, secrets: tuple[str, ...] = ()) -> str:
    """An error text safe for records and logs: no user:pass@ in URLs, no secret values."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", message)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:300]


class ExternalMeter(Meter):
    """A meter read over the network and polled on a thread of its own.

    Subclasses implement `_fetch()` (one request, raising on failure) and,
    where the device reports its own time, `_fetch_device_clock()`.
    `method` is "counter" when the device keeps a cumulative energy counter
    that the meter reads at the window edges, "integrated" when the meter
    integrates polled power (trapezoids between good samples; a missed sample
    is bridged by the next good one, and the gap is reported).
    """

    has_device_clock = True

    kind: str = "external"

    def __init__(
        self,
        meter_id: str,
        boundary: Boundary,
        method: MeterMethod,
        poll_period_s: float = 1.0,
        max_gap_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        if poll_period_s <= 0:
            raise ValueError("poll_period_s must be positive")
        self.id = meter_id
        self.boundary = boundary
        self.method = method
        self.poll_period_s = poll_period_s
        self.update_period_s = poll_period_s
        self.max_gap_s = max_gap_s if max_gap_s is not None else DEFAULT_MAX_GAP_PERIODS * poll_period_s
        #: external meters must not be hammered by probes: at most this often
        self.min_read_interval_s = min(0.2, poll_period_s)
        self._clock = clock
        self._wall = wall_clock
        self._request_lock = threading.Lock()  # one request at a time per device
        self._state_lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=HISTORY_SAMPLES)
        self._last_ok: Sample | None = None
        self._integrated_j = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- device side

    @abstractmethod
    def _fetch(self) -> Reading:
        """One request to the device; raises on any failure."""

    def _fetch_device_clock(self) -> float | None:
        """The device's unix time, where it reports one; None otherwise."""
        return None

    def _secrets(self) -> tuple[str, ...]:
        """Values that must never appear in an error text."""
        return ()

    # ---------------------------------------------------------------- sampling

    def poll_once(self) -> Sample:
        """Take one sample now and record it (good, missed or late)."""
        with self._request_lock:
            t0, w0 = self._clock(), self._wall()
            try:
                reading: Reading | None = self._fetch()
                error = None
            except Exception as exc:  # any failure is a missed sample, kept with its reason
                reading, error = None, scrub(f"{type(exc).__name__}: {exc}", self._secrets())
            t1, w1 = self._clock(), self._wall()
        t_mid, wall_mid = 0.5 * (t0 + t1), 0.5 * (w0 + w1)
        with self._state_lock:
            previous = self._last_ok
            late = previous is not None and (t_mid - previous.t_s) > LATE_FACTOR * self.poll_period_s
            sample = Sample(
                t_s=t_mid,
                wall_s=wall_mid,
                latency_s=t1 - t0,
                power_w=reading.power_w if reading else None,
                energy_j=reading.energy_j if reading else None,
                error=error,
                late=late and error is None,
            )
            self._samples.append(sample)
            if sample.ok:
                if previous is not None and previous.power_w is not None and sample.power_w is not None:
                    self._integrated_j += 0.5 * (previous.power_w + sample.power_w) * (sample.t_s - previous.t_s)
                self._last_ok = sample
        return sample

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.poll_once()
        self._thread = threading.Thread(target=self._loop, name=f"poll-{self.id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # Polls on a fixed grid so that a slow request does not shift every later one.
        next_at = self._clock() + self.poll_period_s
        while not self._stop.wait(max(0.0, next_at - self._clock())):
            self.poll_once()
            next_at += self.poll_period_s
            now = self._clock()
            if next_at < now:  # overran: skip the slots already missed (the gap shows as late)
                next_at = now + self.poll_period_s

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None

    @property
    def polling(self) -> bool:
        return self._thread is not None

    def samples(self, start_s: float | None = None, end_s: float | None = None) -> list[Sample]:
        with self._state_lock:
            return [
                s
                for s in self._samples
                if (start_s is None or s.t_s >= start_s) and (end_s is None or s.t_s <= end_s)
            ]

    # ---------------------------------------------------------------- Meter interface

    def read_energy_j(self) -> float:
        sample = self.poll_once()  # a fresh sample at the window edge
        if self.method == "counter":
            if not sample.ok:
                raise MeterError(f"{self.id}: could not read the energy counter: {sample.error}")
            if sample.energy_j is None:
                raise MeterError(f"{self.id}: the device answered without an energy counter")
            return sample.energy_j
        with self._state_lock:
            return self._integrated_j

    def read_power_w(self) -> float | None:
        # While polling, the latest good sample (no extra request per trace point).
        if self.polling:
            with self._state_lock:
                last = self._last_ok
            if last is not None and self._clock() - last.t_s <= self.max_gap_s:
                return last.power_w
            return None
        sample = self.poll_once()
        return sample.power_w

    def window_quality(self, start_s: float, end_s: float) -> WindowQuality:
        """Gaps between good samples over [start_s, end_s] on the host's monotonic clock.

        For an integrating meter the window is invalid when a gap exceeds
        `max_gap_s`; for a counter only the two edge reads must have succeeded
        (the device keeps counting between them), gaps are reported.
        """
        margin = self.max_gap_s
        inside = self.samples(start_s - margin, end_s + margin)
        good = [s.t_s for s in inside if s.ok]
        missed = sum(1 for s in inside if start_s <= s.t_s <= end_s and not s.ok)
        late = sum(1 for s in inside if start_s <= s.t_s <= end_s and s.late)
        count = sum(1 for s in inside if start_s <= s.t_s <= end_s)
        if self.method == "counter":
            edges_ok = _has_good_near(good, start_s, margin) and _has_good_near(good, end_s, margin)
            gap = _max_gap(good, start_s, end_s)
            reason = "" if edges_ok else "a window edge has no good counter read"
            valid = edges_ok
        else:
            gap = _max_gap(good, start_s, end_s)
            valid = gap <= self.max_gap_s
            reason = "" if valid else f"largest gap between good samples {gap:.2f} s > {self.max_gap_s:.2f} s"
        return WindowQuality(
            meter_id=self.id,
            start_s=start_s,
            end_s=end_s,
            samples=count,
            missed=missed,
            late=late,
            max_gap_s=gap,
            max_gap_allowed_s=self.max_gap_s,
            valid=valid,
            reason=reason,
        )

    def read_device_clock(self) -> DeviceClock | None:
        """The device's clock against the host's, where the device reports its time."""
        with self._request_lock:
            w0 = self._wall()
            device = self._fetch_device_clock()
            w1 = self._wall()
        if device is None:
            return None
        return DeviceClock(device_unix_s=device, host_unix_s=0.5 * (w0 + w1), uncertainty_s=1.0 + 0.5 * (w1 - w0))

    def describe(self) -> dict:
        info = super().describe()
        info.update(kind=self.kind, poll_period_s=self.poll_period_s, max_gap_s=self.max_gap_s)
        return info

    def __repr__(self) -> str:  # never shows a URL or a credential
        return f"{type(self).__name__}(id={self.id!r}, boundary={self.boundary!r}, method={self.method!r})"


def _max_gap(good_times: list[float], start_s: float, end_s: float) -> float:
    """Largest stretch of [start_s, end_s] not bracketed by two consecutive good samples.

    The sample just before the window and the one just after it count, so a
    gap that straddles an edge is measured whole; a window edge with no good
    sample beyond it counts from the edge itself.
    """
    before = [t for t in good_times if t <= start_s]
    inner = [t for t in good_times if start_s < t < end_s]
    after = [t for t in good_times if t >= end_s]
    points = ([before[-1]] if before else [start_s]) + inner + ([after[0]] if after else [end_s])
    return max(b - a for a, b in zip(points, points[1:]))


def _has_good_near(good_times: list[float], t: float, margin: float) -> bool:
    return any(abs(g - t) <= margin for g in good_times)

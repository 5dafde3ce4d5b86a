"""A Shelly Gen2+ smart plug or relay as a wall meter (RPC over HTTP).

`GET /rpc/Switch.GetStatus?id=N` answers `apower` (W, instantaneous) and
`aenergy.total` (Wh, cumulative since the device booted); `PM1.GetStatus`
has the same fields on the metering-only devices. The Wh counter is the
primary reading (`method: auto` -> counter); `apower` feeds the trace and the
`integrated` method. With a password set, requests use HTTP digest auth with
SHA-256 (RFC 7616) as user `admin`, as the devices require.
`GET /rpc/Sys.GetStatus` gives the device's `unixtime` for the clock check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from joulebench.formats import Boundary
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.credentials import Credentials
from joulebench.measure.meters.external import ExternalMeter, Reading

J_PER_WH = 3600.0
SHELLY_USER = "admin"  # Gen2 devices have exactly one user


class ShellyMeter(ExternalMeter):
    kind = "shelly"

    def __init__(
        self,
        meter_id: str,
        base_url: str,
        boundary: Boundary = "node",
        component: Literal["switch", "pm1"] = "switch",
        channel: int = 0,
        method: Literal["auto", "counter", "integrated"] = "auto",
        credentials: Credentials | None = None,
        timeout_s: float = 2.0,
        poll_period_s: float = 1.0,
        max_gap_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        import requests
        from requests.auth import HTTPDigestAuth

        self._base = base_url.rstrip("/")
        self._credentials = credentials or Credentials(None, None)
        self._method_name = {"switch": "Switch.GetStatus", "pm1": "PM1.GetStatus"}[component]
        self._channel = channel
        self._timeout_s = timeout_s
        self._session = requests.Session()
        if self._credentials.password:
            self._session.auth = HTTPDigestAuth(SHELLY_USER, self._credentials.password.reveal())
        first = self._status()  # fails early on a wrong address, password or channel
        has_counter = isinstance(first.get("aenergy"), dict) and "total" in first["aenergy"]
        if "apower" not in first and not has_counter:
            raise MeterError(f"{meter_id}: {self._method_name} id={channel} reports no power metering")
        resolved = {"auto": "counter" if has_counter else "integrated"}.get(method, method)
        if resolved == "counter" and not has_counter:
            raise MeterError(f"{meter_id}: the device has no aenergy counter; use method integrated")
        super().__init__(meter_id, boundary, resolved, poll_period_s, max_gap_s, clock, wall_clock)

    def _rpc(self, method: str, **params) -> dict:
        import requests

        try:
            resp = self._session.get(f"{self._base}/rpc/{method}", params=params, timeout=self._timeout_s)
        except requests.RequestException as e:
            raise MeterError(f"{method}: {type(e).__name__}") from None
        if resp.status_code == 401:
            raise MeterError(f"{method}: HTTP 401 (password missing or wrong)")
        if resp.status_code != 200:
            raise MeterError(f"{method}: HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError:
            raise MeterError(f"{method}: answer is not JSON") from None
        if not isinstance(data, dict):
            raise MeterError(f"{method}: answer is not a JSON object")
        return data

    def _status(self) -> dict:
        return self._rpc(self._method_name, id=self._channel)

    def _fetch(self) -> Reading:
        status = self._status()
        power = status.get("apower")
        aenergy = status.get("aenergy")
        total_wh = aenergy.get("total") if isinstance(aenergy, dict) else None
        return Reading(
            power_w=float(power) if isinstance(power, (int, float)) else None,
            energy_j=float(total_wh) * J_PER_WH if isinstance(total_wh, (int, float)) else None,
        )

    def _fetch_device_clock(self) -> float | None:
        unixtime = self._rpc("Sys.GetStatus").get("unixtime")  # null until the device has synced its time
        return float(unixtime) if isinstance(unixtime, (int, float)) else None

    def _secrets(self) -> tuple[str, ...]:
        return self._credentials.secret_values()

    def close(self) -> None:
        super().close()
        self._session.close()

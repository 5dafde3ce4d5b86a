"""Whole-chassis power from a BMC over Redfish (the DMTF `redfish` client).

Two resource shapes exist in the field:
- `Chassis/{id}/EnvironmentMetrics` (Redfish 2020.4 on): `PowerWatts.Reading`
  in W, and where the BMC keeps one, a cumulative `EnergyJoules.Reading` (J)
  or `EnergykWh.Reading` (kWh);
- the older `Chassis/{id}/Power`: `PowerControl[n].PowerConsumedWatts` in W.

`method="auto"` uses a joule counter where the BMC has one and otherwise
integrates PowerWatts polled at `poll_period_s`. A kWh counter is used only
when asked for (`method: counter`): BMCs publish it to a thousandth of a kWh
(3,600 J) or coarser, which is most of a 10 s window's energy.
The BMC's own clock (`Managers/{id}.DateTime`) is read for the clock check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from joulebench.formats import Boundary
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.credentials import Credentials
from joulebench.measure.meters.external import ExternalMeter, Reading

J_PER_KWH = 3_600_000.0

Source = Literal["auto", "environment-metrics", "power"]


def _odata_id(value: Any) -> str | None:
    return value.get("@odata.id") if isinstance(value, dict) else None


def _reading(value: Any) -> float | None:
    """A sensor excerpt {"Reading": x} or a bare number; None where absent."""
    if isinstance(value, dict):
        value = value.get("Reading")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


class RedfishMeter(ExternalMeter):
    kind = "redfish"

    def __init__(
        self,
        meter_id: str,
        base_url: str,
        boundary: Boundary = "node",
        chassis: str | None = None,
        source: Source = "auto",
        method: Literal["auto", "counter", "integrated"] = "auto",
        power_control: int = 0,
        credentials: Credentials | None = None,
        auth: Literal["session", "basic"] = "session",
        ca_file: str | None = None,
        timeout_s: float = 2.0,
        poll_period_s: float = 1.0,
        max_gap_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._credentials = credentials or Credentials(None, None)
        self._timeout_s = timeout_s
        self._power_control = power_control
        self._client = self._connect(base_url, auth, ca_file)
        self._chassis_uri, chassis_doc = self._find_chassis(chassis)
        self._metrics_uri, self.source = self._find_source(chassis_doc, source)
        self._manager_uri = self._find_manager(chassis_doc)
        first = self._read_resource()
        self.counter_unit = "J" if first.get("EnergyJoules") is not None else ("kWh" if first.get("EnergykWh") is not None else None)
        resolved = self._resolve_method(method)
        super().__init__(meter_id, boundary, resolved, poll_period_s, max_gap_s, clock, wall_clock)

    # ---------------------------------------------------------------- setup

    def _connect(self, base_url: str, auth: str, ca_file: str | None):
        import redfish
        import redfish.rest.v1 as rest

        creds = self._credentials
        password = creds.password.reveal() if creds.password else None
        try:
            client = redfish.redfish_client(
                base_url=base_url,
                username=creds.username,
                password=password,
                cafile=ca_file,
                timeout=self._timeout_s,
                max_retry=0,  # a missed sample is recorded, not retried for seconds
            )
            if creds.username is not None:
                client.login(auth=auth)
        except (rest.InvalidCredentialsError, rest.SessionCreationError) as e:
            raise MeterError(f"Redfish login to {base_url} refused: {type(e).__name__}") from None
        except Exception as e:  # the client raises many types; say which, never the password
            raise MeterError(f"Redfish service at {base_url} unreachable: {type(e).__name__}") from e
        return client

    def _get(self, uri: str) -> dict:
        resp = self._client.get(uri, timeout=self._timeout_s, max_retry=0)
        if resp.status != 200:
            raise MeterError(f"GET {uri}: HTTP {resp.status}")
        data = resp.dict
        if not isinstance(data, dict):
            raise MeterError(f"GET {uri}: not a JSON object")
        return data

    def _find_chassis(self, wanted: str | None) -> tuple[str, dict]:
        collection = self._get("/redfish/v1/Chassis")
        members = [_odata_id(m) for m in collection.get("Members", [])]
        members = [m for m in members if m]
        if not members:
            raise MeterError("the Redfish service lists no Chassis")
        if wanted is None:
            uri = members[0]
        else:
            matches = [m for m in members if m.rstrip("/").rsplit("/", 1)[-1] == wanted]
            if not matches:
                names = ", ".join(m.rstrip("/").rsplit("/", 1)[-1] for m in members)
                raise MeterError(f"no Chassis {wanted!r} on the Redfish service; it has: {names}")
            uri = matches[0]
        return uri, self._get(uri)

    def _find_source(self, chassis: dict, source: Source) -> tuple[str, str]:
        env_uri = _odata_id(chassis.get("EnvironmentMetrics"))
        power_uri = _odata_id(chassis.get("Power"))
        if source in ("auto", "environment-metrics") and env_uri:
            return env_uri, "environment-metrics"
        if source in ("auto", "power") and power_uri:
            return power_uri, "power"
        raise MeterError(
            f"Chassis {self._chassis_uri} has no {'EnvironmentMetrics or Power' if source == 'auto' else source} resource"
        )

    def _find_manager(self, chassis: dict) -> str | None:
        managers = chassis.get("Links", {}).get("ManagedBy", [])
        return _odata_id(managers[0]) if managers else None

    def _resolve_method(self, method: str) -> str:
        if method == "integrated":
            return "integrated"
        if method == "counter":
            if self.counter_unit is None:
                raise MeterError(f"{self._metrics_uri} has no energy counter (EnergyJoules or EnergykWh); use method integrated")
            return "counter"
        return "counter" if self.counter_unit == "J" else "integrated"

    # ---------------------------------------------------------------- reading

    def _read_resource(self) -> dict:
        return self._get(self._metrics_uri)

    def _parse(self, doc: dict) -> Reading:
        if self.source == "environment-metrics":
            power = _reading(doc.get("PowerWatts"))
            joules = _reading(doc.get("EnergyJoules"))
            kwh = _reading(doc.get("EnergykWh"))
            energy = joules if joules is not None else (kwh * J_PER_KWH if kwh is not None else None)
        else:
            controls = doc.get("PowerControl") or []
            if len(controls) <= self._power_control:
                raise MeterError(f"{self._metrics_uri}: no PowerControl[{self._power_control}]")
            power = _reading(controls[self._power_control].get("PowerConsumedWatts"))
            energy = None
        if power is None and energy is None:
            raise MeterError(f"{self._metrics_uri}: no power reading in the answer")
        return Reading(power_w=power, energy_j=energy)

    def _fetch(self) -> Reading:
        return self._parse(self._read_resource())

    def _fetch_device_clock(self) -> float | None:
        if self._manager_uri is None:
            return None
        stamp = self._get(self._manager_uri).get("DateTime")
        if not isinstance(stamp, str):
            return None
        try:
            parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:  # Redfish requires an offset; without one the time is ambiguous
            return None
        return parsed.timestamp()

    def _secrets(self) -> tuple[str, ...]:
        return self._credentials.secret_values()

    def close(self) -> None:
        super().close()
        try:
            self._client.logout()
        except Exception:  # a BMC that forgot the session is no reason to fail a run
            pass

    def describe(self) -> dict:
        info = super().describe()
        info.update(source=self.source, counter_unit=self.counter_unit)
        return info

"""The site's external meters, declared in a YAML file (`--meters CONFIG`).

Example (a BMC as the node meter, a smart plug as its cross-check):

    meters:
      - id: bmc
        kind: redfish
        url: https://bmc.example.internal
        chassis: "1"                      # default: the first Chassis
        credentials:
          username: monitor
          password_env: JOULEBENCH_BMC_PASSWORD
        ca_file: /etc/ssl/certs/bmc-ca.pem
      - id: wall
        kind: shelly
        role: cross-check
        url: http://192.0.2.10
        credentials:
          password_file: ~/.config/joulebench/shelly.secret   # chmod 600

Passwords come from an environment variable or a private file, never from
this file or the command line. `joulebench schema meters` prints the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from joulebench.errors import InputError
from joulebench.files import load_yaml_model
from joulebench.formats import MetersConfig, RedfishMeterConfig, ShellyMeterConfig
from joulebench.measure.meters import MeterDiscovery, Probe
from joulebench.measure.meters.base import MeterError
from joulebench.measure.meters.credentials import Credentials, resolve_credentials
from joulebench.measure.meters.external import ExternalMeter


def load_meters_config(path: Path) -> MetersConfig:
    """Validate the file; every problem is reported with the file and the field."""
    return load_yaml_model(MetersConfig, Path(path))


def _credentials(entry, where: str, environ: Mapping[str, str] | None, base_dir: Path) -> Credentials:
    c = entry.credentials
    if c is None:
        return Credentials(None, None)
    return resolve_credentials(
        c.username, c.username_env, c.password_env, c.password_file, f"{where}.credentials", environ, base_dir
    )


def open_meter(entry: RedfishMeterConfig | ShellyMeterConfig, where: str, environ=None, base_dir: Path = Path(".")) -> ExternalMeter:
    creds = _credentials(entry, where, environ, base_dir)
    meter_id = f"{entry.kind}:{entry.id}"
    common = dict(
        boundary=entry.boundary,
        method=entry.method,
        credentials=creds,
        timeout_s=entry.timeout_s,
        poll_period_s=entry.poll_period_s,
        max_gap_s=entry.max_gap_s,
    )
    try:
        if isinstance(entry, RedfishMeterConfig):
            from joulebench.measure.meters.redfish import RedfishMeter

            return RedfishMeter(
                meter_id,
                entry.url,
                chassis=entry.chassis,
                source=entry.source,
                power_control=entry.power_control,
                auth=entry.auth,
                ca_file=entry.ca_file,
                **common,
            )
        from joulebench.measure.meters.shelly import ShellyMeter

        return ShellyMeter(meter_id, entry.url, component=entry.component, channel=entry.channel, **common)
    except MeterError as e:
        raise MeterError(f"{where} ({meter_id}): {e}") from e


def open_configured_meters(path: Path, environ: Mapping[str, str] | None = None):
    """Open every declared meter; returns a MeterDiscovery to merge into the machine's own.

    A meter that cannot be opened is an error, not a silent omission: the site
    declared it, so a run without it would not be the site's declared setup.
    """
    path = Path(path)
    config = load_meters_config(path)
    found = MeterDiscovery()
    opened: list[ExternalMeter] = []
    try:
        for index, entry in enumerate(config.meters):
            where = f"{path}: field meters.{index}"
            meter = open_meter(entry, where, environ, path.parent)
            opened.append(meter)
            (found.meters if entry.role == "primary" else found.cross_checks).append(meter)
            found.looked_for.append(f"{meter.id}: {entry.kind} at {entry.url} ({meter.method}, {entry.role})")
    except (MeterError, InputError):
        for meter in opened:
            meter.close()
        raise
    return found


def probe(options):
    """Discovery hook (PROBES line "joulebench.measure.meters.config:probe"): the meters a site's file declares.

    Reads `options.meters_config` (a path, or None when the site declared no
    external meters); a declared meter that cannot be opened is an error.
    """
    from joulebench.errors import JoulebenchError
    from joulebench.measure.meters.base import MeterError

    path = getattr(options, "meters_config", None)
    if path is None:
        return MeterDiscovery.nothing("node", "node: no external meter declared (a BMC or wall meter: --meters CONFIG)")
    try:
        return open_configured_meters(Path(path), getattr(options, "environ", None))
    except MeterError as e:
        # Discovery forgives a failing probe; a meter the site declared must not fail quietly.
        raise JoulebenchError(f"{path}: a declared meter cannot be opened: {e}") from e
    except (OSError, ImportError, ValueError) as e:
        # Declared means required: whatever stops a declared meter stops the run, with the reason.
        raise JoulebenchError(f"{path}: a declared meter cannot be opened: {type(e).__name__}: {e}") from e


PROBE = Probe("external", ("node",), probe)

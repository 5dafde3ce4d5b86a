"""The meters file: the external meters a site declares (`--meters CONFIG`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from joulebench.formats.vocabulary import (
    Boundary,
    Identifier,
    Line,
    Strict,
    unit_parser,
)

_SECRET_KEYS = ("password", "passwd", "pass", "secret", "token", "api_key", "key")
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=120)]


def _base_url(value: Any) -> Any:
    """An http(s) base URL with no user:password@ (credentials never live in the file)."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        return value
    if len(value) > 2000:
        raise ValueError("expected an http:// or https:// address of at most 2000 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ValueError("expected an http:// or https:// address (this one cannot be parsed)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// address, got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("an address must not carry user:password@; use the credentials block (password_env or password_file)")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a base address without ?query or #fragment, got {value!r}")
    return value.rstrip("/")


BaseUrl = Annotated[Line, BeforeValidator(_base_url)]


class MeterCredentialsConfig(Strict):
    """Where a meter's credentials come from; never the values themselves."""

    username: Line | None = None  # a user name is not a secret
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    password_file: Line | None = Field(default=None, description="a file readable by its owner only (chmod 600)")

    @model_validator(mode="before")
    @classmethod
    def _no_plain_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if str(key).lower() in _SECRET_KEYS:
                    raise ValueError(
                        f"a {key!r} written in the meters file is refused: name an environment variable "
                        "(password_env) or a private file (password_file) instead"
                    )
        return data

    @model_validator(mode="after")
    def _one_source_each(self) -> MeterCredentialsConfig:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if self.username and self.username_env:
            raise ValueError("give username or username_env, not both")
        return self


class _ExternalMeterConfig(Strict):
    id: Identifier
    boundary: Boundary = "node"
    # The first primary meter of a boundary is its truth; a cross-check is compared with it.
    role: Literal["primary", "cross-check"] = "primary"
    url: BaseUrl
    method: Literal["auto", "counter", "integrated"] = "auto"
    poll_period_s: Annotated[float, unit_parser("s"), Field(gt=0, le=60)] = 1.0
    # Largest gap between good samples before an integrated window is invalid (default 3 polls).
    max_gap_s: Annotated[float, unit_parser("s"), Field(gt=0, le=3600)] | None = None
    timeout_s: Annotated[float, unit_parser("s"), Field(gt=0, le=30)] = 2.0
    credentials: MeterCredentialsConfig | None = None


class RedfishMeterConfig(_ExternalMeterConfig):
    kind: Literal["redfish"]
    chassis: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=200)] | None = Field(
        default=None, description="the Chassis member id; default: the first")
    source: Literal["auto", "environment-metrics", "power"] = "auto"
    power_control: int = Field(default=0, ge=0, le=1000, description="index into Power.PowerControl (legacy source)")
    auth: Literal["session", "basic"] = "session"
    ca_file: Line | None = Field(default=None, description="CA bundle to verify the BMC's TLS certificate")


class ShellyMeterConfig(_ExternalMeterConfig):
    kind: Literal["shelly"]
    component: Literal["switch", "pm1"] = "switch"
    channel: int = Field(default=0, ge=0, le=1000)


ExternalMeterConfig = Annotated[RedfishMeterConfig | ShellyMeterConfig, Field(discriminator="kind")]


class MetersConfig(Strict):
    """The external meters a site declares (`joulebench certify --meters CONFIG`)."""

    meters: list[ExternalMeterConfig] = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _unique(self) -> MetersConfig:
        ids = [m.id for m in self.meters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"meter ids must be unique; repeated: {duplicates}")
        primaries = [m.boundary for m in self.meters if m.role == "primary"]
        twice = sorted({b for b in primaries if primaries.count(b) > 1})
        if twice:
            raise ValueError(f"more than one primary meter for boundary {twice}; mark the others role: cross-check")
        return self

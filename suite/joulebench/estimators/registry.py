"""Which estimators exist: the built-ins as lazy "module:Class" strings, plus plugins.

A third-party estimator is a package that declares an entry point in the
`joulebench.estimators` group, named by the estimator's id:

    [project.entry-points."joulebench.estimators"]
    my-estimator = "my_package.estimator:MyEstimator"

Nothing is imported until an estimator is asked for, so listing never pulls
torch, CodeCarbon or a plugin's dependencies. A plugin that fails to load, or
that claims a built-in's id, is listed as unavailable with the reason; it is
never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from joulebench.errors import InputError
from joulebench.estimators.base import (
    Estimator,
    EstimatorUnavailableError,
    LiveEstimator,
    StaticEstimator,
)
from joulebench.formats import BOUNDARIES, ID_PATTERN
from joulebench.registry import Entry, EntryLoadError, Registry

ENTRY_POINT_GROUP = "joulebench.estimators"

BUILTINS: dict[str, str] = {
    "mlco2": "joulebench.estimators.mlco2:MLCO2Impact",
    "green-algorithms": "joulebench.estimators.green_algorithms:GreenAlgorithms",
    "flops": "joulebench.estimators.flops:FlopModel",
    "codecarbon": "joulebench.estimators.codecarbon_live:CodeCarbonLive",
    "carbontracker": "joulebench.estimators.carbontracker_live:CarbontrackerLive",
    "eco2ai": "joulebench.estimators.eco2ai_live:Eco2aiLive",
    "slurm-sstat": "joulebench.estimators.slurm_sstat:SlurmSstat",
}


@dataclass(frozen=True)
class EstimatorInfo:
    id: str
    version: str
    kind: str
    boundaries: tuple[str, ...]
    available: bool
    reason: str
    source: str
    target: str
    summary: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind,
            "boundaries": list(self.boundaries),
            "available": self.available,
            "reason": self.reason,
            "source": self.source,
            "target": self.target,
            "summary": self.summary,
        }


def _check_class(estimator_id: str, cls: object) -> type[Estimator]:
    """A plugin must be an Estimator subclass that declares what the scorer relies on."""
    if not (isinstance(cls, type) and issubclass(cls, (StaticEstimator, LiveEstimator))):
        raise TypeError(f"{cls!r} is not a subclass of StaticEstimator or LiveEstimator")
    declared = getattr(cls, "id", None)
    if declared != estimator_id:
        raise TypeError(f"its class declares id {declared!r} but is registered as {estimator_id!r}")
    if not re.match(ID_PATTERN, estimator_id):
        raise TypeError(f"id {estimator_id!r} must match {ID_PATTERN}")
    version = cls.current_version()
    if not isinstance(version, str) or not version:
        raise TypeError("it declares no version")
    boundaries = getattr(cls, "boundaries", ())
    if not boundaries or any(b not in BOUNDARIES for b in boundaries):
        raise TypeError(f"boundaries {boundaries!r} must be a non-empty subset of {list(BOUNDARIES)}")
    return cls


ESTIMATORS: Registry[type[Estimator]] = Registry("estimator", BUILTINS, group=ENTRY_POINT_GROUP, check=_check_class)


def _load(entry: Entry) -> type[Estimator]:
    try:
        return ESTIMATORS.load_entry(entry)
    except EntryLoadError as exc:
        raise EstimatorUnavailableError(str(exc)) from exc


def known_ids() -> list[str]:
    return ESTIMATORS.names()


def unknown_estimator(estimator_id: str, choices: list[str]) -> InputError:
    """The error for an id nobody registered, with the closest valid id."""
    return ESTIMATORS.unknown(estimator_id, choices)


def get_class(estimator_id: str) -> type[Estimator]:
    """The estimator's class; InputError for an unknown id, EstimatorUnavailableError for a broken plugin."""
    return _load(ESTIMATORS.entry(estimator_id))


def list_estimators() -> list[EstimatorInfo]:
    """Every registered estimator, loadable or not, with whether it can run here and why not."""
    infos = []
    for estimator_id, entry in sorted(ESTIMATORS.entries().items()):
        try:
            cls = _load(entry)
        except EstimatorUnavailableError as exc:
            infos.append(EstimatorInfo(estimator_id, "", "unknown", (), False, str(exc), entry.source, entry.target))
            continue
        available, reason = cls.availability()
        infos.append(
            EstimatorInfo(
                estimator_id,
                cls.current_version(),
                cls.kind,
                tuple(cls.boundaries),
                available,
                reason,
                entry.source,
                entry.target,
                cls.summary(),
            )
        )
    return infos


def create_static(estimator_id: str) -> StaticEstimator:
    cls = get_class(estimator_id)
    if not issubclass(cls, StaticEstimator):
        raise InputError(f"estimator {estimator_id!r} is {cls.kind}, not static: it runs during `joulebench run`")
    available, reason = cls.availability()
    if not available:
        raise EstimatorUnavailableError(f"estimator {estimator_id!r} is unavailable: {reason}")
    return cls()


def open_live(estimator_id: str, workdir: Path) -> LiveEstimator:
    """A live estimator ready to `start()`; the runner calls this once per window.

    InputError (exit 2) for an unknown id or a static one;
    EstimatorUnavailableError saying what to install when it cannot run here.
    """
    cls = get_class(estimator_id)
    if not issubclass(cls, LiveEstimator):
        raise InputError(f"estimator {estimator_id!r} is {cls.kind}, not live: it is computed at scoring time")
    available, reason = cls.availability()
    if not available:
        raise EstimatorUnavailableError(reason)
    return cls(Path(workdir))

"""Datasheet TDPs and peaks for the devices imported studies name (datasheets.yaml beside this file).

A study states which accelerator and CPU it ran on, rarely their TDP. The
importers look the name up here; a device that is not listed gets no TDP and no
peak (None: not stated), so an estimator that needs one does not answer for it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from joulebench.errors import InputError
from joulebench.formats import PeakThroughput

DATASHEETS_FILE = Path(str(resources.files("joulebench.importers"))) / "datasheets.yaml"


@dataclass(frozen=True)
class AcceleratorSheet:
    model: str
    vendor: str
    memory_gib: float
    tdp_w: float
    peak_tflops: PeakThroughput
    source: str


@dataclass(frozen=True)
class CpuSheet:
    model: str
    cores_per_socket: int
    tdp_w: float
    source: str


def _matcher(patterns: list[str], whole_word: bool):
    if whole_word:
        regexes = [re.compile(rf"(?<![a-z0-9]){re.escape(p.lower())}(?![a-z0-9])") for p in patterns]
        return lambda name: any(r.search(name.lower()) for r in regexes)
    lowered = [p.lower() for p in patterns]
    return lambda name: any(p in name.lower() for p in lowered)


@functools.lru_cache(maxsize=1)
def _load() -> tuple[list, list]:
    try:
        data = yaml.safe_load(DATASHEETS_FILE.read_text(encoding="utf-8"))
        accelerators = [
            (_matcher(e["match"], e.get("whole_word", False)), AcceleratorSheet(
                model=e["model"], vendor=e["vendor"], memory_gib=float(e["memory_gib"]), tdp_w=float(e["tdp_w"]),
                peak_tflops=PeakThroughput.model_validate(e["peak_tflops"]), source=e["source"],
            ))
            for e in data["accelerators"]
        ]  # fmt: skip
        cpus = [
            (_matcher(e["match"], e.get("whole_word", False)),
             CpuSheet(model=e["model"], cores_per_socket=int(e["cores_per_socket"]), tdp_w=float(e["tdp_w"]),
                      source=e["source"]))
            for e in data["cpus"]
        ]  # fmt: skip
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{DATASHEETS_FILE}: not a valid datasheet table: {exc}") from None
    return accelerators, cpus


def accelerator_sheet(name: str) -> AcceleratorSheet | None:
    for matches, sheet in _load()[0]:
        if matches(name):
            return sheet
    return None


def cpu_sheet(name: str) -> CpuSheet | None:
    for matches, sheet in _load()[1]:
        if matches(name):
            return sheet
    return None

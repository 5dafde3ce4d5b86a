"""The shared vocabulary of every file format: boundaries, tiers, ids, units, and the strict base model.

Each vocabulary is declared once, as a Literal type; the tuple beside it is
derived from that type, so the two can never disagree. Units live in field
names (`_w`, `_j`, `_s`, `_gib`) and a value in a YAML file may carry its unit
as text ("700 W"); a different unit ("0.7 kW") is refused rather than
converted, so a typo never silently changes a number.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Boundary = Literal["gpu", "cpu", "dram", "node"]
BOUNDARIES: tuple[str, ...] = get_args(Boundary)
MeterMethod = Literal["counter", "integrated"]
# "hpc", "speech" and "recommendation" arrived with the imported studies (issue 11):
# Jay et al. 2023 ran NAS Parallel Benchmarks, not ML; MLPerf Inference adds RNN-T
# (speech) and DLRM (recommendation). No pinned track uses them.
Domain = Literal["vision", "language", "hpc", "speech", "recommendation"]
# "compute": an HPC kernel run to completion (no model trained or queried);
# "idle": a window in which nothing ran (a study's baseline, e.g. `sleep 60`).
Task = Literal["train", "infer", "generate", "compute", "idle"]
# float64 (NPB is double precision), int8 and float8 (what MLPerf submitters declare
# as their weights' type) describe imported runs; the model builders know only the
# first three, which are all the pinned tracks use.
DType = Literal["float32", "bfloat16", "float16", "float64", "int8", "float8"]

Tier = Literal["A", "B", "C", "uncertified"]
TIERS: tuple[str, ...] = get_args(Tier)  # best first
CheckStatus = Literal["pass", "fail", "skip", "info"]
CHECK_STATUSES: tuple[str, ...] = get_args(CheckStatus)

SliceDimension = Literal["all", "domain", "task", "size", "profile", "site"]
SLICE_DIMENSIONS: tuple[str, ...] = get_args(SliceDimension)
EstimatorSource = Literal["static", "live", "submission"]
EstimatorKind = Literal["static", "live"]

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=120)]

_QUANTITY = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/%]+)?\s*$")


def unit_parser(unit: str):
    """Accept a number, or a string "<number> <unit>" whose unit is exactly `unit`."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            match = _QUANTITY.match(value)
            if not match:
                raise ValueError(f"expected a number in {unit}, got {value!r}")
            number, given = match.groups()
            if given is not None and given != unit:
                raise ValueError(f"expected a value in {unit}, got unit {given!r} in {value!r}")
            return float(number)
        return value

    return BeforeValidator(parse)


Watts = Annotated[float, unit_parser("W"), Field(gt=0)]
GiB = Annotated[float, unit_parser("GiB"), Field(gt=0)]
TFLOPS = Annotated[float, unit_parser("TFLOPS"), Field(gt=0)]
Seconds = Annotated[float, unit_parser("s"), Field(ge=0)]


class Strict(BaseModel):
    """Base for file formats: unknown keys are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def omit_none(value: Any) -> bool:
    """`Field(exclude_if=omit_none)`: a field added after files were written is left out of
    the JSON while it holds None, so every file and content hash from before stays byte-identical."""
    return value is None


def omit_empty(value: Any) -> bool:
    """As omit_none, for a list or dict field added later: left out while empty."""
    return not value


def content_hash(model: BaseModel) -> str:
    """sha256 of a model's canonical JSON (sorted keys, no whitespace)."""
    # model_dump_json is cheap; the canonical form is computed once per distinct
    # content (thousands of records embed the same few specs and profiles).
    return _canonical_hash(model.model_dump_json())


@functools.lru_cache(maxsize=4096)
def _canonical_hash(dumped: str) -> str:
    payload = json.dumps(json.loads(dumped), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


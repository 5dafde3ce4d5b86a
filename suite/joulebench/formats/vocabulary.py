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
import math
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

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

# "all" is the headline: only runs whose truth is within the stated bound (scoring.table.TRUTH_BOUND_PCT);
# "truth" shows the other runs apart. "profile" is the hardware system, "study" the source of the truth.
SliceDimension = Literal["all", "domain", "task", "size", "profile", "site", "study", "nodes", "ranks", "parallel", "truth"]
SLICE_DIMENSIONS: tuple[str, ...] = get_args(SliceDimension)
EstimatorSource = Literal["static", "live", "submission"]
EstimatorKind = Literal["static", "live"]

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=120)]
# A run id: the runner's `<site>.<workload>.<hash>.r01`, or an importer's `<site>.<workload>.<study id>`.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$"
RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN, min_length=1, max_length=300)]
# An estimator or library version: 3.3.2, 1.0rc1, 2.4.0+cu121, unknown.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
Version = Annotated[str, Field(pattern=VERSION_PATTERN, min_length=1, max_length=64)]
# A meter id: nvml-energy:gpu, rapl:cpu, redfish:bmc, wall-plug-ocr.
METER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/+-]*$"
MeterId = Annotated[str, Field(pattern=METER_ID_PATTERN, min_length=1, max_length=200)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

# Terminal control characters (escape sequences, NUL, CR, DEL, C1) and bidirectional overrides.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\n\t]")


def _one_line(value: Any) -> Any:
    if isinstance(value, str) and (CONTROL_CHARACTERS.search(value) or _LINE_BREAKS.search(value)):
        raise ValueError("expected one line of text without control characters (no newline, tab, escape or NUL)")
    return value


def _plain_text(value: Any) -> Any:
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        raise ValueError("expected text without control characters (escape sequences, NUL, carriage returns)")
    return value


# A name, a model, a path, a reason: one line. Free text (a description, a note): newlines allowed.
Line = Annotated[str, AfterValidator(_one_line), Field(max_length=2000)]
Text = Annotated[str, AfterValidator(_plain_text), Field(max_length=20_000)]

_QUANTITY = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/%]+)?\s*$")


def unit_parser(unit: str):
    """Accept a number, or a string "<number> <unit>" whose unit is exactly `unit`."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            match = _QUANTITY.match(value[:100]) if len(value) <= 100 else None
            if not match:
                raise ValueError(f"expected a number in {unit} (e.g. 700 or \"700 {unit}\")")
            number, given = match.groups()
            if given is not None and given != unit:
                raise ValueError(f"expected a value in {unit}, got unit {given!r}")
            return float(number)
        return value

    return BeforeValidator(parse)


# Units in the name, bounds from physics: far above any real machine, far below nonsense.
Watts = Annotated[float, unit_parser("W"), Field(gt=0, le=100_000)]
GiB = Annotated[float, unit_parser("GiB"), Field(gt=0, le=1_048_576)]  # up to 1 PiB
TFLOPS = Annotated[float, unit_parser("TFLOPS"), Field(gt=0, le=1_000_000)]
Seconds = Annotated[float, unit_parser("s"), Field(ge=0, le=1e7)]

# The largest energy any field may hold: 1 TWh, a year of a large data centre, never one window.
MAX_ENERGY_J = 3.6e15
# The longest window a record may describe: about 116 days.
MAX_DURATION_S = 1e7
# The largest count (iterations, items, tokens, parameters) a field may hold.
MAX_COUNT = 10**18
Joules = Annotated[float, Field(ge=0, le=MAX_ENERGY_J)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
# A utilisation in percent: of the whole machine (0-100), or summed per core or device as some tools report it.
Percent = Annotated[float, Field(ge=0, le=409_600)]

# Free-form JSON (a model's config, an estimator's raw output, a check's measurements): bounded too.
MAX_JSON_DEPTH = 16
MAX_JSON_ITEMS = 100_000
MAX_JSON_STRING = 20_000


def _bounded_json(value: Any) -> Any:
    """Plain JSON values only: finite numbers, strings without control characters, bounded size and depth."""
    stack = [(value, 0, "")]
    items = 0
    while stack:
        item, depth, where = stack.pop()
        items += 1
        if items > MAX_JSON_ITEMS:
            raise ValueError(f"more than {MAX_JSON_ITEMS} values")
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep (at {where or 'the top'})")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys must be strings (at {where or 'the top'})")
                if len(key) > 200 or CONTROL_CHARACTERS.search(key):
                    raise ValueError(f"a key longer than 200 characters or with control characters (at {where or 'the top'})")
                stack.append((child, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{where or 'value'}: expected a finite number")
        elif isinstance(item, int):
            if abs(item) > 10**30:
                raise ValueError(f"{where or 'value'}: an integer of more than 30 digits")
        elif isinstance(item, str):
            if len(item) > MAX_JSON_STRING:
                raise ValueError(f"{where or 'value'}: a string longer than {MAX_JSON_STRING} characters")
            if CONTROL_CHARACTERS.search(item):
                raise ValueError(f"{where or 'value'}: a string with control characters")
        else:
            raise ValueError(f"{where or 'value'}: expected a JSON value, got {type(item).__name__}")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]


class Strict(BaseModel):
    """Base for file formats: unknown keys are errors, and so is every loose type.

    strict: a boolean or a string is not a number, a float is not an integer
    (a unit-bearing value such as "700 W" is parsed by its field's validator
    first); allow_inf_nan off: no field anywhere holds NaN or an infinity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


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


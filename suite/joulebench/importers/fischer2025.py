"""Import Fischer 2025 (arXiv:2509.22092), the wall-metered study joulebench grew from.

The release (github.com/raphischer/ai-energy-validation, folder results/;
read with the repository search tools at commits ad7d00dc, 8748110a, 19bf9710
and b302e7c4, code at 2a380bcc, 35c85dea, 6b138e16, 1ffbfa56) holds, per
measurement session, two files that share a stem:

- `<kind>_<seconds>_<YYYY-MM-DD_HH-MM-SS>.csv`, kind `imagenet` or `ollama`:
  the `mlflow experiments csv` export of the session, one row per run, columns
  in no fixed order. Both kinds: run_id (32 hex), experiment_id, status,
  artifact_uri, start_time, end_time ("2025-09-20 05:43:42.246000+00:00", the
  whole MLflow run), metrics.power_draw_total (CodeCarbon's energy_consumed in
  kWh times 3.6e6, so joules), metrics.power_draw (the same per sample),
  metrics.running_time_total (CodeCarbon's duration, s), metrics.running_time,
  params.model, params.parameters, params.architecture (the GPU name when run
  on the GPU, else the CPU name), params.n_samples, params.seconds,
  params.dataset, params.task and tags.mlflow.* (tags.mlflow.source.git.commit
  is the study's code commit for that run). imagenet adds params.batch_size,
  params.batchsize, params.software ("Tensorflow 2.20.0"), params.datadir and
  the Keras accuracy/loss metrics; params.parameters is an integer count.
  ollama adds params.temperature, params.file_size (bytes), metrics.n_tokens_in
  and metrics.n_tokens_out (run totals); params.parameters is Ollama's
  parameter_size text ("7.3B", "751.63M").
- `<same stem>_image_analysis.csv`: the wall meter's kWh display photographed
  by a webcam just before CodeCarbon starts (`<run_id>_capture_start.jpg`) and
  after it stops (`<run_id>_capture_stop.jpg`), read by OCR
  (image_analysis.py). Columns: an unnamed first column with the frame's path,
  `ocr` (what OCR read), `value` (the reading in kWh after manual fixes; empty
  when OCR failed and nobody fixed it), `manual` (True when fixed by hand),
  `val_diff` (value minus the previous row's value) and `still_errors`
  (val_diff < 0: the display went backwards, so a reading is still wrong).

The study joins the two by position (stop rows in start_time order); this
importer joins by the run id in each frame's file name, which is the same join
when the files are consistent and fails loudly when they are not.

What the importer decides (each rule is counted in the import report):
- Truth: stop minus start, in kWh, times exactly 3,600,000 J/kWh, at the node
  (wall plug) boundary. The display shows 1 Wh steps up to 9.999 kWh and 10 Wh
  steps from 10 kWh on (the release's readings there have two decimals, typed in
  by hand: ollama_900_2025-09-12_15-10-06 crosses 10 kWh and 22 of its runs have
  a reading above it). Those runs are kept, with the coarser step as their
  resolution, and left to the uncertainty rule instead of being skipped: the
  difference of two readings is within one step (the larger of the two) of the
  energy between the photos. The meter's accuracy class is not stated in the
  release, so each record's uncertainty says it covers the display only.
- The photos: the study's save_webcam_image(seconds=8) keeps the webcam open
  for 8 s and writes the last frame, and main.py calls it right before
  tracker.start() and right after tracker.stop(), in experiments/imagenet and
  experiments/ollama at every commit the runs name (ed7cc1e8, e8abdb42,
  708f10df, b305176c, fa24a527). So the start photo shows the display as
  CodeCarbon starts and the stop photo about 8 s after it stops: the metered
  energy includes that tail, which the uncertainty bound covers at the run's
  mean power.
- A run is skipped, never repaired, when a reading is missing, flagged as
  still wrong (a flag casts doubt on the flagged reading and on the one before
  it, since either could be the wrong one), goes backwards, or does not advance
  at all, or advances so little that the machine would have drawn under
  MIN_NODE_POWER_W. Two rows for the same run with the same values count once
  (duplicate_row); with different values they are an error.
- CodeCarbon's estimate is kept as a live estimate recorded by the study
  (version unknown: the release does not state it).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import ValidationError

from joulebench import SUITE_VERSION, __version__, catalog
from joulebench.errors import InputError
from joulebench.files import format_validation_error
from joulebench.formats import (
    ID_PATTERN,
    BoundaryEnergy,
    DetectedGpu,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    MissingBoundary,
    ModelConfig,
    Provenance,
    RunRecord,
    SourceLine,
    TruthUncertainty,
    WorkloadSpec,
)
from joulebench.importers.base import (
    ImportOutcome,
    ImportReport,
    RowRegistry,
    Skip,
    SkippedRun,
    write_import,
)
from joulebench.importers.base import (
    checkout_commit as base_checkout_commit,
)

IMPORTER = "fischer2025"
TRACK = "fischer2025"
PROFILE_ID = "rtx4090-i9-13900k"
REPOSITORY = "https://github.com/raphischer/ai-energy-validation"
SOURCE = "Fischer 2025 (arXiv:2509.22092)"
CITATION = (
    "Fischer (2025). Ground-Truthing AI Energy Consumption: Validating CodeCarbon Against "
    "External Measurements. arXiv:2509.22092."
)
NOT_REDISTRIBUTED = (
    "joulebench does not redistribute this data: download the study's repository and run "
    "`joulebench import fischer2025 <repository>/results --site SITE` to produce these records."
)
METHOD_NOTE = (
    "Node truth: a wall plug meter's cumulative kWh display (1 Wh steps) photographed before and after "
    "each run and read by OCR with manual fixes (the *_image_analysis.csv files); the difference times "
    "3,600,000 J/kWh. CodeCarbon's estimate is the study's metrics.power_draw_total."
)

J_PER_KWH = Decimal(3_600_000)
DISPLAY_STEP_KWH = Decimal("0.001")  # the display's last digit below 10 kWh: 1 Wh
RESOLUTION_J = float(DISPLAY_STEP_KWH * J_PER_KWH)
# The OCR reads exactly "d.ddd" (image_analysis.py). From 10 kWh on the release's readings
# have two decimals (ollama_900_2025-09-12_15-10-06: 10.08 to 12.62 kWh, every one typed
# in by hand after the OCR failed): the display then counts 10 Wh steps.
COARSE_FROM_KWH = Decimal("10")
COARSE_STEP_KWH = Decimal("0.01")
# The stop photo is written about this long after CodeCarbon stops (save_webcam_image(seconds=8)).
STOP_PHOTO_LAG_S = 8.0
# A powered desktop with an RTX 4090 and an i9-13900K draws far more than this at
# the wall even when idle; a reading implying less is a display that was not read.
MIN_NODE_POWER_W = 20.0

METER_ID = "wall-plug-ocr"
READINGS_SUFFIX = "_image_analysis.csv"
EXPORT_NAME = re.compile(r"^(imagenet|ollama)_.+\.csv$")
FRAME_NAME = re.compile(r"([0-9a-f]{32})_capture_(start|stop)\.jpg$")

COMMON_COLUMNS = (
    "run_id",
    "start_time",
    "end_time",
    "metrics.power_draw_total",
    "metrics.running_time_total",
    "params.model",
    "params.parameters",
    "params.architecture",
    "params.n_samples",
)
KIND_COLUMNS = {
    "imagenet": ("params.batch_size",),
    "ollama": ("params.temperature", "metrics.n_tokens_in", "metrics.n_tokens_out"),
}
READINGS_COLUMNS = ("value", "still_errors")

# Input sizes the study resizes (crop or pad) images to, per Keras model
# (experiments/imagenet/data_and_model_loading.py); every other model gets 224.
KERAS_INPUT_SIZE = {
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600,
    "EfficientNetV2B1": 240, "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2B4": 380,
    "EfficientNetV2B5": 456, "EfficientNetV2B6": 528, "EfficientNetV2B7": 600,
    "EfficientNetV2L": 480, "EfficientNetV2M": 480, "EfficientNetV2S": 384,
    "NASNetLarge": 331,
}  # fmt: skip
INCEPTION_INPUT_SIZE = 299  # every model whose name contains "ception"
DEFAULT_INPUT_SIZE = 224
# The study's analysis script (create_plots.py) labels every Ollama run with this version.
OLLAMA_VERSION = "0.11.8"


# --------------------------------------------------------------------------- reading the files


@dataclass(frozen=True)
class Reading:
    line: int
    value_kwh: Decimal | None
    ocr: str
    manual: bool
    flagged: bool


@dataclass
class ReadingsFile:
    path: Path
    frames: dict[tuple[str, str], Reading] = field(default_factory=dict)
    # frame -> why its reading cannot be trusted
    suspect: dict[tuple[str, str], str] = field(default_factory=dict)

    def run_ids(self) -> set[str]:
        return {run_id for run_id, _ in self.frames}


@dataclass
class Export:
    path: Path
    kind: str
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    readings: ReadingsFile | None


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty; expected a header row")
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise InputError(
                        f"{path}: line {reader.line_num}: expected {len(header)} cells like the header, got {len(row)}"
                    )
                rows.append((reader.line_num, dict(zip(header, row, strict=True))))
            return header, rows
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from None


def _require_columns(path: Path, header: list[str], columns: tuple[str, ...], what: str) -> None:
    for column in columns:
        if column not in header:
            raise InputError(f"{path}: column {column!r} is missing; expected {what} with columns {', '.join(columns)}")


def _bool_cell(path: Path, line: int, column: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InputError(f"{path}: line {line}: column {column!r}: expected True or False, got {text!r}")


def display_step_kwh(value: Decimal) -> Decimal:
    """The display's step at a reading: 1 Wh below 10 kWh, 10 Wh from there on."""
    return COARSE_STEP_KWH if value >= COARSE_FROM_KWH else DISPLAY_STEP_KWH


def _kwh_cell(path: Path, line: int, text: str) -> Decimal | None:
    """A display reading in kWh, snapped to the display's grid (1 Wh, or 10 Wh from 10 kWh); None when empty."""
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{path}: line {line}: column 'value': expected a reading in kWh, got {text!r}") from None
    # pandas may print a reading with float noise (2.1300000000000001); anything
    # further from the 1 Wh grid is not a reading of this display.
    snapped = value.quantize(DISPLAY_STEP_KWH) if value.is_finite() else None
    if snapped is None or abs(value - snapped) > Decimal("1e-9"):
        raise InputError(
            f"{path}: line {line}: column 'value': expected a kWh reading with at most 3 decimals, got {text!r}"
        )
    if snapped >= COARSE_FROM_KWH and snapped != snapped.quantize(COARSE_STEP_KWH):
        raise InputError(
            f"{path}: line {line}: column 'value': from {COARSE_FROM_KWH} kWh on the display counts 10 Wh steps; "
            f"expected at most 2 decimals, got {text!r}"
        )
    return snapped


def read_readings(path: Path) -> ReadingsFile:
    header, rows = _read_csv(path)
    if not header:
        raise InputError(f"{path}: the header row is empty; expected a frame column then {', '.join(READINGS_COLUMNS)}")
    _require_columns(path, header, READINGS_COLUMNS, "an image-analysis file")
    frame_column = header[0]  # unnamed in the release (pandas' index)
    readings = ReadingsFile(path)
    # The last row with a value: the reading a flagged or lower one is compared with.
    previous: tuple[tuple[str, str], Reading] | None = None
    for line, row in rows:
        frame_path = row[frame_column].strip()
        match = FRAME_NAME.search(re.split(r"[\\/]", frame_path)[-1])
        if not match:
            raise InputError(
                f"{path}: line {line}: first column: expected a frame named <run_id>_capture_start.jpg or "
                f"<run_id>_capture_stop.jpg, got {frame_path!r}"
            )
        key = (match.group(1), match.group(2))
        if key in readings.frames:
            raise InputError(f"{path}: line {line}: a second row for frame {match.group(0)!r}")
        reading = Reading(
            line=line,
            value_kwh=_kwh_cell(path, line, row["value"]),
            ocr=row.get("ocr", "").strip(),
            manual=_bool_cell(path, line, "manual", row["manual"]) if row.get("manual", "").strip() else False,
            flagged=_bool_cell(path, line, "still_errors", row["still_errors"]),
        )
        readings.frames[key] = reading
        backwards = previous is not None and reading.value_kwh is not None and reading.value_kwh < previous[1].value_kwh
        if reading.flagged or backwards:
            why = "flagged as still wrong" if reading.flagged else "lower than the reading before it"
            readings.suspect[key] = f"its reading (line {line}) is {why}"
            if previous is not None:
                readings.suspect.setdefault(
                    previous[0], f"its reading (line {previous[1].line}) precedes one {why} (line {line})"
                )
        if reading.value_kwh is not None:
            previous = (key, reading)
    return readings


def find_exports(source: Path) -> tuple[Path, list[Path]]:
    """The folder holding the MLflow exports (DIR, or DIR/results) and the exports in it."""
    if not source.is_dir():
        raise InputError(f"{source}: not a folder; expected the study's results/ folder")

    def exports(folder: Path) -> list[Path]:
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and EXPORT_NAME.match(p.name) and not p.name.endswith(READINGS_SUFFIX)
        )

    found = exports(source)
    if not found and (source / "results").is_dir():
        source = source / "results"
        found = exports(source)
    if not found:
        raise InputError(
            f"{source}: no MLflow exports (imagenet_*.csv or ollama_*.csv); "
            "expected the results/ folder of the study's repository"
        )
    return source, found


def read_export(path: Path) -> Export:
    kind = EXPORT_NAME.match(path.name).group(1)
    header, rows = _read_csv(path)
    readings_path = path.with_name(path.stem + READINGS_SUFFIX)
    readings = read_readings(readings_path) if readings_path.is_file() else None
    if readings is not None:
        _require_columns(path, header, COMMON_COLUMNS + KIND_COLUMNS[kind], f"an MLflow export of {kind} runs")
    return Export(path, kind, header, rows, readings)


# --------------------------------------------------------------------------- one run


def _number(export: Export, run_id: str, column: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"{export.path}: run {run_id}: column {column!r}: expected a number, got {text!r}") from None
    if not value.is_finite():
        raise InputError(f"{export.path}: run {run_id}: column {column!r}: expected a finite number, got {text!r}")
    return value


_SIZE_SUFFIX = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def parameter_count(export: Export, run_id: str, text: str) -> int:
    """A count (28589128, 7300000000.0) or Ollama's parameter_size text (7.3B, 751.63M)."""
    text = text.strip()
    scale = _SIZE_SUFFIX.get(text[-1:].upper(), 1)
    number = _number(export, run_id, "params.parameters", text[:-1] if scale != 1 else text)
    count = int(number * scale)
    if count <= 0:
        raise Skip("incomplete_run", f"params.parameters is {text!r}, not a positive count")
    return count


def _timestamp(export: Export, run_id: str, column: str, text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{export.path}: run {run_id}: column {column!r}: expected a time like "
            f"'2025-09-20 05:43:42.246000+00:00', got {text!r}"
        ) from None


def _device(profile: HardwareProfile, architecture: str) -> str | None:
    name = architecture.lower()
    if profile.accelerator and any(m.lower() in name for m in profile.accelerator.match):
        return "gpu"
    if any(m.lower() in name for m in profile.cpu.match):
        return "cpu"
    return None


def _slug(text: str) -> str:
    """A model name as part of a workload id: olmo2:7b -> olmo2-7b."""
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._") or "model"


def _identifier(text: str) -> str:
    """A model name as ModelConfig.architecture: mistral-small3.2:24b -> mistral_small3_2_24b."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"m_{name}"


def _seconds_text(seconds: float | None) -> str:
    return f"{seconds:g}" if seconds is not None else "?"


def _target_window(export: Export, run_id: str, row: dict[str, str]) -> float | None:
    """params.seconds: the time the study sized each run to fill."""
    text = row.get("params.seconds", "").strip()
    return float(_number(export, run_id, "params.seconds", text)) if text else None


def keras_input_size(model: str) -> int:
    if model in KERAS_INPUT_SIZE:
        return KERAS_INPUT_SIZE[model]
    if "ception" in model:
        return INCEPTION_INPUT_SIZE
    return DEFAULT_INPUT_SIZE


def _software(row: dict[str, str]) -> dict[str, str]:
    """params.software "Tensorflow 2.20.0" -> {"tensorflow": "2.20.0"}."""
    name, _, version = row.get("params.software", "").strip().rpartition(" ")
    return {name.lower(): version} if name and version else {}


def _vision_spec(
    export: Export, run_id: str, row: dict[str, str], device: str, params: int
) -> tuple[WorkloadSpec, int, int]:
    model = row["params.model"].strip()
    batch = _number(export, run_id, "params.batch_size", row["params.batch_size"])
    images = _number(export, run_id, "params.n_samples", row["params.n_samples"])
    if batch <= 0 or batch != batch.to_integral_value():
        raise Skip("incomplete_run", f"params.batch_size is {row['params.batch_size']!r}, not a positive whole number")
    if images <= 0:
        raise Skip("incomplete_run", f"params.n_samples is {row['params.n_samples']!r}, not a positive count")
    batch_size, items = int(batch), int(images)
    iterations = math.ceil(items / batch_size)
    seconds = _target_window(export, run_id, row)
    spec = WorkloadSpec(
        id=f"{_slug(model)}-bs{batch_size}-{device}",
        track=TRACK,
        domain="vision",
        task="infer",
        description=(
            f"Fischer 2025: Keras {model} with ImageNet weights classifying ImageNet validation images in "
            f"batches of {batch_size} on the {device.upper()} for about {_seconds_text(seconds)} s. "
            "Imported: seed 0 and repeats 1 are placeholders (the study sets no seed; each record is one "
            "window); warm-up counts the 2 initialisation batches, not the study's timing batches."
        ),
        model=ModelConfig(
            library="external",
            architecture=_identifier(model),
            config={"source": "tf.keras.applications", "name": model, "weights": "imagenet"},
        ),
        dtype="float32",  # Keras' default policy; the study sets no mixed precision
        batch_size=batch_size,
        image_size=keras_input_size(model),
        warmup_iterations=2,
        measured_iterations=iterations,
        repeats=1,
        seed=0,
        params=params,
        flops_per_iteration=None,
        flops_method="not available: an external model joulebench does not rebuild",
        target_window_s=seconds,
        pinned_with=_software(row),
    )
    return spec, iterations, items


def _language_spec(
    export: Export, run_id: str, row: dict[str, str], device: str, params: int
) -> tuple[WorkloadSpec, int, int]:
    tag = row["params.model"].strip()
    temperature = _number(export, run_id, "params.temperature", row["params.temperature"])
    queries = _number(export, run_id, "params.n_samples", row["params.n_samples"])
    tokens_in = _number(export, run_id, "metrics.n_tokens_in", row["metrics.n_tokens_in"])
    tokens_out = _number(export, run_id, "metrics.n_tokens_out", row["metrics.n_tokens_out"])
    if queries <= 0 or queries != queries.to_integral_value():
        raise Skip("incomplete_run", f"params.n_samples is {row['params.n_samples']!r}, not a positive whole number")
    n = int(queries)
    config: dict = {
        "runtime": "ollama",
        "tag": tag,
        "parameter_size": row["params.parameters"].strip(),
        "temperature": float(temperature),
    }
    file_size = row.get("params.file_size", "").strip()
    if file_size:
        size = _number(export, run_id, "params.file_size", file_size)
        config["file_size_bytes"] = int(size)
        config["approx_bits_per_param"] = round(float(size) * 8 / params, 2)
    seconds = _target_window(export, run_id, row)
    spec = WorkloadSpec(
        id=f"{_slug(tag)}-t{float(temperature):g}-{device}",
        track=TRACK,
        domain="language",
        task="generate",
        description=(
            f"Fischer 2025: Ollama {tag} answering Puffin prompts one at a time (temperature "
            f"{float(temperature):g}) on the {device.upper()} for about {_seconds_text(seconds)} s. "
            "Imported: seq_len and new_tokens are per-query means over the run (the study logs totals); "
            "dtype float16 is a placeholder the schema requires (Ollama runs quantized weights, see "
            "config.approx_bits_per_param); seed 0 and repeats 1 are placeholders (queries are shuffled "
            "without a seed; each record is one window)."
        ),
        model=ModelConfig(library="external", architecture="ollama_" + _identifier(tag), config=config),
        dtype="float16",
        batch_size=1,
        seq_len=max(1, round(float(tokens_in) / n)),
        new_tokens=max(1, round(float(tokens_out) / n)),
        warmup_iterations=1,  # one "Can you answer questions?" chat before the window
        measured_iterations=n,
        repeats=1,
        seed=0,
        params=params,
        flops_per_iteration=None,
        flops_method="not available: an external model joulebench does not rebuild",
        target_window_s=seconds,
        pinned_with={"ollama": OLLAMA_VERSION},
    )
    return spec, n, round(float(tokens_out))


@dataclass
class Candidate:
    """A run that passed every check, before its repeat number is known."""

    export: Export
    line: int
    study_run_id: str
    spec: WorkloadSpec
    device: str
    architecture: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    iterations: int
    items: int
    tokens: int | None
    energy_kwh: Decimal
    start: Reading
    stop: Reading
    codecarbon_j: float
    study_code_commit: str | None


def _judge_readings(readings: ReadingsFile | None, export: Export, run_id: str) -> tuple[Reading, Reading]:
    if readings is None:
        detail = f"there is no {export.path.stem + READINGS_SUFFIX} next to the export"
        if any(col.endswith("_gt") for col in export.header):
            detail += (
                "; this export carries metrics.*_gt columns from a later measurement setup, "
                "which the fischer2025 importer does not read"
            )
        raise Skip("no_readings_file", detail)
    if run_id not in readings.run_ids():
        raise Skip("unjoinable", f"{readings.path.name} has no photo of this run")
    edges = {}
    for edge in ("start", "stop"):
        reading = readings.frames.get((run_id, edge))
        if reading is None:
            raise Skip("missing_reading", f"{readings.path.name} has no capture_{edge} row for this run")
        if reading.value_kwh is None:
            raise Skip(
                "missing_reading",
                f"the capture_{edge} photo (line {reading.line}) has no reading (OCR failed, not fixed)",
            )
        if (run_id, edge) in readings.suspect:
            raise Skip("flagged_reading", f"capture_{edge}: {readings.suspect[(run_id, edge)]}")
        edges[edge] = reading
    return edges["start"], edges["stop"]


def judge_run(export: Export, line: int, row: dict[str, str], profile: HardwareProfile) -> Candidate:
    """One MLflow row: a Candidate, or Skip with the reason; malformed cells raise InputError."""
    run_id = row.get("run_id", "").strip() or f"(line {line})"
    start, stop = _judge_readings(export.readings, export, run_id)
    status = row.get("status", "FINISHED").strip()
    if status != "FINISHED":
        raise Skip("not_finished", f"MLflow status is {status!r}")
    required = COMMON_COLUMNS + KIND_COLUMNS[export.kind]
    empty = [c for c in required if not row.get(c, "").strip()]
    if empty:
        raise Skip("incomplete_run", f"empty cell(s): {', '.join(empty)}")
    architecture = row["params.architecture"].strip()
    device = _device(profile, architecture)
    if device is None:
        raise Skip(
            "unknown_device",
            f"params.architecture {architecture!r} is neither the GPU nor the CPU of profile {profile.id}",
        )
    duration = float(_number(export, run_id, "metrics.running_time_total", row["metrics.running_time_total"]))
    if duration <= 0:
        raise Skip("incomplete_run", f"metrics.running_time_total is {duration}, not positive")
    codecarbon_j = float(_number(export, run_id, "metrics.power_draw_total", row["metrics.power_draw_total"]))
    if codecarbon_j < 0:
        raise Skip("incomplete_run", f"metrics.power_draw_total is {codecarbon_j}, negative")
    params = parameter_count(export, run_id, row["params.parameters"])
    if export.kind == "imagenet":
        spec, iterations, items = _vision_spec(export, run_id, row, device, params)
        tokens = None
    else:
        spec, iterations, tokens = _language_spec(export, run_id, row, device, params)
        items = iterations

    energy_kwh = stop.value_kwh - start.value_kwh
    if energy_kwh < 0:
        raise Skip("inconsistent_reading", f"the display went backwards: {start.value_kwh} -> {stop.value_kwh} kWh")
    if energy_kwh == 0:
        raise Skip(
            "implausible_reading",
            f"the display did not advance ({start.value_kwh} kWh at both photos) over a {duration:.0f} s run",
        )
    # Even allowing a full display step of error, the node drew less than a
    # powered desktop can: the photos did not show this run's consumption.
    ceiling_w = float((energy_kwh + display_step_kwh(stop.value_kwh)) * J_PER_KWH) / duration
    if ceiling_w < MIN_NODE_POWER_W:
        raise Skip(
            "implausible_reading",
            f"{energy_kwh} kWh over {duration:.0f} s means under {ceiling_w:.1f} W at the wall "
            f"(a powered desktop draws more than {MIN_NODE_POWER_W:.0f} W)",
        )
    return Candidate(
        export=export,
        line=line,
        study_run_id=run_id,
        spec=spec,
        device=device,
        architecture=architecture,
        started_at=_timestamp(export, run_id, "start_time", row["start_time"]),
        ended_at=_timestamp(export, run_id, "end_time", row["end_time"]),
        duration_s=duration,
        iterations=iterations,
        items=items,
        tokens=tokens,
        energy_kwh=energy_kwh,
        start=start,
        stop=stop,
        codecarbon_j=codecarbon_j,
        study_code_commit=row.get("tags.mlflow.source.git.commit", "").strip() or None,
    )


# --------------------------------------------------------------------------- the record


def provenance(files: list[str], commit: str | None, lines: list[SourceLine] | None = None) -> Provenance:
    return Provenance(
        source=SOURCE,
        citation=CITATION,
        repository=REPOSITORY,
        files=files,
        commit=commit,
        note=f"{NOT_REDISTRIBUTED} {METHOD_NOTE}",
        study=IMPORTER,
        lines=lines or [],
    )


def _release_path(path: Path) -> str:
    return f"results/{path.name}"


def truth_uncertainty(energy_j: float, step_j: float, mean_w: float) -> TruthUncertainty:
    """The display step (the larger of the two readings') plus the stop photo's 8 s tail at the run's mean power."""
    tail_j = STOP_PHOTO_LAG_S * mean_w
    return TruthUncertainty(
        bound_pct=100 * (step_j + tail_j) / energy_j,
        covers_meter_accuracy=False,
        basis=(
            f"display step {step_j:.0f} J (the difference of two readings of a cumulative kWh display is within one "
            f"step of the energy between the photos) + the stop photo's {STOP_PHOTO_LAG_S:g} s after CodeCarbon's "
            f"stop at the run's mean power ({tail_j:.0f} J; save_webcam_image(seconds=8) in the study's code); "
            "the meter's accuracy class is not stated in the release, so it is not included"
        ),
    )


def build_record(c: Candidate, site: str, repeat: int, profile: HardwareProfile, commit: str | None) -> RunRecord:
    energy_j = float(c.energy_kwh * J_PER_KWH)  # exact: a whole number of display steps
    mean_w = energy_j / c.duration_s
    readings = c.export.readings
    step_j = float(max(display_step_kwh(c.start.value_kwh), display_step_kwh(c.stop.value_kwh)) * J_PER_KWH)
    warnings = [
        f"{METER_ID}: a kWh display in {step_j / 3600:g} Wh steps read from two webcam photos by OCR; the "
        f"difference of two readings is within +-{step_j:.0f} J of the energy between the photos, "
        f"+-{100 * step_j / energy_j:.1f}% of this run's {energy_j:.0f} J; the meter's accuracy class "
        "is not stated in the release",
        f"{METER_ID}: the start photo is taken as CodeCarbon starts and the stop photo about "
        f"{STOP_PHOTO_LAG_S:g} s after it stops (the study's save_webcam_image keeps the webcam open for "
        f"{STOP_PHOTO_LAG_S:g} s and writes the last frame), so the metered energy includes that tail; "
        "duration_s is CodeCarbon's window",
        "started_at and ended_at are the MLflow run's bounds (model loading and photos included); the measured "
        "window (duration_s) lies inside them",
    ]
    for edge, reading in (("start", c.start), ("stop", c.stop)):
        if reading.manual:
            warnings.append(
                f"{METER_ID}: the {edge} reading was fixed by hand in the study (OCR read {reading.ocr!r}, "
                f"recorded {reading.value_kwh} kWh)"
            )
    if c.device == "cpu":
        warnings.append("run on the CPU; the idle GPU stayed in the machine and inside the wall reading")
    return RunRecord(
        run_id=f"{site}.{c.spec.id}.{c.study_run_id}",
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=c.spec,
        spec_hash=c.spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=DetectedHardware(
            gpus=[DetectedGpu(index=0, name=c.architecture)] if c.device == "gpu" else [],
            cpu_model=c.architecture if c.device == "cpu" else None,
        ),
        hardware_check=HardwareCheck(
            profile_id=profile.id,
            warnings=[f"not detected by joulebench: imported; the study logged the device as {c.architecture!r}"],
        ),
        # The study did not log its software environment beyond what the spec pins.
        environment=Environment(python="unknown", platform="unknown", joulebench=__version__),
        started_at=c.started_at,
        ended_at=c.ended_at,
        duration_s=c.duration_s,
        iterations=c.iterations,
        items=c.items,
        tokens=c.tokens,
        device_count=1 if c.device == "gpu" else 0,
        idle_window_s=0.0,
        energy=[
            BoundaryEnergy(
                boundary="node",
                meter_id=METER_ID,
                method="counter",
                # A cumulative display: its value changes one step at a time,
                # which at this run's mean power is every step / P seconds.
                update_period_s=step_j / mean_w,
                energy_j=energy_j,
                mean_power_w=mean_w,
                resolution_j=step_j,
                uncertainty=truth_uncertainty(energy_j, step_j, mean_w),
            )
        ],
        missing_boundaries=[
            MissingBoundary(boundary=b, reason="the study metered only the wall plug") for b in ("gpu", "cpu", "dram")
        ],
        live_estimates=[
            LiveEstimate(
                estimator_id="codecarbon",
                estimator_version="unknown",
                boundary="node",
                energy_j=c.codecarbon_j,
                mode=(
                    "recorded by the study, not run by joulebench: CodeCarbon's OfflineEmissionsTracker around the "
                    "measured window, its total (CPU + GPU + RAM); the version is not stated by the study"
                ),
                raw={
                    "metrics.power_draw_total": c.codecarbon_j,
                    "unit": "J (the study logged CodeCarbon's energy_consumed in kWh times 3.6e6)",
                    "metrics.running_time_total": c.duration_s,
                    "study_run_id": c.study_run_id,
                    "study_code_commit": c.study_code_commit,
                    "export": _release_path(c.export.path),
                },
            )
        ],
        warnings=warnings,
        provenance=provenance(
            [_release_path(c.export.path), _release_path(readings.path)],
            commit,
            lines=[
                SourceLine(file=_release_path(c.export.path), line=c.line, what=f"the MLflow row of run {c.study_run_id}"),
                SourceLine(file=_release_path(readings.path), line=c.start.line, what="the start photo's reading"),
                SourceLine(file=_release_path(readings.path), line=c.stop.line, what="the stop photo's reading"),
            ],
        ),
    )


# --------------------------------------------------------------------------- the import


def checkout_commit(folder: Path) -> str | None:
    """The commit of the study's git checkout that holds `folder`, if it is one."""
    return base_checkout_commit(folder, "ai-energy-validation")


def import_study(
    source: Path,
    site: str,
    out_dir: Path,
    commit: str | None = None,
    replace: bool = False,
    profile: HardwareProfile | None = None,
) -> ImportOutcome:
    if not re.match(ID_PATTERN, site):
        raise InputError(f"site {site!r}: expected lowercase letters, digits, '.', '_' or '-'")
    folder, export_paths = find_exports(Path(source))
    if profile is None:
        profile = catalog.get_profile(PROFILE_ID)
    commit = commit or checkout_commit(folder.resolve())
    # Read and check every file before deciding anything, so bad input writes nothing.
    exports = [read_export(p) for p in export_paths]

    files_read = [_release_path(e.path) for e in exports] + [
        _release_path(e.readings.path) for e in exports if e.readings
    ]
    report = ImportReport(
        importer=IMPORTER,
        site=site,
        source_dir="results",
        provenance=provenance(sorted(files_read), commit),
        files_read=sorted(files_read),
    )
    candidates: list[Candidate] = []
    seen = RowRegistry()
    for export in exports:
        for line, row in export.rows:
            report.runs_seen += 1
            run_id = row.get("run_id", "").strip() or f"(line {line})"
            try:
                # The same run in two rows: counted once when the values agree, an error when not.
                values = {k: v.strip() for k, v in row.items() if v.strip()}
                seen.check(run_id, _release_path(export.path), line, values)
                candidates.append(judge_run(export, line, row, profile))
            except Skip as skip:
                report.skipped.append(
                    SkippedRun(
                        file=_release_path(export.path), run_id=run_id, reason=skip.reason, detail=skip.detail,
                        line=line,
                    )
                )
            except ValidationError as exc:  # a value the schema refuses (a negative count, ...)
                raise InputError(format_validation_error(f"{export.path}: run {run_id}", exc)) from None
        if export.readings is not None:
            orphans = export.readings.run_ids() - {row.get("run_id", "").strip() for _, row in export.rows}
            if orphans:
                report.warnings.append(
                    f"{export.readings.path.name}: photos of {len(orphans)} run(s) that are not in {export.path.name}"
                )
            values = {r.value_kwh for r in export.readings.frames.values() if r.value_kwh is not None}
            if len(export.readings.frames) > 2 and len(values) == 1:
                report.warnings.append(
                    f"{export.readings.path.name}: every reading is {values.pop()} kWh; the display was not "
                    "read in this session"
                )
    orphan_files = sorted(
        p.name
        for p in folder.glob(f"*{READINGS_SUFFIX}")
        if not p.with_name(p.name[: -len(READINGS_SUFFIX)] + ".csv").is_file()
    )
    for name in orphan_files:
        report.warnings.append(f"{name}: no MLflow export with the same stem in this folder; not read")

    # Repeats number the runs of one workload id in the order they ran.
    records = []
    by_workload: dict[str, int] = {}
    for c in sorted(candidates, key=lambda c: (c.spec.id, c.started_at, c.study_run_id)):
        by_workload[c.spec.id] = by_workload.get(c.spec.id, 0) + 1
        try:
            records.append(build_record(c, site, by_workload[c.spec.id], profile, commit))
        except ValidationError as exc:
            raise InputError(format_validation_error(f"{c.export.path}: run {c.study_run_id}", exc)) from None
    result = write_import(records, report, Path(out_dir), replace=replace)
    return ImportOutcome(report=report, result=result, out_dir=Path(out_dir), source=folder)

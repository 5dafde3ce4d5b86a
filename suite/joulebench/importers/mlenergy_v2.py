"""Import the ML.ENERGY leaderboard v2: GPU energy of LLM serving (vLLM) on A100 and H100, per configuration.

The release (github.com/ml-energy/leaderboard-v2, Apache-2.0) holds, under
data/llm_text_generation/{chat,code}/ and data/mllm_text_generation/chat/,
a models.json (model id -> nickname, url, params in whole billions) and one JSON
file per configuration: <GPU>/<org>/<model>/bs<max_num_seqs>+tp<TP>+pp<PP>.json
with "Model", "GPU", "TP", "PP", "Energy/req (J)", "Avg TPOT (s)",
"Token tput (tok/s)", "Avg Output Tokens", "Avg BS (reqs)" and "Max BS (reqs)".
DIR is the root of a checkout (it must hold LICENSE). The diffusion and legacy
folders are not read.

How the study measured (docs/about.md and benchmark/*/scripts of the same
repository): vLLM 0.5.4 serving the model with TP GPUs per node on PP nodes
(AWS p4d.24xlarge: 8x A100-SXM4-40GB; p5.48xlarge: 8x H100 80GB HBM3), all
requests submitted at once with the batch capped at Max BS; Zeus reads the
NVML energy counter of every GPU; "Energy/req (J)" is the steady-state energy
of all TP x PP GPUs per output token times the mean output length.

These files are per-configuration averages, not measured windows. The run unit
this importer defines, and says in every record:

    one record = Max BS requests served at the configuration's measured averages
    energy_j   = Max BS x Energy/req            (GPU boundary, all TP x PP GPUs)
    tokens     = Max BS x Avg Output Tokens
    duration_s = tokens / Token tput            (what the throughput implies)
    concurrency = Avg BS                        (requests in flight: static estimators see it)

so the mean power (energy / duration) is the measured steady-state power. The
number of requests in the unit does not change any relative error (energy,
tokens and duration scale together); Max BS makes one iteration one batch.

Truth uncertainty: 5%, the per-board gain error of the NVML power sensor on
A100 and H100 (Yang et al., SC'24), taken as a bound on the sum over boards.

Runs in the leaderboard's H100 chat set with Max BS <= 512 and models of at
most 200 B parameters are the 74 configurations EcoLogits fitted its GPU energy
coefficients on (notes/ecologits.md): their records say so, for when EcoLogits
is scored (in-sample there).

ML.ENERGY's later leaderboard (github.com/ml-energy/leaderboard, "v3") is not
imported: the repository has no LICENSE file in any commit, only an "Apache 2.0"
label in its page footer (src/App.tsx), which is not a licence grant.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from joulebench import SUITE_VERSION, __version__
from joulebench.errors import InputError
from joulebench.files import format_validation_error
from joulebench.formats import (
    ID_PATTERN,
    AcceleratorSpec,
    BoundaryEnergy,
    DetectedGpu,
    DetectedHardware,
    Environment,
    HardwareCheck,
    HardwareProfile,
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
    checkout_commit,
    write_import,
)
from joulebench.importers.datasheets import accelerator_sheet

IMPORTER = "mlenergy-v2"
TRACK = "mlenergy-v2"
REPOSITORY = "https://github.com/ml-energy/leaderboard-v2"
SOURCE = "ML.ENERGY Leaderboard v2"
CITATION = (
    "J.-W. Chung et al. The ML.ENERGY Benchmark: Toward Automated Inference Energy Measurement and Optimization. "
    "NeurIPS 2025 Datasets and Benchmarks (arXiv:2505.06371); data: ML.ENERGY Leaderboard v2, "
    "github.com/ml-energy/leaderboard-v2."
)
LICENSE_FILE = "LICENSE"
# docs/about.md of the release, lines 74-76, quoted in SOURCE.md.
NON_COMMERCIAL_NOTE = "This leaderboard is a research preview intended for non-commercial use only."
TASKS = {
    "data/llm_text_generation/chat": ("chat", "LLM chat: ShareGPT prompts"),
    "data/llm_text_generation/code": ("code", "code generation: HumanEval+ prompts"),
    "data/mllm_text_generation/chat": ("mllm-chat", "multimodal chat: LLaVA-Instruct image + prompt pairs"),
}
FIELDS = (
    "Model", "GPU", "TP", "PP", "Energy/req (J)", "Avg TPOT (s)", "Token tput (tok/s)", "Avg Output Tokens",
    "Avg BS (reqs)", "Max BS (reqs)",
)  # fmt: skip
CONFIG_NAME = re.compile(r"^bs(\d+)\+tp(\d+)\+pp(\d+)\.json$")
# (NVML name in the files, AWS instance, GPUs per node), docs/about.md
INSTANCES = {
    "NVIDIA A100-SXM4-40GB": ("p4d.24xlarge", 8),
    "NVIDIA H100 80GB HBM3": ("p5.48xlarge", 8),
}
NVML_GAIN_ERROR_PCT = 5.0
NVML_UPDATE_PERIOD_S = 0.1  # the energy counter moves about every 100 ms (measured on an H200, design notes)
# The release does not date its runs. ended_at is the commit time of 4e4fca8d, the last commit
# that changed data/*_text_generation (2024-09-19T23:05:25-04:00): the runs took place before it.
DATA_COMMITTED_AT = datetime(2024, 9, 20, 3, 5, 25, tzinfo=timezone.utc)
# EcoLogits' fitting set (its methodology page): H100, batch size <= 512, models <= 200 B parameters.
ECOLOGITS_MAX_BS = 512
ECOLOGITS_MAX_PARAMS_B = 200


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


# --------------------------------------------------------------------------- reading


def _read_json(path: Path, shown: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"{shown}: not valid JSON: {exc}") from None


def _number(data: dict, key: str, shown: str, *, integer: bool = False) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{shown}: field {key!r}: expected a number, got {value!r}")
    if integer and value != int(value):
        raise InputError(f"{shown}: field {key!r}: expected a whole number, got {value!r}")
    if value <= 0:
        raise InputError(f"{shown}: field {key!r}: expected a positive number, got {value!r}")
    return float(value)


@dataclass
class Config:
    task: str
    task_label: str
    file: str
    model: str
    gpu: str
    tp: int
    pp: int
    max_num_seqs: int
    energy_per_req_j: float
    tpot_s: float
    token_tput: float
    avg_output_tokens: float
    avg_bs: float
    max_bs: int
    params_b: int | None

    @property
    def devices(self) -> int:
        return self.tp * self.pp


def read_config(path: Path, shown: str, task: str, label: str, models: dict) -> Config:
    data = _read_json(path, shown)
    if not isinstance(data, dict):
        raise InputError(f"{shown}: expected a JSON object with the fields {', '.join(FIELDS)}")
    missing = [k for k in FIELDS if k not in data]
    if missing:
        raise InputError(f"{shown}: field {missing[0]!r} is missing; expected the fields {', '.join(FIELDS)}")
    name = CONFIG_NAME.match(path.name)
    if not name:
        raise InputError(f"{shown}: expected a file named bs<N>+tp<N>+pp<N>.json")
    bs, tp_name, pp_name = (int(x) for x in name.groups())
    tp = int(_number(data, "TP", shown, integer=True))
    pp = int(_number(data, "PP", shown, integer=True))
    max_bs = int(_number(data, "Max BS (reqs)", shown, integer=True))
    if (tp, pp) != (tp_name, pp_name):
        raise InputError(f"{shown}: fields 'TP', 'PP': expected {tp_name} and {pp_name} as the file name says, got {tp} and {pp}")
    if max_bs != bs * pp:
        raise InputError(f"{shown}: field 'Max BS (reqs)': expected bs x PP = {bs * pp} (the file name's bs per "
                         f"pipeline stage), got {max_bs}")
    model = str(data["Model"]).strip()
    gpu = str(data["GPU"]).strip()
    entry = models.get(model)
    params = entry.get("params") if isinstance(entry, dict) else None
    if params is not None and (isinstance(params, bool) or not isinstance(params, (int, float)) or params <= 0):
        raise InputError(f"{Path(shown).parent.parent.parent.as_posix()}/models.json: model {model!r}: field 'params': "
                         f"expected a positive number of billions, got {params!r}")
    return Config(
        task=task, task_label=label, file=shown, model=model, gpu=gpu, tp=tp, pp=pp, max_num_seqs=bs,
        energy_per_req_j=_number(data, "Energy/req (J)", shown), tpot_s=_number(data, "Avg TPOT (s)", shown),
        token_tput=_number(data, "Token tput (tok/s)", shown),
        avg_output_tokens=_number(data, "Avg Output Tokens", shown), avg_bs=_number(data, "Avg BS (reqs)", shown),
        max_bs=max_bs, params_b=int(params) if params is not None else None,
    )  # fmt: skip


# --------------------------------------------------------------------------- profiles and specs


def build_profile(gpu: str, nodes: int) -> HardwareProfile:
    instance, per_node = INSTANCES[gpu]
    sheet = accelerator_sheet(gpu)
    if sheet is None:
        raise Skip("unknown_gpu", f"no datasheet for {gpu!r}")
    short = _slug(gpu.removeprefix("NVIDIA "))
    return HardwareProfile(
        id=f"mlenergy-v2-{instance.split('.')[0]}-{short}" + (f"-{nodes}nodes" if nodes > 1 else ""),
        name=f"AWS {instance} ({per_node}x {gpu})" + (f", {nodes} nodes" if nodes > 1 else ""),
        kind="gpu",
        accelerator=AcceleratorSpec(
            vendor="nvidia", model=gpu, match=[gpu], count=per_node, memory_gib=sheet.memory_gib,
            tdp_w=sheet.tdp_w, peak_tflops=sheet.peak_tflops,
        ),  # fmt: skip
        cpu=None,  # the release names the instance type, not its host CPU
        memory=None,
        node_count=nodes,
        sources=[f"{REPOSITORY} docs/about.md (GPU and AWS instance type)", sheet.source],
    )


def build_spec(c: Config) -> WorkloadSpec:
    gpu_short = "a100" if "A100" in c.gpu else "h100" if "H100" in c.gpu else _slug(c.gpu)
    return WorkloadSpec(
        id=_slug(f"{c.model.split('/')[-1]}-{c.task}-tp{c.tp}pp{c.pp}-bs{c.max_bs}-{gpu_short}"),
        track=TRACK,
        domain="language",
        task="generate",
        description=(
            f"ML.ENERGY v2 {c.task_label}: {c.model} served by vLLM 0.5.4 on {c.devices} GPU(s) (tensor parallel "
            f"{c.tp} x pipeline parallel {c.pp}), at most {c.max_bs} requests at once. One iteration is one batch of "
            f"{c.max_bs} requests; new_tokens is the configuration's mean output length ({c.avg_output_tokens:.1f}), "
            "rounded. Imported: prompt lengths are not published (seq_len unknown); dtype bfloat16 is a placeholder "
            "the schema requires (the release does not state vLLM's dtype; bfloat16 and float16 have the same dense "
            "peak on A100 and H100); params is the study's figure rounded to whole billions (MoE: all experts); "
            "seed 0 and repeats 1 are placeholders."
        ),
        model=ModelConfig(
            library="external",
            architecture=_identifier(c.model.split("/")[-1]),
            config={"model": c.model, "serving": "vLLM 0.5.4", "tensor_parallel": c.tp, "pipeline_parallel": c.pp,
                    "max_num_seqs": c.max_num_seqs, "task": c.task},
        ),  # fmt: skip
        dtype="bfloat16",
        batch_size=c.max_bs,
        new_tokens=max(1, round(c.avg_output_tokens)),
        warmup_iterations=0,
        measured_iterations=1,
        repeats=1,
        seed=0,
        params=c.params_b * 10**9 if c.params_b is not None else None,
        flops_per_iteration=None,
        flops_method="not available: prompt lengths are not published",
    )


def in_ecologits_fit(c: Config) -> bool:
    return (
        c.task == "chat" and "H100" in c.gpu and c.max_bs <= ECOLOGITS_MAX_BS
        and c.params_b is not None and c.params_b <= ECOLOGITS_MAX_PARAMS_B
    )  # fmt: skip


# --------------------------------------------------------------------------- the record


def build_record(c: Config, site: str, repeat: int, profile: HardwareProfile, spec: WorkloadSpec,
                 commit: str | None, models_file: str) -> RunRecord:  # fmt: skip
    tokens_exact = c.max_bs * c.avg_output_tokens
    duration = tokens_exact / c.token_tput
    energy = c.max_bs * c.energy_per_req_j
    power = energy / duration
    ended = DATA_COMMITTED_AT
    naive = c.devices * profile.accelerator.tdp_w * c.avg_output_tokens * c.tpot_s
    warnings = [
        f"run unit defined by joulebench, not a measured window: {c.max_bs} requests (Max BS) at the configuration's "
        f"measured averages; energy = {c.max_bs} x Energy/req ({c.energy_per_req_j:.6g} J), tokens = {c.max_bs} x "
        f"{c.avg_output_tokens:.6g}, duration = tokens / {c.token_tput:.6g} tok/s; the mean power "
        f"({power:.1f} W for {c.devices} GPU(s)) is the study's steady-state power",
        f"concurrency {c.avg_bs:.2f} requests in flight (Avg BS): a TDP x latency estimate of one request "
        f"({c.devices} x {profile.accelerator.tdp_w:g} W x {c.avg_output_tokens:.0f} tokens x {c.tpot_s:.4g} s = "
        f"{naive:.0f} J) that ignores the batch is {naive / c.energy_per_req_j:.1f}x the measured {c.energy_per_req_j:.0f} J",
        "started_at and ended_at are not the run's time: the release does not date its configurations; ended_at is "
        "the commit time of the data (the runs took place before it) and started_at = ended_at - duration_s",
    ]
    if c.params_b is None:
        warnings.append(f"{c.model} has no entry in {models_file}: its parameter count is not stated")
    if in_ecologits_fit(c):
        warnings.append("in-sample for EcoLogits: one of the 74 H100 chat configurations (Max BS <= 512, <= 200 B "
                        "parameters) EcoLogits 0.11.x fitted its GPU energy and latency coefficients on")
    return RunRecord(
        run_id=_slug(f"{site}.{c.task}.{c.gpu.removeprefix('NVIDIA ')}.{c.model.split('/')[-1]}.bs{c.max_num_seqs}"
                     f"-tp{c.tp}-pp{c.pp}"),
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=DetectedHardware(gpus=[DetectedGpu(index=k, name=c.gpu) for k in range(c.devices)]),
        hardware_check=HardwareCheck(
            profile_id=profile.id,
            warnings=[f"not detected by joulebench: imported; the study's files name the GPU {c.gpu!r}"],
        ),
        environment=Environment(python="unknown", platform="unknown", joulebench=__version__),
        started_at=ended - timedelta(seconds=duration),
        ended_at=ended,
        duration_s=duration,
        iterations=1,
        items=c.max_bs,
        tokens=round(tokens_exact),
        device_count=c.devices,
        concurrency=c.avg_bs,
        idle_window_s=0.0,
        energy=[
            BoundaryEnergy(
                boundary="gpu",
                meter_id="zeus-nvml-energy",
                method="counter",
                update_period_s=NVML_UPDATE_PERIOD_S,
                energy_j=energy,
                mean_power_w=power,
                uncertainty=TruthUncertainty(
                    bound_pct=NVML_GAIN_ERROR_PCT,
                    covers_meter_accuracy=True,
                    basis=(
                        f"NVML's power sensor on A100 and H100 boards has a per-board gain error of up to about "
                        f"{NVML_GAIN_ERROR_PCT:g}% (Yang et al., SC'24), taken as a bound on the sum over the "
                        f"{c.devices} board(s); the steady-state average behind Energy/req adds no sampling edge"
                    ),
                ),
            )
        ],
        missing_boundaries=[
            MissingBoundary(boundary=b, reason="Zeus meters the GPUs only (NVML energy counters)")
            for b in ("cpu", "dram", "node")
        ],
        warnings=warnings,
        provenance=Provenance(
            source=SOURCE,
            citation=CITATION,
            repository=REPOSITORY,
            files=[c.file, models_file],
            commit=commit,
            note=(
                "GPU truth: Zeus (NVML energy counters) summed over the configuration's GPUs, per-configuration "
                "steady-state averages; one record is a run unit joulebench defines (Max BS requests at the measured "
                f"averages), not a measured window. The leaderboard's About page says: \"{NON_COMMERCIAL_NOTE}\""
            ),
            study=IMPORTER,
            license="Apache-2.0",
            notice=(
                "Data from the ML.ENERGY Leaderboard v2 (github.com/ml-energy/leaderboard-v2, Apache-2.0; its About "
                f"page: \"{NON_COMMERCIAL_NOTE}\"), converted by joulebench into run records."
            ),
            lines=[SourceLine(file=c.file, line=1, what="the configuration's averages"),
                   SourceLine(file=models_file, what=f"the parameter count of {c.model}")],
        ),
    )


# --------------------------------------------------------------------------- SOURCE.md


def source_markdown(commit: str | None, report: ImportReport) -> str:
    s = report.summary
    return f"""# ML.ENERGY Leaderboard v2: imported runs

**Licence: Apache-2.0** (the release's `LICENSE`, copied here verbatim). The
leaderboard's own About page (`docs/about.md`, lines 74-76, at the commit below) adds:

> This leaderboard is a research preview intended for non-commercial use only.
> Model weights were taken as is from the Hugging Face Hub if available and are subject to their licenses.

joulebench ships these records under the repository's Apache-2.0 licence and
quotes that sentence here and in every record's provenance.

- Paper: {CITATION}
- Repository: {REPOSITORY}
- Commit read: `{commit or "not given (pass --commit)"}`
- Files read: `LICENSE`, the `models.json` and the configuration files of
  `data/llm_text_generation/chat`, `data/llm_text_generation/code` and
  `data/mllm_text_generation/chat` ({len(report.files_read)} files; listed in `_import-{IMPORTER}.json`).

## What was changed

Nothing was re-measured or edited. The files are per-configuration averages, not
measured windows, so each configuration became one joulebench run record through
a run unit joulebench defines and every record states: **Max BS requests at the
configuration's measured averages** (energy = Max BS x Energy/req at the GPU
boundary, summed over all TP x PP GPUs; tokens = Max BS x Avg Output Tokens;
duration = tokens / Token tput; concurrency = Avg BS). The number of requests in
the unit changes no relative error.

- {s.get("configurations", 0)} configurations imported on {s.get("profiles", 0)} hardware profiles
  (AWS p4d.24xlarge with A100-SXM4-40GB, p5.48xlarge with H100 80GB HBM3; one and two nodes).
- Truth uncertainty: 5% (NVML's per-board gain error, Yang et al. SC'24).
- A TDP x latency estimate of one request that ignores the batch overshoots by the
  batch times TDP's margin over the real power: median {s.get("naive_per_request_over_measured", {}).get("median", "?")}x
  the measured energy per request, at a median of {s.get("naive_per_request_over_measured", {}).get("median_avg_bs", "?")}
  requests in flight (each record's warnings give its own factor).
- {s.get("ecologits_in_sample", 0)} records are the H100 chat configurations EcoLogits 0.11.x fitted its
  coefficients on; they say so ("in-sample for EcoLogits").
- The diffusion and legacy folders were not imported.

## Why not ML.ENERGY v3

`github.com/ml-energy/leaderboard` (the v3 leaderboard) has no LICENSE file in any
commit; the only statement is an "Apache 2.0" label in its page footer
(`src/App.tsx`), which is not a licence grant. Its data is left out until the
repository states a licence.
"""


# --------------------------------------------------------------------------- the import


def import_study(source: Path, site: str, out_dir: Path, commit: str | None = None, replace: bool = False) -> ImportOutcome:
    if not re.match(ID_PATTERN, site):
        raise InputError(f"site {site!r}: expected lowercase letters, digits, '.', '_' or '-'")
    root = Path(source)
    license_path = root / LICENSE_FILE
    if not root.is_dir() or not license_path.is_file():
        raise InputError(f"{root}: no {LICENSE_FILE}; expected the root of a checkout of {REPOSITORY} "
                         "(its Apache-2.0 licence travels with the imported records)")
    license_text = license_path.read_bytes()
    commit = commit or checkout_commit(root, "leaderboard-v2")
    if b"Apache License" not in license_text:
        raise InputError(f"{LICENSE_FILE}: expected the Apache License text of the release")

    configs: list[Config] = []
    files_read = [LICENSE_FILE]
    report = ImportReport(importer=IMPORTER, site=site, source_dir=".",
                          provenance=Provenance(source=SOURCE, citation=CITATION, repository=REPOSITORY, commit=commit,
                                                study=IMPORTER, license="Apache-2.0"))  # fmt: skip
    seen = RowRegistry()
    for folder, (task, label) in TASKS.items():
        models_file = f"{folder}/models.json"
        if not (root / models_file).is_file():
            raise InputError(f"{models_file}: not found under {root}; expected the release's data folder")
        models = _read_json(root / models_file, models_file)
        if not isinstance(models, dict):
            raise InputError(f"{models_file}: expected a JSON object of model id -> {{url, nickname, params}}")
        files_read.append(models_file)
        for path in sorted((root / folder).glob("*/*/*/*.json")):
            shown = path.relative_to(root).as_posix()
            report.runs_seen += 1
            try:
                config = read_config(path, shown, task, label, models)
                if config.gpu not in INSTANCES:
                    raise Skip("unknown_gpu", f"GPU {config.gpu!r} is neither of the two the study ran on")
                seen.check(f"{task}/{config.gpu}/{config.model}/bs{config.max_num_seqs}+tp{config.tp}+pp{config.pp}",
                           shown, None, {k: v for k, v in config.__dict__.items() if k != "file"})
                files_read.append(shown)
                configs.append(config)
            except Skip as skip:
                report.skipped.append(SkippedRun(file=shown, run_id=shown, reason=skip.reason, detail=skip.detail))

    profiles: dict[tuple[str, int], HardwareProfile] = {}
    records = []
    repeats: dict[str, int] = {}
    for c in sorted(configs, key=lambda c: c.file):
        try:
            key = (c.gpu, c.pp)
            if key not in profiles:
                profiles[key] = build_profile(c.gpu, c.pp)
            spec = build_spec(c)
            repeats[spec.id] = repeats.get(spec.id, 0) + 1
            models_file = f"{'/'.join(c.file.split('/')[:3])}/models.json"
            records.append(build_record(c, site, repeats[spec.id], profiles[key], spec, commit, models_file))
        except ValidationError as exc:
            raise InputError(format_validation_error(c.file, exc)) from None

    ratios = sorted(c.devices * profiles[(c.gpu, c.pp)].accelerator.tdp_w * c.avg_output_tokens * c.tpot_s
                    / c.energy_per_req_j for c in configs)  # fmt: skip
    report.files_read = files_read
    report.summary = {
        "configurations": len(records),
        "profiles": len(profiles),
        "run_unit": "Max BS requests at the configuration's measured averages",
        "naive_per_request_over_measured": {
            "what": "devices x TDP x (Avg Output Tokens x Avg TPOT) / Energy/req: one request's TDP x latency "
                    "estimate, ignoring the batch, over the measured energy per request",
            "median": round(statistics.median(ratios), 1) if ratios else None,
            "min": round(ratios[0], 1) if ratios else None,
            "max": round(ratios[-1], 1) if ratios else None,
            "median_avg_bs": round(statistics.median(c.avg_bs for c in configs), 1) if configs else None,
        },
        "ecologits_in_sample": sum(in_ecologits_fit(c) for c in configs),
    }
    extra = {"LICENSE": license_text, "SOURCE.md": source_markdown(commit, report)}
    result = write_import(records, report, Path(out_dir), extra_files=extra, replace=replace)
    return ImportOutcome(report=report, result=result, out_dir=Path(out_dir), source=root)

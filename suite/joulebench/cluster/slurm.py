"""Slurm as plain text in and out: launch scripts, the scheduler block, sstat/sacct, the energy plugin, collect.

Everything here is a pure function of its inputs except `run_slurm`, the one
place a Slurm command is executed; callers pass it (or a stand-in) in.

Slurm's energy accounting (`sstat`/`sacct` ConsumedEnergy) is an *estimate*
joulebench scores, never truth: it covers what the cluster's
AcctGatherEnergyType plugin reads (the RAPL plugin: CPU package + DRAM; IPMI
and vendor plugins: the node as the BMC sees it; the GPU plugin: AMD GPUs
only, nothing on NVIDIA), at whole joules, and on a node shared by several
jobs it charges each of them the whole node's energy. joulebench launches
therefore always ask for whole nodes (--exclusive).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from joulebench.errors import InputError, JoulebenchError
from joulebench.formats import (
    Estimate,
    HardwareProfile,
    LaunchJob,
    LaunchManifest,
    LaunchTask,
    RunRecord,
    SchedulerInfo,
    SlurmSettings,
    TimeLimitRule,
    WorkloadSpec,
    make_run_id,
)

Runner = Callable[[Sequence[str]], str]

# The estimator id `slurm collect` files its estimates under: Slurm's step energy
# (sacct), apportioned to a window by time. Not a registered estimator: it exists
# only as estimates files.
SACCT_ESTIMATOR_ID = "slurm-sacct"


class SlurmCommandError(JoulebenchError):
    """A Slurm command is missing or failed; its own message is kept."""


def run_slurm(argv: Sequence[str], timeout_s: float = 60.0, environ: Mapping[str, str] | None = None) -> str:
    """Run a Slurm command and return its standard output."""
    env = dict(os.environ if environ is None else environ)
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, env=env)
    except FileNotFoundError:
        raise SlurmCommandError(f"{argv[0]} is not on PATH (not a Slurm cluster, or Slurm's client commands "
                                "are not installed here)") from None
    except subprocess.TimeoutExpired:
        raise SlurmCommandError(f"{' '.join(argv)} did not answer within {timeout_s:.0f} s") from None
    if result.returncode != 0:
        raise SlurmCommandError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def parse_version(text: str) -> str | None:
    """'slurm-wlm 22.05.8' or 'slurm 23.11.4' -> the version number."""
    match = re.search(r"\b(\d+\.\d+(?:\.\d+)?)\b", text)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- the energy plugin


@dataclass(frozen=True)
class EnergyPlugin:
    """What a cluster's AcctGatherEnergyType measures, as a joulebench boundary."""

    name: str  # as configured, e.g. "acct_gather_energy/rapl"
    boundary: str | None  # the boundary its numbers are compared with; None: no energy at all
    includes_dram: bool  # rapl: Slurm adds DRAM to the package energy
    note: str


_PLUGINS = {
    "rapl": ("cpu", True, "Intel RAPL MSRs read by slurmd: CPU package + DRAM energy of each node"),
    "ipmi": ("node", False, "the node's power from its BMC (IPMI/DCMI), sampled every EnergyIPMIFrequency"),
    "xcc": ("node", False, "the node's energy from a Lenovo XClarity Controller"),
    "pm_counters": ("node", False, "HPE Cray pm_counters: the node's energy"),
    "ibmaem": ("node", False, "IBM Active Energy Manager: the node's energy"),
    "gpu": ("gpu", False, "GPU energy from Slurm's GPU plugin (AMD through RSMI; NVIDIA reports none)"),
}


def energy_plugin(configured: str | None) -> EnergyPlugin:
    """The plugin behind an AcctGatherEnergyType value ("acct_gather_energy/rapl", "none", "(null)")."""
    name = (configured or "").strip()
    short = name.rsplit("/", 1)[-1].lower()
    if short in ("", "none", "(null)"):
        return EnergyPlugin(name or "none", None, False, "AcctGatherEnergyType is none: the cluster gathers no energy")
    if short not in _PLUGINS:
        return EnergyPlugin(name, None, False, f"unknown energy plugin {name!r}: joulebench does not know its boundary")
    boundary, dram, note = _PLUGINS[short]
    return EnergyPlugin(name, boundary, dram, note)


def parse_scontrol_config(text: str) -> dict[str, str]:
    """`scontrol show config` ("Key = Value" lines) as a dict."""
    config = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and " " not in key.strip():
            config[key.strip()] = value.strip()
    return config


def read_energy_plugin(run: Runner = run_slurm) -> EnergyPlugin:
    return energy_plugin(parse_scontrol_config(run(["scontrol", "show", "config"])).get("AcctGatherEnergyType"))


def dram_counted_in_cpu_claim(plugin: EnergyPlugin, has_dram_domain: bool) -> bool:
    """Whether the plugin's cpu number includes DRAM that a cpu truth would not (then it cannot be scored as cpu)."""
    return plugin.includes_dram and has_dram_domain


# --------------------------------------------------------------------------- the scheduler block


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_scontrol_record(text: str) -> dict[str, str]:
    """`scontrol show job ID` / `show node NAME` ("Key=Value" pairs, several per line) as a dict."""
    fields = {}
    for token in re.findall(r"(\w[\w/:]*)=(\S*)", text):
        fields.setdefault(token[0], token[1])
    return fields


def scheduler_from_env(environ: Mapping[str, str], run: Runner | None = None) -> SchedulerInfo | None:
    """The Slurm ids of the job this process runs in, or None outside Slurm.

    From the SLURM_* variables Slurm sets in every job; with `run`, also
    whether the allocation is exclusive and which energy plugin the cluster
    uses (from scontrol). What a command cannot tell is left unset.
    """
    job_id = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID")
    if not job_id:
        return None
    exclusive = partition = plugin = None
    if run is not None:
        try:
            job = parse_scontrol_record(run(["scontrol", "show", "job", job_id]))
            # --exclusive shows as OverSubscribe=NO; a shared allocation as OK, USER or MCS.
            exclusive = job["OverSubscribe"] == "NO" if "OverSubscribe" in job else None
            partition = job.get("Partition")
        except SlurmCommandError:
            pass
        try:
            plugin = read_energy_plugin(run).name
        except SlurmCommandError:
            pass
    return SchedulerInfo(
        kind="slurm",
        cluster=environ.get("SLURM_CLUSTER_NAME"),
        job_id=job_id,
        array_job_id=environ.get("SLURM_ARRAY_JOB_ID"),
        array_task_id=_int_or_none(environ.get("SLURM_ARRAY_TASK_ID")),
        step_id=environ.get("SLURM_STEP_ID") or environ.get("SLURM_STEPID"),
        nodelist=environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST"),
        partition=partition or environ.get("SLURM_JOB_PARTITION"),
        exclusive=exclusive,
        restart_count=_int_or_none(environ.get("SLURM_RESTART_COUNT")) or 0,
        acct_gather_energy=plugin,
    )


def current_step(environ: Mapping[str, str]) -> str | None:
    """"JOB.STEP" of the step this process runs in (the batch step when not under srun)."""
    job_id = environ.get("SLURM_JOB_ID") or environ.get("SLURM_JOBID")
    if not job_id:
        return None
    step = environ.get("SLURM_STEP_ID") or environ.get("SLURM_STEPID") or "batch"
    return f"{job_id}.{step}"


# --------------------------------------------------------------------------- sstat and sacct


def sstat_argv(job_step: str) -> list[str]:
    return ["sstat", "--noheader", "--parsable2", f"--jobs={job_step}", "--format=JobID,ConsumedEnergyRaw"]


def parse_sstat_energy(text: str, job_step: str) -> int | None:
    """Joules the step has consumed so far (summed over its nodes), or None when Slurm reports none."""
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0] == job_step:
            value = parts[1].strip()
            if value.isdigit():
                return int(value)
            return None
    return None


SACCT_FIELDS = ("JobID", "JobIDRaw", "State", "Start", "End", "ElapsedRaw", "ConsumedEnergyRaw", "NodeList")
# Times as seconds since the epoch: Slurm prints local time without a zone otherwise.
SACCT_ENVIRONMENT = {"SLURM_TIME_FORMAT": "%s"}


def sacct_argv(job_ids: Iterable[str]) -> list[str]:
    """Every attempt (--duplicates: a requeued job's earlier runs too) of every step of these jobs."""
    return ["sacct", "--noheader", "--parsable2", "--duplicates", f"--format={','.join(SACCT_FIELDS)}",
            f"--jobs={','.join(sorted(set(job_ids)))}"]


@dataclass(frozen=True)
class SacctStep:
    job_id: str  # as sacct prints it: "15_2.0" for step 0 of array task 2
    job_id_raw: str  # the unique job id and step: "17.0"
    state: str
    start: datetime | None
    end: datetime | None
    elapsed_s: int
    consumed_energy_j: int | None
    nodelist: str

    def contains(self, start: datetime, end: datetime, slack_s: float = 1.0) -> bool:
        """Whether a window lies inside this step (Slurm's times are whole seconds)."""
        if self.start is None or self.end is None:
            return False
        return (self.start.timestamp() - slack_s <= start.timestamp()
                and end.timestamp() <= self.end.timestamp() + slack_s)


def _sacct_time(value: str) -> datetime | None:
    value = value.strip()
    if value in ("", "Unknown", "None"):
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    return datetime.fromisoformat(value).astimezone(timezone.utc)  # local time of the machine reading it


def parse_sacct(text: str, source: str = "sacct") -> list[SacctStep]:
    """`sacct --parsable2` output with the SACCT_FIELDS columns, in that order."""
    steps = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != len(SACCT_FIELDS):
            raise InputError(f"{source}: line {number}: expected {len(SACCT_FIELDS)} fields "
                             f"({'|'.join(SACCT_FIELDS)}), got {len(parts)}: {line!r}")
        job_id, raw, state, start, end, elapsed, energy, nodes = parts
        try:
            steps.append(SacctStep(
                job_id=job_id, job_id_raw=raw, state=state.split()[0] if state else "",
                start=_sacct_time(start), end=_sacct_time(end),
                elapsed_s=int(elapsed or 0),
                consumed_energy_j=int(energy) if energy.strip().isdigit() else None,
                nodelist=nodes,
            ))
        except ValueError as exc:
            raise InputError(f"{source}: line {number}: {exc}: {line!r}") from None
    return steps


# --------------------------------------------------------------------------- launch scripts


def task_time_limit_s(spec: WorkloadSpec, rule: TimeLimitRule, repeats: int | None, idle_s: float) -> tuple[float, int]:
    """(the bracket before the safety factor, the limit in whole minutes as seconds) for one workload."""
    window = spec.target_window_s if spec.target_window_s is not None else rule.unpinned_window_s
    iteration = window / spec.measured_iterations
    bracket = (rule.startup_s + rule.build_s + idle_s + spec.warmup_iterations * iteration
               + (repeats or spec.repeats) * window)
    limit = 60 * math.ceil((rule.safety_factor * bracket + rule.margin_s) / 60)
    return bracket, limit


def run_args(track: str, profile: str, site: str, out_dir: Path, repeats: int | None, idle_s: float,
             live_estimators: Sequence[str] = (), meters: str | None = None) -> list[str]:
    args = ["run", "--track", track, "--profile", profile, "--site", site, "--out", str(out_dir)]
    if repeats:
        args += ["--repeats", str(repeats)]
    args += ["--idle-seconds", f"{idle_s:g}"]
    for estimator in live_estimators:
        args += ["--live-estimator", estimator]
    if meters:
        args += ["--meters", meters]
    return args


def _check_profile_fits(specs: Sequence[WorkloadSpec], profile: HardwareProfile) -> None:
    """A node of the profile must hold every rank of a task that runs on GPUs."""
    for spec in specs:
        layout = spec.parallel
        if layout is None or layout.backend != "nccl":
            continue
        gpus = profile.accelerator.count if profile.accelerator else 0
        if layout.ranks_per_node > gpus:
            raise InputError(f"workload {spec.id} runs {layout.ranks_per_node} GPU rank(s) per node, and profile "
                             f"{profile.id} declares {gpus} GPU(s) per node: give the profile of the whole node")


def plan_launch(
    *,
    launch_id: str,
    created_at: datetime,
    joulebench_version: str,
    specs: Sequence[WorkloadSpec],
    profile: HardwareProfile,
    site: str,
    out_dir: Path,
    repeats: int | None = None,
    idle_s: float = 3.0,
    live_estimators: Sequence[str] = (),
    meters: str | None = None,
    slurm: SlurmSettings | None = None,
    rule: TimeLimitRule | None = None,
) -> LaunchManifest:
    """The manifest of a launch: one job array per node count, one workload per array task."""
    if not specs:
        raise InputError("no workloads to launch")
    out_dir = Path(out_dir)
    if not out_dir.is_absolute():
        raise InputError(f"--out {out_dir}: expected an absolute path (the jobs run in another working directory)")
    slurm = slurm or SlurmSettings()
    if slurm.gpus_per_node is None and profile.accelerator is not None:
        slurm = slurm.model_copy(update={"gpus_per_node": profile.accelerator.count})
    rule = rule or TimeLimitRule()
    track = specs[0].track
    _check_profile_fits(specs, profile)
    by_nodes: dict[int, list[WorkloadSpec]] = {}
    for spec in specs:
        by_nodes.setdefault(spec.node_count, []).append(spec)
    jobs = []
    for nodes, group in sorted(by_nodes.items()):
        tasks = []
        for index, spec in enumerate(group):
            bracket, limit = task_time_limit_s(spec, rule, repeats, idle_s)
            tasks.append(LaunchTask(
                index=index, workload=spec.id, spec_hash=spec.spec_hash, nodes=nodes,
                ranks_per_node=spec.parallel.ranks_per_node if spec.parallel else 1,
                estimated_s=round(bracket, 2), time_limit_s=limit,
                run_ids=[make_run_id(site, spec, r) for r in range(1, (repeats or spec.repeats) + 1)],
            ))
        limit = 60 * slurm.time_limit_override_min if slurm.time_limit_override_min else max(t.time_limit_s for t in tasks)
        jobs.append(LaunchJob(
            script=f"{track}-{nodes}node.sbatch",
            unpinned_windows=[s.id for s in group if s.target_window_s is None],
            nodes=nodes,
            distributed=any(s.parallel is not None for s in group),
            time_limit_s=limit,
            tasks=tasks,
        ))
    return LaunchManifest(
        launch_id=launch_id,
        created_at=created_at,
        joulebench_version=joulebench_version,
        track=track,
        profile=profile.id,
        site=site,
        out_dir=str(out_dir),
        run_args=run_args(track, profile.id, site, out_dir, repeats, idle_s, live_estimators, meters),
        slurm=slurm,
        time_limit=rule,
        jobs=jobs,
    )


def _hms(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _command(text: str) -> str:
    """A command given as text (`python -m joulebench.cli`), each word quoted for the shell."""
    return " ".join(shlex.quote(word) for word in shlex.split(text))


def _continued(lines: Sequence[str], indent: str = "    ") -> str:
    """Lines of one command, each continued with a backslash, all after the first indented."""
    return (" \\\n" + indent).join(lines)


def _options(words: Sequence[str]) -> list[str]:
    """Arguments one option (with its value) per line."""
    lines: list[str] = []
    for word in words:
        if word.startswith("--") or not lines:
            lines.append(word)
        else:
            lines[-1] += " " + word
    return lines


def render_script(manifest: LaunchManifest, job: LaunchJob) -> str:
    """The sbatch script of one job of a launch: plain bash a site operator can read, and submit as is."""
    s = manifest.slurm
    rule = manifest.time_limit
    tasks = job.tasks
    longest = max(tasks, key=lambda t: t.time_limit_s)
    if s.time_limit_override_min:
        time_note = [f"# --time: {s.time_limit_override_min} min, as given with --time-limit."]
    else:
        time_note = [
            f"# --time: the longest task's limit ({longest.workload}): {rule.safety_factor:g} x (start-up "
            f"{rule.startup_s:g} s + build {rule.build_s:g} s",
            "# + idle + warm-up + repeats x the pinned window) + "
            f"{rule.margin_s:g} s, rounded up to whole minutes",
            "# (each task's own estimate is in manifest.json).",
        ]
        if job.unpinned_windows:
            time_note.append(f"# Specs that pin no window ({', '.join(job.unpinned_windows)}) count "
                             f"{rule.unpinned_window_s:g} s per window.")
    directives = [
        f"--job-name=jb-{manifest.track}",
        f"--array=0-{len(tasks) - 1}",
        f"--nodes={job.nodes}",
        "--ntasks-per-node=1",
        "--exclusive",
        "--requeue",
        f"--time={_hms(job.time_limit_s)}",
        f"--output=jb-{manifest.track}-%A_%a.out",
        "--open-mode=append",
    ]
    if s.gpus_per_node:
        directives.append(f"--gpus-per-node={s.gpus_per_node}")
    if s.partition:
        directives.append(f"--partition={s.partition}")
    if s.account:
        directives.append(f"--account={s.account}")
    lines = [
        "#!/bin/bash",
        f"# joulebench on Slurm: track {manifest.track}, profile {manifest.profile}, site {manifest.site};",
        f"# {len(tasks)} workload(s) on {job.nodes} node(s) each, one workload per array task.",
        "# Written by `joulebench launch slurm`; review it, then submit it as is: sbatch <this file>",
        "# (task logs go to the directory sbatch runs in; `joulebench launch submit` puts them beside it).",
        "#",
        "# --exclusive: whole nodes. Slurm charges every job on a shared node the whole node's",
        "# energy, and joulebench's node and CPU meters see every process on the node.",
        "# --requeue: a preempted or failed task runs again and resumes: windows already recorded",
        "# (OUT/SITE/RUN_ID.json, deterministic run ids) are skipped, the others are measured.",
        *time_note,
        *(f"#SBATCH {d}" for d in directives),
        "set -euo pipefail",
        "",
        "# One workload per array task, in this order.",
        f"WORKLOADS=({' '.join(t.workload for t in tasks)})",
        'WORKLOAD="${WORKLOADS[$SLURM_ARRAY_TASK_ID]}"',
    ]
    if job.distributed:
        lines.append(f"RANKS_PER_NODE=({' '.join(str(t.ranks_per_node) for t in tasks)})")
    if s.setup:
        lines += ["", "# Site set-up (--setup), verbatim.", *s.setup]
    if s.gpus_per_node:
        lines += ["", "# CUDA numbers GPUs as NVML does, so the meters and the ranks name the same boards.",
                  "export CUDA_DEVICE_ORDER=PCI_BUS_ID"]
    joulebench = [f"{_command(s.joulebench)} {shlex.quote(manifest.run_args[0])}",
                  *_options([*(shlex.quote(a) for a in manifest.run_args[1:]), "--only", '"$WORKLOAD"'])]
    lines.append("")
    if job.distributed:
        lines += [
            "# torchrun on every node; the rendezvous (c10d) runs on the first node, at the address",
            "# Slurm itself reaches it by. joulebench joins the launcher's ranks: one meter owner per node.",
            'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
            'HEAD_ADDR=$(scontrol show node "$HEAD_NODE" | grep -o "NodeAddr=[^ ]*" | cut -d= -f2)',
            "export TORCH_NCCL_ASYNC_ERROR_HANDLING=1",
            _continued([
                "srun --ntasks-per-node=1 --kill-on-bad-exit=1",
                _command(s.torchrun),
                '--nnodes="$SLURM_JOB_NUM_NODES"',
                '--nproc-per-node="${RANKS_PER_NODE[$SLURM_ARRAY_TASK_ID]}"',
                "--rdzv-backend=c10d",
                f'--rdzv-endpoint="$HEAD_ADDR:{s.rdzv_port}"',
                '--rdzv-id="$SLURM_JOB_ID"',
                "--no-python",
                *joulebench,
            ]),
        ]
    else:
        lines.append(_continued(["srun --ntasks=1", *joulebench]))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- collect


@dataclass(frozen=True)
class CollectResult:
    estimates: list[Estimate]
    notes: list[str]


def _window_step(record: RunRecord, candidates: Sequence[SacctStep]) -> SacctStep | None:
    inside = [s for s in candidates if s.contains(record.started_at, record.ended_at)]
    return inside[0] if len(inside) == 1 else None


def _claim(record: RunRecord, plugin: EnergyPlugin) -> tuple[str | None, str]:
    """The boundary a Slurm number for this record's window is scored at, or None and why not."""
    if plugin.boundary is None:
        return None, plugin.note
    if plugin.includes_dram:
        if record.truth_j("dram") is not None:
            return None, (f"{plugin.name} sums CPU package and DRAM, and this node has a DRAM domain: "
                          "there is no cpu+dram truth to compare it with")
        dram_missing = [m.reason for m in record.missing_boundaries if m.boundary == "dram"]
        if not any("no dram zone" in reason for reason in dram_missing):
            return None, (f"{plugin.name} sums CPU package and DRAM, and the record does not show that the "
                          "node has no DRAM domain")
    return plugin.boundary, ""


def collect(
    records: Sequence[RunRecord],
    steps: Sequence[SacctStep],
    slurm_version: str,
    manifests: Sequence[LaunchManifest] = (),
    plugin: EnergyPlugin | None = None,
) -> CollectResult:
    """Slurm's claim for each record's window, from sacct history: the step's mean power x the window's duration.

    A record is joined with the step it ran in through its scheduler block
    (job and step ids), or, for records without one, through a launch
    manifest (the array task that ran its workload, that job's workload
    step); of a requeued job's attempts, the one whose start and end contain
    the window. The estimate is ConsumedEnergyRaw x duration_s / ElapsedRaw:
    what a user gets by apportioning sacct's number to part of a job.
    Nothing is estimated where the join fails, the step has no energy, or
    the plugin's boundary cannot be compared with a metered one; each such
    record is named in the notes.
    """
    by_raw: dict[str, list[SacctStep]] = {}
    by_id: dict[str, list[SacctStep]] = {}
    for step in steps:
        by_raw.setdefault(step.job_id_raw, []).append(step)
        by_id.setdefault(step.job_id, []).append(step)
    via_manifest: dict[str, list[str]] = {}  # run id -> sacct JobIDs of the steps that may have run it
    for manifest in manifests:
        for job in manifest.jobs:
            if job.job_id is None:
                continue
            for task in job.tasks:
                for run_id in task.run_ids:
                    via_manifest.setdefault(run_id, []).append(f"{job.job_id}_{task.index}.{job.workload_step}")
    estimates: list[Estimate] = []
    notes: list[str] = []
    for record in records:
        if record.scheduler is not None and record.scheduler.step_id:
            candidates = by_raw.get(f"{record.scheduler.job_id}.{record.scheduler.step_id}", [])
        elif record.run_id in via_manifest:
            candidates = [s for job_id in via_manifest[record.run_id] for s in by_id.get(job_id, [])]
        else:
            notes.append(f"{record.run_id}: no scheduler block and no launch manifest names it; not joined")
            continue
        step = _window_step(record, candidates)
        if step is None:
            notes.append(f"{record.run_id}: {len(candidates)} sacct step(s) for it, none (or more than one) "
                         "containing its window; not joined")
            continue
        if step.consumed_energy_j is None or step.elapsed_s <= 0:
            notes.append(f"{record.run_id}: step {step.job_id} has no ConsumedEnergyRaw; no estimate")
            continue
        record_plugin = energy_plugin(record.scheduler.acct_gather_energy) if (
            record.scheduler and record.scheduler.acct_gather_energy) else plugin
        if record_plugin is None:
            notes.append(f"{record.run_id}: the cluster's energy plugin is unknown (give --energy-plugin)")
            continue
        boundary, why = _claim(record, record_plugin)
        if boundary is None:
            notes.append(f"{record.run_id}: {why}; no estimate")
            continue
        estimates.append(Estimate(
            estimator_id=SACCT_ESTIMATOR_ID,
            estimator_version=slurm_version,
            run_id=record.run_id,
            boundary=boundary,
            energy_j=step.consumed_energy_j * record.duration_s / step.elapsed_s,
        ))
    return CollectResult(estimates, notes)

"""One metered window over every rank of a torchrun job, written as one run record: the distributed runner.

`joulebench run` calls `run_distributed` in every rank when torchrun (or
`--nproc-per-node`, which starts torchrun's own launcher) started it. The
protocol:

1. The launcher's environment (cluster.torchrun.detect) must match each
   spec's layout. The default process group uses the layout's backend (NCCL
   on GPUs, gloo on CPU); a gloo side group carries every barrier and gather.
2. One meter owner per node, its local rank 0, opens the node's meters: NVML
   limited to exactly the GPUs its node's ranks use, RAPL, the site's external
   meters. No other rank opens a meter. Each owner also checks its node's
   hardware against the profile. Set-up failures on any rank are agreed on
   (`agree`): every rank stops, and global rank 0 alone says why.
3. Every rank builds its part of the workload (measure.parallel_models), warms
   up, then every owner measures idle power between two barriers.
4. Each window edge, on every rank: a device synchronise, a barrier on the
   gloo group, the times at its exit, then the owner reads its meters.
   Global rank 0 also runs the live estimators (opened from a factory, once
   per workload) around the window, and each owner a background trace.
5. Every owner's energy per boundary (measure.window.window_energy: the same
   fields as a single-process window, uncertainty included) and every rank's
   edge times are gathered on global rank 0, which sums the nodes per boundary
   (`combine_nodes`: a boundary is covered only where every node meters it),
   records the topology, the per-node energy, the edge skew and the
   scheduler's ids, and writes the record (joulebench.records). Global rank
   0 alone decides which repeats are pending (run ids are deterministic, so a
   requeued job resumes) and tells the others.

A rank that fails in the middle of a window (out of memory, a crashed peer)
is not agreed on: torchrun stops the node's other ranks, and under Slurm
`srun --kill-on-bad-exit=1` stops the other nodes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench.cluster import torchrun
from joulebench.errors import (
    HardwareMismatchError,
    InputError,
    JoulebenchError,
    NoMeterError,
    ReportedElsewhere,
)
from joulebench.formats import (
    BOUNDARIES,
    BoundaryEnergy,
    DetectedHardware,
    HardwareCheck,
    HardwareProfile,
    LiveEstimate,
    MissingBoundary,
    NodeEnergy,
    PowerTrace,
    RunRecord,
    SchedulerInfo,
    Topology,
    TruthUncertainty,
    WindowSync,
    WorkloadSpec,
)
from joulebench.measure.meter_set import MeterSet
from joulebench.measure.runner import RunObserver, pending_repeats
from joulebench.measure.window import (
    DEFAULT_IDLE_S,
    UNMETERED_WARNING,
    LiveTracker,
    RunContext,
    WindowEnergy,
    build_record,
    measure_idle,
    read_meters,
    window_energy,
)
from joulebench.records import write_record

# A weakest-part rule, as meters/nvml.py applies across GPUs: a sum is only as good as its parts.
WEAKEST_PART = "a boundary total over several nodes is only as good as its weakest part"


@dataclass
class DistributedRun:
    """What every rank of a distributed run is given: the same on every rank."""

    profile: HardwareProfile
    site: str
    out_dir: Path
    # This node's meters, discovered with the given environment (the owner's: exactly its node's GPUs visible).
    open_meters: Callable[[Mapping[str, str]], MeterSet]
    device: str = "cpu"  # "cpu", or "cuda": each rank then uses cuda:<its local rank>
    idle_s: float = DEFAULT_IDLE_S
    certified: bool = False
    repeats: int | None = None
    trace_period_s: float = 0.1
    # Opened on global rank 0 only, once per workload.
    open_live: Callable[[], Sequence[LiveTracker]] = lambda: ()
    # Read once, on global rank 0 (it may ask the scheduler).
    scheduler: Callable[[], SchedulerInfo | None] = lambda: None
    detect_hardware: Callable[[], DetectedHardware] | None = None  # None: measure.hardware.detect_hardware
    environ: Mapping[str, str] | None = None  # None: os.environ
    build: Callable[[WorkloadSpec, str], Any] | None = None  # None: measure.parallel_models.build_parallel_workload


def layout_matches(spec: WorkloadSpec, env: torchrun.DistributedEnv) -> bool:
    """Whether torchrun started the nodes x ranks per node the spec is pinned for."""
    layout = spec.parallel
    return layout is not None and (layout.nodes, layout.ranks_per_node) == (env.nodes, env.local_world_size)


def check_layouts(specs: Sequence[WorkloadSpec], env: torchrun.DistributedEnv) -> None:
    for spec in specs:
        layout = spec.parallel
        if layout is None:
            raise InputError(f"workload {spec.track}/{spec.id} runs as one process; torchrun started "
                             f"{env.world_size} ranks: run it without torchrun")
        if not layout_matches(spec, env):
            raise InputError(f"workload {spec.track}/{spec.id} is pinned for {layout.nodes} node(s) x "
                             f"{layout.ranks_per_node} rank(s); torchrun started {env.nodes} x {env.local_world_size}")
    backends = sorted({s.parallel.backend for s in specs})
    if len(backends) > 1:
        raise InputError(f"the workloads use different backends ({', '.join(backends)}); run them separately (--only)")


def rank_device(device: str, env: torchrun.DistributedEnv) -> str:
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        return f"cuda:{env.local_rank}"
    raise InputError(f"--device {device}: under torchrun each rank uses cuda:<its local rank>; give --device cuda or cpu")


# --------------------------------------------------------------------------- agreeing on failures


def agree(group, action: Callable[[], Any]) -> Any:
    """Run `action` on this rank; if it fails on any rank, every rank stops.

    Global rank 0 raises the failure (its own, or a summary naming the
    ranks), every other rank ReportedElsewhere with the same exit code, so
    one message is printed. An error that is not a JoulebenchError is a bug:
    the rank it happened on raises it as it is.
    """
    import torch.distributed as dist

    result, error, payload = None, None, None
    try:
        result = action()
    except Exception as exc:  # told to the other ranks before anything else happens
        error = exc
        payload = {"kind": type(exc).__name__, "exit_code": getattr(exc, "exit_code", 1), "message": str(exc),
                   "known": isinstance(exc, JoulebenchError)}
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, payload, group=group)
    failed = [(rank, p) for rank, p in enumerate(everyone) if p is not None]
    if not failed:
        return result
    rank = dist.get_rank()
    if error is not None and not isinstance(error, JoulebenchError):
        raise error
    if rank != 0:
        raise ReportedElsewhere(failed[0][1]["exit_code"])
    if error is not None and len(failed) == 1:
        raise error
    code = failed[0][1]["exit_code"]
    lines = [f"rank {r}: {p['message'] if p['known'] else p['kind'] + ': ' + p['message']}" for r, p in failed]
    raise _error_class(code)("\n".join(lines))


def _error_class(code: int) -> type[JoulebenchError]:
    return {2: InputError, 3: NoMeterError, 4: HardwareMismatchError}.get(code, JoulebenchError)


# --------------------------------------------------------------------------- summing nodes


def combine_nodes(nodes: Sequence[NodeEnergy], duration_s: float) -> tuple[list[BoundaryEnergy], list[MissingBoundary]]:
    """The job's energy per boundary: the sum over nodes where every node meters it; missing otherwise.

    The sum's method is "counter" only if every node's meter is a counter; its
    update period is the slowest node's; idle power and static energy are
    summed only where every node measured them; per-device energies are kept
    as "<node>/<device>"; its uncertainty is the nodes' bounds weighted by their
    energy (see sum_energy).
    """
    if not nodes:
        raise ValueError("no nodes to combine")
    names = [n.node for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"two nodes reported under one name: {names}")
    energy: list[BoundaryEnergy] = []
    missing: list[MissingBoundary] = []
    for boundary in BOUNDARIES:
        parts = {n.node: next((e for e in n.energy if e.boundary == boundary), None) for n in nodes}
        have = [name for name, e in parts.items() if e is not None]
        if len(have) == len(nodes):
            energy.append(sum_energy([parts[n] for n in names], names, duration_s))
            continue
        reasons = []
        for node in nodes:
            if parts[node.node] is None:
                own = "; ".join(m.reason for m in node.missing_boundaries if m.boundary == boundary)
                reasons.append(f"{node.node}: {own or 'no meter'}")
        if have:
            reason = f"metered on {', '.join(have)} but not on every node ({'; '.join(reasons)}): {WEAKEST_PART}"
        else:
            reason = "; ".join(reasons)
        missing.append(MissingBoundary(boundary=boundary, reason=reason))
    return energy, missing


def sum_energy(parts: Sequence[BoundaryEnergy], names: Sequence[str], duration_s: float) -> BoundaryEnergy:
    """One boundary's (or one cross-check's) energy summed over nodes, `names[i]` having measured `parts[i]`."""

    def total(attribute: str) -> float | None:
        values = [getattr(p, attribute) for p in parts]
        return None if any(v is None for v in values) else sum(values)

    meter_ids = sorted({p.meter_id for p in parts})
    joules = sum(p.energy_j for p in parts)
    static = total("static_energy_j")
    return BoundaryEnergy(
        boundary=parts[0].boundary,
        meter_id=meter_ids[0] if len(meter_ids) == 1 else "+".join(meter_ids),
        method="counter" if all(p.method == "counter" for p in parts) else "integrated",
        update_period_s=max(p.update_period_s for p in parts),
        energy_j=joules,
        mean_power_w=joules / duration_s,
        idle_power_w=total("idle_power_w"),
        static_energy_j=static,
        dynamic_energy_j=joules - static if static is not None else None,
        per_device_j={f"{name}/{device}": j for name, p in zip(names, parts) for device, j in p.per_device_j.items()},
        resolution_j=total("resolution_j"),
        uncertainty=_summed_uncertainty(parts, names),
    )


def _summed_uncertainty(parts: Sequence[BoundaryEnergy], names: Sequence[str]) -> TruthUncertainty | None:
    """Each node's bound at its limit, added: in percent of the sum, the nodes' bounds weighted by their energy."""
    if len(parts) == 1:
        return parts[0].uncertainty
    joules = sum(p.energy_j for p in parts)
    if joules <= 0 or any(p.uncertainty is None for p in parts):
        return None
    bound = sum(p.energy_j * p.uncertainty.bound_pct for p in parts) / joules
    each = "; ".join(f"{name}: {p.uncertainty.bound_pct:.2f}% of {p.energy_j:.1f} J ({p.uncertainty.basis})"
                     for name, p in zip(names, parts))
    return TruthUncertainty(bound_pct=bound, covers_meter_accuracy=all(p.uncertainty.covers_meter_accuracy for p in parts),
                            basis=f"the sum over {len(parts)} nodes, each node's bound at its limit: {each}")


def with_edge_skew(entry: BoundaryEnergy, sync: WindowSync, duration_s: float) -> BoundaryEnergy:
    """A multi-node sum's uncertainty, widened by the edge skew: each node's meters are read when its owner
    leaves the edge's barrier, up to the skew apart, so a node's window can be that much off the job's."""
    if entry.uncertainty is None:
        return entry
    skew_pct = 100 * (sync.start_skew_s + sync.end_skew_s) / duration_s
    widened = TruthUncertainty(
        bound_pct=entry.uncertainty.bound_pct + skew_pct,
        covers_meter_accuracy=entry.uncertainty.covers_meter_accuracy,
        basis=(f"{entry.uncertainty.basis}; plus the nodes' edge skew ({1000 * sync.start_skew_s:.2f} ms at the start, "
               f"{1000 * sync.end_skew_s:.2f} ms at the end) at the window's mean power ({skew_pct:.3f}%)"),
    )
    return entry.model_copy(update={"uncertainty": widened})


def combine_cross_checks(nodes: Mapping[str, list[BoundaryEnergy]], duration_s: float) -> tuple[list[BoundaryEnergy], list[str]]:
    """Cross-check meters summed over nodes where every node has the same one; notes for the others."""
    names = list(nodes)
    ids = sorted({e.meter_id for entries in nodes.values() for e in entries})
    summed, notes = [], []
    for meter_id in ids:
        parts = {n: next((e for e in nodes[n] if e.meter_id == meter_id), None) for n in names}
        if all(p is not None for p in parts.values()):
            summed.append(sum_energy([parts[n] for n in names], names, duration_s))
        else:
            have = [n for n, p in parts.items() if p is not None]
            notes.append(f"cross-check {meter_id}: only on {', '.join(have)}, not on every node; left out")
    return summed, notes


def combine_traces(traces: Mapping[str, PowerTrace]) -> PowerTrace | None:
    """One trace for the job: each node's power under "<node>/<boundary>", utilisation averaged over nodes.

    The nodes' samples are paired by index (each owner starts its trace at the
    window's start, within the edge skew) up to the shortest trace.
    """
    if not traces:
        return None
    if len(traces) == 1:
        return next(iter(traces.values()))
    first = next(iter(traces.values()))
    n = min(len(t.t_s) for t in traces.values())

    def mean(values: list) -> float | None:
        present = [v for v in values if v is not None]
        return round(sum(present) / len(present), 3) if present else None

    def averaged(attribute: str) -> list[float | None]:
        series = [getattr(t, attribute) for t in traces.values() if getattr(t, attribute)]
        return [mean([s[i] for s in series]) for i in range(n)] if series else []

    return PowerTrace(
        period_s=first.period_s,
        t_s=first.t_s[:n],
        power_w={f"{node}/{key}": values[:n] for node, t in traces.items() for key, values in t.power_w.items()},
        gpu_util_pct=averaged("gpu_util_pct"),
        cpu_util_pct=averaged("cpu_util_pct"),
    )


def merge_hardware_checks(checks: Mapping[str, HardwareCheck], profile_id: str) -> HardwareCheck:
    """Every node's check in one: each error and warning prefixed with its node where there are several."""
    several = len(checks) > 1
    errors = [f"{node}: {e}" if several else e for node, c in checks.items() for e in c.errors]
    warnings = [f"{node}: {w}" if several else w for node, c in checks.items() for w in c.warnings]
    return HardwareCheck(profile_id=profile_id, errors=errors, warnings=warnings)


# --------------------------------------------------------------------------- the ranks


@dataclass
class _Node:
    """What global rank 0 knows of one node: its name, node rank and ranks (with the GPUs they use)."""

    name: str
    node_rank: int
    ranks: list[dict] = field(default_factory=list)

    @property
    def owner(self) -> int:
        return next(r["rank"] for r in self.ranks if r["local_rank"] == 0)

    @property
    def gpu_uuids(self) -> list[str]:
        return list(dict.fromkeys(r["uuid"] for r in self.ranks if r["uuid"]))


def _group_by_node(ranks: list[dict]) -> list[_Node]:
    nodes: dict[str, _Node] = {}
    for r in ranks:
        node = nodes.setdefault(r["node"], _Node(r["node"], r["node_rank"]))
        if node.node_rank != r["node_rank"]:
            raise InputError(f"node {r['node']} reported under two node ranks ({node.node_rank}, {r['node_rank']}); "
                             "give every node a distinct name")
        node.ranks.append(r)
    ordered = sorted(nodes.values(), key=lambda n: n.node_rank)
    if [n.node_rank for n in ordered] != list(range(len(ordered))):
        raise InputError(f"node ranks {[n.node_rank for n in ordered]} are not 0..{len(ordered) - 1}: "
                         "two torchrun agents on one host need distinct names (SLURMD_NODENAME)")
    return ordered


def _device_uuid(device: str) -> str | None:
    import torch

    if torch.device(device).type != "cuda":
        return None
    props = torch.cuda.get_device_properties(torch.device(device))
    uuid = getattr(props, "uuid", None)
    if not uuid:
        raise InputError(f"{device}: torch does not report its UUID, so its node's meter owner cannot meter exactly "
                         "the GPUs the ranks use")
    return f"GPU-{uuid}"


def _broadcast(group, value: Any) -> Any:
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0, group=group)
    return box[0]


def open_owner_meters(open_meters: Callable[[Mapping[str, str]], MeterSet], environ: Mapping[str, str], node: str,
                      gpu_uuids: Sequence[str]) -> MeterSet:
    """A node's meters for its owner: discovered with exactly the node's ranks' GPUs visible, and refused where
    the GPU meter does not see each of them (it would meter other boards, or fewer than the ranks use)."""
    meters = open_meters(torchrun.owner_environ(environ, gpu_uuids))
    gpu = next((m for m in meters.primary if m.boundary == "gpu"), None)
    seen = len(gpu.per_device_energy_j()) if gpu is not None else 0
    if gpu is not None and seen != len(set(gpu_uuids)):
        meters.close()
        raise NoMeterError(f"node {node}: the GPU meter {gpu.id} sees {seen} GPU(s), and the node's ranks use "
                           f"{len(set(gpu_uuids))}: the owner must meter exactly those")
    return meters


def run_distributed(specs: Sequence[WorkloadSpec], run: DistributedRun, env: torchrun.DistributedEnv,
                    observer: RunObserver | None = None) -> list[RunRecord]:
    """Every pending window of `specs` over the ranks of this torchrun job; global rank 0 returns the records.

    Call it in every rank. `observer` hears about the run on global rank 0
    only (other ranks stay quiet).
    """
    import torch
    import torch.distributed as dist

    check_layouts(specs, env)
    device = rank_device(run.device, env)
    backend = specs[0].parallel.backend
    if backend == "nccl" and device == "cpu":
        raise InputError(f"workload {specs[0].id} is pinned for NCCL, which needs GPUs: give a GPU profile or --device cuda")
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    environ = dict(os.environ if run.environ is None else run.environ)
    observer = observer if (observer is not None and env.rank == 0) else RunObserver()
    dist.init_process_group(backend=backend, **({"device_id": torch.device(device)} if backend == "nccl" else {}))
    group = torchrun.side_group()
    session = _Session(run, env, group, device, environ, observer)
    try:
        session.set_up()
        written = []
        for spec in specs:
            written += session.run_spec(spec)
        return written
    finally:
        session.close()
        dist.barrier(group=group)  # no rank leaves while another still talks (an abort otherwise)
        dist.destroy_process_group()


class _Session:
    """One rank's state for a distributed run."""

    def __init__(self, run: DistributedRun, env: torchrun.DistributedEnv, group, device: str,
                 environ: dict[str, str], observer: RunObserver):
        self.run, self.env, self.group, self.device, self.environ, self.observer = run, env, group, device, environ, observer
        self.nodes: list[_Node] = []
        self.node: _Node | None = None
        self.meters: MeterSet | None = None  # the owner's
        self.ctx: RunContext | None = None  # global rank 0's
        self.live: list = []

    @property
    def owner(self) -> bool:
        return self.env.is_meter_owner

    @property
    def leader(self) -> bool:
        return self.env.rank == 0

    def set_up(self) -> None:
        from joulebench.measure.environment import fingerprint
        from joulebench.measure.hardware import check_against_profile, detect_hardware

        env, group = self.env, self.group
        me = agree(group, lambda: {"rank": env.rank, "node": torchrun.node_name(self.environ), "node_rank": env.node_rank,
                                   "local_rank": env.local_rank, "uuid": _device_uuid(self.device)})
        everyone = torchrun.gather_to_rank0(group, me)
        self.nodes = _broadcast(group, agree(group, lambda: _group_by_node(everyone) if self.leader else None))
        self.node = next(n for n in self.nodes if n.name == me["node"])

        def check_node():
            if not self.owner:
                return None
            hardware = (self.run.detect_hardware or detect_hardware)()
            return hardware, check_against_profile(hardware, self.run.profile, certified=self.run.certified)

        checked = agree(group, check_node)
        reports = torchrun.gather_to_rank0(group, checked)
        merged = None
        if self.leader:
            by_node = {n.name: reports[n.owner] for n in self.nodes}
            merged = merge_hardware_checks({name: check for name, (_, check) in by_node.items()}, self.run.profile.id)

        def refuse_mismatch():
            if self.leader and merged.errors:
                listed = "\n".join(f"  - {e}" for e in merged.errors)
                raise HardwareMismatchError(f"the job's nodes do not match hardware profile {merged.profile_id!r}:\n"
                                            f"{listed}\nChoose the profile that describes one node (joulebench profiles list).")

        agree(group, refuse_mismatch)
        self.meters = agree(group, lambda: open_owner_meters(self.run.open_meters, self.environ, self.node.name,
                                                                 self.node.gpu_uuids) if self.owner else None)
        missing = torchrun.gather_to_rank0(group, [m.model_dump() for m in self.meters.missing] if self.owner else None)
        def leader_context():
            if not self.leader:
                return None
            for text in merged.warnings:
                self.observer.warning(f"hardware differs from {self.run.profile.id}: {text}")
            for node in self.nodes:
                for item in missing[node.owner]:
                    where = f"{node.name}: " if len(self.nodes) > 1 else ""
                    self.observer.warning(f"{where}no meter covers {item['boundary']}: {item['reason']}")
            hardware = checked[0]
            return RunContext(
                profile=self.run.profile, site=self.run.site, out_dir=Path(self.run.out_dir),
                meters=self.meters, hardware=hardware, hardware_check=merged,
                environment=fingerprint(hardware.gpu_driver), device=self.device, idle_s=self.run.idle_s,
                trace_period_s=self.run.trace_period_s, open_live=self.run.open_live, scheduler=self.run.scheduler(),
            )

        self.ctx = agree(group, leader_context)

        def check_live():  # an unavailable live estimator fails now, not after the first build
            for estimator in (self.run.open_live() if self.leader else ()):
                estimator.close()

        agree(group, check_live)
        if self.meters is not None:
            for meter in self.meters.all():
                meter.start()

    def close(self) -> None:
        for estimator in self.live:
            estimator.close()
        self.live = []
        if self.meters is not None:
            self.meters.close()
            self.meters = None

    # ------------------------------------------------------------------ one workload

    def run_spec(self, spec: WorkloadSpec) -> list[RunRecord]:
        import torch.distributed as dist

        from joulebench.measure.parallel_models import (
            build_parallel_workload,
            check_buildable,
        )

        group, observer = self.group, self.observer
        check_buildable(spec)  # the same answer on every rank
        planned = self.run.repeats or spec.repeats

        def pending():
            if not self.leader:
                return None
            todo = pending_repeats(spec, self.ctx, planned)
            observer.workload(spec, todo, [r for r in range(1, planned + 1) if r not in todo])
            return todo

        todo = _broadcast(group, agree(group, pending))
        if not todo:
            return []
        observer.phase(spec, "build", f"{spec.world_size} ranks ({spec.parallel.strategy}) on {self.device}")
        workload = (self.run.build or build_parallel_workload)(spec, self.device)
        written: list[RunRecord] = []
        try:
            self.live = agree(group, lambda: list(self.ctx.open_live()) if self.leader else [])
            observer.phase(spec, "warm-up", f"{spec.warmup_iterations} iterations")
            for _ in range(spec.warmup_iterations):
                workload.step()
            workload.sync()
            observer.phase(spec, "idle", f"{self.run.idle_s:g} s")
            dist.barrier(group=group)
            idle_w = measure_idle(self.meters.all(), self.run.idle_s) if self.owner else {}
            dist.barrier(group=group)
            for repeat in todo:
                observer.phase(spec, "measure", f"repeat {repeat}, {spec.measured_iterations} iterations")
                record = self._window(spec, repeat, workload, idle_w)
                if record is not None:
                    path = write_record(self.ctx.out_dir, record)
                    written.append(record)
                    observer.window(record, path)
        finally:
            for estimator in self.live:
                estimator.close()
            self.live = []
            workload.close()
        return written

    def _window(self, spec: WorkloadSpec, repeat: int, workload, idle_w: dict[str, float]) -> RunRecord | None:
        from joulebench.measure.trace import CpuUtilization, Trace

        trace = None
        if self.owner:
            trace = Trace(self.meters.primary, period_s=self.run.trace_period_s,
                          gpu_utilization=self.meters.gpu_utilization, cpu_utilization=CpuUtilization())
        try:
            if trace is not None:
                trace.start()
            for estimator in self.live:
                estimator.start()
            read = (lambda: read_meters(self.meters.all())) if self.owner else None
            start = torchrun.barrier_edge(self.group, workload.sync, read)
            for _ in range(spec.measured_iterations):
                workload.step()
            end = torchrun.barrier_edge(self.group, workload.sync, read)
            live_estimates: list[LiveEstimate] = [e for estimator in self.live for e in estimator.stop()]
            mine: dict[str, Any] = {"rank": self.env.rank, "start": start.wall_s, "end": end.wall_s}
            if self.owner:
                power_trace = trace.stop()
                measured = window_energy(self.meters, start.readings, end.readings, idle_w)
                mine["node"] = {
                    "energy": [e.model_dump() for e in measured.energy],
                    "cross_checks": [e.model_dump() for e in measured.cross_checks],
                    "missing": [m.model_dump() for m in measured.missing],
                    "warnings": measured.warnings,
                    "trace": power_trace.model_dump(),
                }
        finally:
            if trace is not None:
                trace.stop()
        gathered = torchrun.gather_to_rank0(self.group, mine)
        if not self.leader:
            return None
        return self._record(spec, repeat, gathered, end.monotonic_s - start.monotonic_s, live_estimates)

    def _record(self, spec: WorkloadSpec, repeat: int, gathered: list[dict], duration: float,
                live_estimates: list[LiveEstimate]) -> RunRecord:
        several = len(self.nodes) > 1
        reports = {n.name: gathered[n.owner]["node"] for n in self.nodes}
        nodes = [
            NodeEnergy(
                node=n.name, node_rank=n.node_rank, global_ranks=sorted(r["rank"] for r in n.ranks),
                energy=[BoundaryEnergy.model_validate(e) for e in reports[n.name]["energy"]],
                missing_boundaries=[MissingBoundary.model_validate(m) for m in reports[n.name]["missing"]],
            )
            for n in self.nodes
        ]
        sync = WindowSync(start_skew_s=torchrun.edge_skew_s([r["start"] for r in gathered]),
                          end_skew_s=torchrun.edge_skew_s([r["end"] for r in gathered]))
        energy, missing = combine_nodes(nodes, duration)
        cross_checks, notes = combine_cross_checks(
            {name: [BoundaryEnergy.model_validate(e) for e in r["cross_checks"]] for name, r in reports.items()}, duration)
        if several:
            energy = [with_edge_skew(e, sync, duration) for e in energy]
        warnings = [f"{name}: {w}" if several else w for name, r in reports.items() for w in r["warnings"]
                    if not (several and w == UNMETERED_WARNING)]
        warnings += notes
        if not energy and UNMETERED_WARNING not in warnings:
            warnings.insert(0, UNMETERED_WARNING)
        trace = combine_traces({name: PowerTrace.model_validate(r["trace"]) for name, r in reports.items()})
        layout = spec.parallel
        gpus = [len(n.gpu_uuids) for n in self.nodes]
        walls = [r["start"] for r in gathered if r["rank"] == 0] + [r["end"] for r in gathered if r["rank"] == 0]
        return build_record(
            spec, repeat, self.ctx,
            started_at=datetime.fromtimestamp(walls[0], tz=timezone.utc),
            ended_at=datetime.fromtimestamp(walls[1], tz=timezone.utc),
            duration_s=duration,
            measured=WindowEnergy(energy=energy, cross_checks=cross_checks, missing=missing, warnings=warnings),
            trace=trace,
            live_estimates=live_estimates,
            device_count=sum(gpus),
            topology=Topology(nodes=len(nodes), world_size=layout.world_size, ranks_per_node=layout.ranks_per_node,
                              gpus_per_node=max(gpus), launcher="torchrun", backend=layout.backend),
            nodes=nodes,
            window_sync=sync,
        )


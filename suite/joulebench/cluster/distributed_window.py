"""Prototype (phase 2): one metered window over every rank of a torchrun job, written as one run record.

This is the protocol the runner is to adopt, built only from public functions
of measure/ and of cluster.torchrun/slurm, so it can move into the runner as
it is. It runs in every rank of a torchrun job (`torchrun ... python -c
"...run_distributed(...)"`, or one rank per node under `srun torchrun`):

1. The launcher's environment is read (torchrun.detect) and checked against
   the spec's layout; the default group uses the layout's backend, a gloo
   side group carries every barrier and gather.
2. Each node's local rank 0 discovers the node's meters (RAPL, external
   meters, and NVML limited to exactly the GPUs its node's ranks use); no
   other rank opens a meter.
3. Every rank builds its part of the workload. Here: DDP only (the per-rank
   model of the single-process builder, wrapped in DistributedDataParallel;
   each rank draws its own inputs). FSDP, pipeline and tensor parallel
   builders are the rest of phase 2.
4. Warm-up, then idle power measured by every owner between two barriers.
5. The window: a device synchronise and a barrier at each edge
   (torchrun.barrier_edge), the owners reading their meters right after it.
6. Everything is gathered on global rank 0, which sums the nodes per
   boundary (a boundary is covered only where every node meters it), records
   the edge skew, the topology and the scheduler's ids, and writes the record
   atomically. Global rank 0 alone decides which repeats are pending (run ids
   are deterministic, so a requeued job resumes) and tells the others.

Not yet here: the background trace (per node), live estimators other than on
rank 0, per-node hardware checks, and GPU builders beyond DDP.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from joulebench import SUITE_VERSION
from joulebench.cluster import slurm, torchrun
from joulebench.errors import InputError
from joulebench.records import record_path, write_record
from joulebench.formats import (
    BoundaryEnergy,
    HardwareProfile,
    LiveEstimate,
    MissingBoundary,
    NodeEnergy,
    RunRecord,
    Topology,
    WindowSync,
    WorkloadSpec,
    make_run_id,
)
from joulebench.measure.window import LiveTracker

MIN_UPDATES_PER_WINDOW = 50


@dataclass
class _Owner:
    """The meters of one node, held by its local rank 0."""

    meters: list  # primary meters, one per boundary
    missing: list[MissingBoundary]

    def read(self) -> dict[str, Any]:
        return {m.id: (m.read_energy_j(), m.per_device_energy_j()) for m in self.meters}

    def close(self) -> None:
        for meter in self.meters:
            meter.close()


def _check_layout(spec: WorkloadSpec, env: torchrun.DistributedEnv) -> None:
    layout = spec.parallel
    if layout is None:
        raise InputError(f"workload {spec.id} has no parallel layout; run it without torchrun")
    if (env.world_size, env.local_world_size) != (layout.world_size, layout.ranks_per_node):
        raise InputError(f"workload {spec.id} is pinned for {layout.nodes} node(s) x {layout.ranks_per_node} rank(s); "
                         f"torchrun started {env.nodes} x {env.local_world_size}")
    if layout.strategy != "ddp":
        raise InputError(f"workload {spec.id}: the {layout.strategy} builder is not written yet (DDP only)")


def _open_owner(environ: Mapping[str, str], device_uuids: Sequence[str], powercap_root: Path | None,
                meters_config: Path | None) -> _Owner:
    from joulebench.measure.meters import POWERCAP_ROOT, discover_meters, missing_boundaries

    discovery = discover_meters(powercap_root or POWERCAP_ROOT, environ=torchrun.owner_environ(environ, device_uuids),
                                meters_config=meters_config)
    for meter in discovery.cross_checks:
        meter.close()
    for meter in discovery.meters:
        meter.start()
    return _Owner(list(discovery.meters), missing_boundaries(discovery))


def _device_uuid(device: str) -> str | None:
    import torch

    if torch.device(device).type != "cuda":
        return None
    props = torch.cuda.get_device_properties(torch.device(device))
    return f"GPU-{props.uuid}" if getattr(props, "uuid", None) else None


def _build_ddp(spec: WorkloadSpec, rank: int, device: str):
    """This rank's part of a DDP workload: the per-rank model of the single-process builder, wrapped."""
    from torch.nn.parallel import DistributedDataParallel

    from joulebench.measure import models

    per_rank = spec.model_copy(update={
        "batch_size": spec.batch_size // spec.parallel.data_parallel,
        "parallel": None, "comm_bytes_per_iteration": None, "comm_method": None,
    })
    workload = models.build_workload(per_rank, device)  # same seed on every rank: same weights
    workload.inputs = models.make_inputs(per_rank.model_copy(update={"seed": spec.seed + rank}), workload.model, device)
    import torch

    device_ids = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else None
    workload.model = DistributedDataParallel(workload.model, device_ids=device_ids)
    return workload


def _node_energy(meters: list, e0: dict, e1: dict, idle_w: dict[str, float], duration: float) -> list[BoundaryEnergy]:
    energy = []
    for meter in meters:
        (j0, d0), (j1, d1) = e0[meter.id], e1[meter.id]
        joules = max(0.0, j1 - j0)
        idle = idle_w.get(meter.id)
        static = idle * duration if idle is not None else None
        energy.append(BoundaryEnergy(
            boundary=meter.boundary, meter_id=meter.id, method=meter.method, update_period_s=meter.update_period_s,
            energy_j=joules, mean_power_w=joules / duration, idle_power_w=idle, static_energy_j=static,
            dynamic_energy_j=joules - static if static is not None else None,
            per_device_j={k: d1[k] - d0.get(k, 0.0) for k in d1},
        ))
    return energy


def _broadcast(group, value: Any) -> Any:
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0, group=group)
    return box[0]


def run_distributed(
    spec: WorkloadSpec,
    profile: HardwareProfile,
    *,
    site: str,
    out_dir: Path,
    repeats: int | None = None,
    idle_s: float = 3.0,
    device: str = "cpu",
    environ: Mapping[str, str] | None = None,
    powercap_root: Path | None = None,
    meters_config: Path | None = None,
    open_live: Callable[[], Sequence[LiveTracker]] = lambda: (),
) -> list[RunRecord]:
    """Every pending window of `spec` over the ranks of this torchrun job; global rank 0 returns the records."""
    import torch.distributed as dist

    from joulebench.measure.environment import fingerprint
    from joulebench.measure.hardware import check_against_profile, detect_hardware

    environ = dict(os.environ if environ is None else environ)
    env = torchrun.detect(environ)
    if env is None:
        raise InputError("not started by torchrun: no RANK/LOCAL_RANK/WORLD_SIZE in the environment")
    _check_layout(spec, env)
    dist.init_process_group(backend=spec.parallel.backend)
    group = torchrun.side_group()
    owner: _Owner | None = None
    workload = None
    live: list = []
    written: list[RunRecord] = []
    try:
        node = torchrun.node_name(environ)
        uuid = _device_uuid(device)
        ranks = torchrun.gather_to_rank0(group, {"rank": env.rank, "node": node, "node_rank": env.node_rank,
                                                 "local_rank": env.local_rank, "uuid": uuid})
        # Each owner needs its own node's device list: rank 0 sends every rank its node's.
        by_node = _broadcast(group, _group_by_node(ranks) if env.rank == 0 else None)
        if env.is_meter_owner:
            uuids = [r["uuid"] for r in by_node[node]["ranks"] if r["uuid"]]
            owner = _open_owner(environ, uuids, powercap_root, meters_config)

        pending = None
        if env.rank == 0:
            pending = [r for r in range(1, (repeats or spec.repeats) + 1)
                       if not record_path(Path(out_dir), site, make_run_id(site, spec, r)).exists()]
        pending = _broadcast(group, pending)
        if not pending:
            return []

        workload = _build_ddp(spec, env.rank, device)
        for _ in range(spec.warmup_iterations):
            workload.step()
        workload.sync()

        dist.barrier(group=group)
        idle_w: dict[str, float] = {}
        if owner is not None and idle_s > 0:
            r0, t0 = owner.read(), time.monotonic()
            time.sleep(idle_s)
            r1, t1 = owner.read(), time.monotonic()
            idle_w = {mid: max(0.0, (r1[mid][0] - r0[mid][0]) / (t1 - t0)) for mid in r0}
        dist.barrier(group=group)

        if env.rank == 0:
            live = list(open_live())  # live estimators run on global rank 0 only
        hardware = detect_hardware() if env.rank == 0 else None
        for repeat in pending:
            for estimator in live:
                estimator.start()
            started_at = datetime.now(timezone.utc)
            start = torchrun.barrier_edge(group, workload.sync, owner.read if owner else None)
            for _ in range(spec.measured_iterations):
                workload.step()
            end = torchrun.barrier_edge(group, workload.sync, owner.read if owner else None)
            ended_at = datetime.now(timezone.utc)
            live_estimates: list[LiveEstimate] = [e for estimator in live for e in estimator.stop()]
            duration = end.monotonic_s - start.monotonic_s
            mine: dict[str, Any] = {"rank": env.rank, "start": start.wall_s, "end": end.wall_s}
            if owner is not None:
                mine["energy"] = [e.model_dump() for e in _node_energy(owner.meters, start.readings, end.readings,
                                                                        idle_w, duration)]
                mine["missing"] = [m.model_dump() for m in owner.missing]
            gathered = torchrun.gather_to_rank0(group, mine)
            if env.rank == 0:
                record = _record(spec, profile, site, repeat, by_node, gathered, duration, started_at, ended_at,
                                 hardware, check_against_profile(hardware, profile), fingerprint(hardware.gpu_driver),
                                 idle_s, live_estimates, device, environ)
                write_record(Path(out_dir), record)
                written.append(record)
            dist.barrier(group=group)
    finally:
        for estimator in live:
            estimator.close()
        if owner is not None:
            owner.close()
        if workload is not None:
            workload.close()
        if dist.is_initialized():
            dist.barrier(group=group)  # no rank leaves while another still talks (an abort otherwise)
            dist.destroy_process_group()
    return written


def _group_by_node(ranks: list[dict]) -> dict[str, dict]:
    nodes: dict[str, dict] = {}
    for r in ranks:
        entry = nodes.setdefault(r["node"], {"node_rank": r["node_rank"], "ranks": []})
        if entry["node_rank"] != r["node_rank"]:
            raise InputError(f"node {r['node']} reported under two node ranks; give every node a distinct name")
        entry["ranks"].append(r)
    return nodes


def nodes_ranks(by_node: dict[str, dict]) -> list[list[dict]]:
    """The ranks of each node, in node-rank order."""
    return [entry["ranks"] for _, entry in sorted(by_node.items(), key=lambda kv: kv[1]["node_rank"])]


def _record(spec, profile, site, repeat, by_node, gathered, duration, started_at, ended_at, hardware, check,
            environment, idle_s, live_estimates, device, environ) -> RunRecord:
    owners = {r["rank"]: r for r in gathered if "energy" in r}
    nodes = []
    for name, entry in sorted(by_node.items(), key=lambda kv: kv[1]["node_rank"]):
        owner_rank = next(r["rank"] for r in entry["ranks"] if r["local_rank"] == 0)
        report = owners[owner_rank]
        nodes.append(NodeEnergy(
            node=name, node_rank=entry["node_rank"], global_ranks=sorted(r["rank"] for r in entry["ranks"]),
            energy=[BoundaryEnergy.model_validate(e) for e in report["energy"]],
            missing_boundaries=[MissingBoundary.model_validate(m) for m in report["missing"]],
        ))
    energy, missing = torchrun.combine_nodes(nodes, duration)
    warnings = list(check.warnings)
    for entry in energy:
        updates = duration / entry.update_period_s
        if updates < MIN_UPDATES_PER_WINDOW:
            warnings.append(f"{entry.meter_id}: the window ({duration:.2f} s) spans only {updates:.0f} meter updates "
                            f"(fewer than {MIN_UPDATES_PER_WINDOW}); its energy is coarse")
    layout = spec.parallel
    gpus = len({r["uuid"] for r in nodes_ranks(by_node)[0] if r["uuid"]})
    tokens = spec.tokens_per_iteration
    return RunRecord(
        run_id=make_run_id(site, spec, repeat),
        suite_version=SUITE_VERSION,
        site=site,
        repeat=repeat,
        workload=spec,
        spec_hash=spec.spec_hash,
        profile=profile,
        profile_hash=profile.profile_hash,
        hardware=hardware,
        hardware_check=check,
        environment=environment,
        started_at=started_at,
        ended_at=ended_at,
        duration_s=duration,
        iterations=spec.measured_iterations,
        items=spec.items_per_iteration * spec.measured_iterations,
        tokens=tokens * spec.measured_iterations if tokens is not None else None,
        device_count=gpus * layout.nodes,
        idle_window_s=idle_s,
        energy=energy,
        missing_boundaries=missing,
        live_estimates=live_estimates,
        warnings=warnings,
        topology=Topology(nodes=len(nodes), world_size=layout.world_size, ranks_per_node=layout.ranks_per_node,
                          gpus_per_node=gpus, launcher="torchrun", backend=layout.backend, rendezvous="c10d"),
        nodes=nodes,
        window_sync=WindowSync(start_skew_s=torchrun.edge_skew_s([r["start"] for r in gathered]),
                               end_skew_s=torchrun.edge_skew_s([r["end"] for r in gathered])),
        scheduler=slurm.scheduler_from_env(environ, slurm.run_slurm) if environ.get("SLURM_JOB_ID") else None,
    )

"""The rank side of a distributed window under torchrun (torch.distributed), as plain functions.

A window over several ranks, as the runner is to drive it:

1. `detect()` reads the launcher's environment (torchrun sets RANK,
   LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR/PORT and
   TORCHELASTIC_RUN_ID); `start_local_ranks` starts the ranks of one node
   itself, through torchrun's own elastic launcher.
2. `side_group()`: a gloo group beside the workload's (NCCL) one, so barriers
   and object gathers never queue behind GPU collectives.
3. One meter owner per node, its local rank 0 (`is_meter_owner`), meters
   exactly the GPUs its node's ranks use (`owner_environ`) plus the node's
   RAPL and external meters. No other rank opens a meter.
4. Each edge, on every rank: the device synchronise, then `barrier_edge`
   (a barrier on the gloo group, then the wall and monotonic times at its exit,
   then the owner's meter reads). `gather_to_rank0` brings every rank's edges
   and every owner's readings to global rank 0; `edge_skew_s` is the spread
   of the ranks' barrier exits (exact on one host; across hosts it also
   contains the clocks' offset, so it is as good as their synchronisation).
5. Global rank 0 sums the nodes per boundary (measure.distributed, which
   drives all of this as the distributed runner).

Only `side_group`, `barrier_edge`, `gather_to_rank0` and `start_local_ranks`
need torch; it is imported inside them.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joulebench.errors import InputError

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK")


@dataclass(frozen=True)
class DistributedEnv:
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    node_rank: int
    master_addr: str
    master_port: int
    run_id: str | None
    restart_count: int
    launcher: str = "torchrun"

    @property
    def nodes(self) -> int:
        """Nodes in the job, when every node runs the same number of ranks (torchrun's --nproc-per-node)."""
        return self.world_size // self.local_world_size

    @property
    def is_meter_owner(self) -> bool:
        return self.local_rank == 0


def detect(environ: Mapping[str, str] | None = None) -> DistributedEnv | None:
    """The torchrun environment this process was started in, or None when it runs alone."""
    environ = os.environ if environ is None else environ
    present = [v for v in TORCHRUN_VARIABLES if v in environ]
    if not present and "TORCHELASTIC_RUN_ID" not in environ:
        return None
    missing = [v for v in (*TORCHRUN_VARIABLES, "MASTER_ADDR", "MASTER_PORT") if v not in environ]
    if missing:
        raise InputError(f"a torchrun environment without {', '.join(missing)} (have {', '.join(present)}): "
                         "start joulebench with torchrun, or unset the partial variables")
    values = {}
    for name in (*TORCHRUN_VARIABLES, "MASTER_PORT"):
        try:
            values[name] = int(environ[name])
        except ValueError:
            raise InputError(f"environment variable {name}: expected a whole number, got {environ[name]!r}") from None
    env = DistributedEnv(
        rank=values["RANK"],
        local_rank=values["LOCAL_RANK"],
        world_size=values["WORLD_SIZE"],
        local_world_size=values["LOCAL_WORLD_SIZE"],
        node_rank=values["GROUP_RANK"],
        master_addr=environ["MASTER_ADDR"],
        master_port=values["MASTER_PORT"],
        run_id=environ.get("TORCHELASTIC_RUN_ID"),
        restart_count=int(environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0),
    )
    if not (0 <= env.rank < env.world_size and 0 <= env.local_rank < env.local_world_size <= env.world_size):
        raise InputError(f"inconsistent torchrun environment: RANK {env.rank}, LOCAL_RANK {env.local_rank}, "
                         f"WORLD_SIZE {env.world_size}, LOCAL_WORLD_SIZE {env.local_world_size}")
    if env.world_size % env.local_world_size:
        raise InputError(f"WORLD_SIZE {env.world_size} is not a multiple of LOCAL_WORLD_SIZE {env.local_world_size}: "
                         "joulebench needs the same number of ranks on every node")
    return env


def node_name(environ: Mapping[str, str] | None = None) -> str:
    """The scheduler's name for this node (SLURMD_NODENAME), else the host name."""
    environ = os.environ if environ is None else environ
    return environ.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]


def owner_environ(environ: Mapping[str, str], device_uuids: Sequence[str]) -> dict[str, str]:
    """The environment the meter owner discovers its meters with: exactly its node's ranks' GPUs.

    `device_uuids` are the UUIDs of the GPUs the node's ranks use (each rank
    reports its own; see `gather_to_rank0`); NVML discovery honours
    CUDA_VISIBLE_DEVICES given as UUIDs. With no GPUs (a CPU job) no GPU is
    visible to the owner's meters.
    """
    env = dict(environ)
    unique = list(dict.fromkeys(device_uuids))
    env["CUDA_VISIBLE_DEVICES"] = ",".join(unique)
    return env


# --------------------------------------------------------------------------- torch.distributed


def side_group(timeout_s: float = 600.0):
    """A gloo group over every rank, for barriers and object gathers; the default group must exist."""
    from datetime import timedelta

    import torch.distributed as dist

    if not dist.is_initialized():
        raise RuntimeError("torch.distributed is not initialised: init_process_group first")
    return dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s))


@dataclass(frozen=True)
class Edge:
    """One rank's view of one window edge: when it left the barrier, and what its meters read then."""

    rank: int
    wall_s: float  # time.time() at the barrier's exit
    monotonic_s: float  # time.monotonic() at the barrier's exit (durations on one rank)
    readings: Any = None  # the meter owner's reads; None on other ranks


def barrier_edge(group, sync: Callable[[], None], read: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> Edge:
    """One edge of the window on this rank: the device synchronise, a barrier, the times, the owner's reads."""
    import torch.distributed as dist

    sync()
    dist.barrier(group=group)
    wall, mono = clock(), monotonic()
    readings = read() if read is not None else None
    return Edge(rank=dist.get_rank(), wall_s=wall, monotonic_s=mono, readings=readings)


def gather_to_rank0(group, payload: Any) -> list[Any] | None:
    """Every rank's payload, in rank order, on global rank 0 (None elsewhere), over the gloo group."""
    import torch.distributed as dist

    rank = dist.get_rank()
    received = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(payload, received, dst=0, group=group)
    return received


def start_local_ranks(nproc_per_node: int, argv: Sequence[str], *, entrypoint: str | None = None,
                      run_id: str | None = None, max_restarts: int = 0, log_dir: str | None = None) -> dict[int, Any]:
    """Start `nproc_per_node` ranks of `entrypoint argv` on this node, as torchrun --standalone does.

    Uses torch.distributed's own elastic launcher in this process (the
    rendezvous on a free local port); returns each local rank's return value
    (None for a binary entrypoint). A failing rank raises torch's
    ChildFailedError with the rank's error.
    """
    import sys
    import uuid

    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc_per_node < 1:
        raise InputError(f"--nproc-per-node: expected at least 1, got {nproc_per_node}")
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc_per_node,
        run_id=run_id or f"joulebench-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        rdzv_configs={"rank": 0},
        max_restarts=max_restarts,
        monitor_interval=0.1,
        logs_specs=None,
    )
    if log_dir is not None:
        from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs

        config.logs_specs = DefaultLogsSpecs(log_dir=log_dir)
    return elastic_launch(config, entrypoint or sys.executable)(*argv)


# --------------------------------------------------------------------------- edges


def edge_skew_s(walls: Sequence[float]) -> float:
    """The spread of the ranks' barrier exit times at one edge."""
    return max(walls) - min(walls) if walls else 0.0

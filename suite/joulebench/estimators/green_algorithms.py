"""Green Algorithms: cores x per-core power x usage + GPUs x power x usage + memory x 0.3725 W/GB, x PUE."""

from __future__ import annotations

from joulebench.estimators.base import StaticEstimator
from joulebench.formats import RunFacts

# Reference values of the Green Algorithms calculator (data v2.x, referenceValues.csv).
MEMORY_W_PER_GB = 0.3725
# The calculator's own default usage factor when the user gives none.
DEFAULT_USAGE = 1.0
# joulebench's meters sit inside the facility (GPU counter, RAPL, BMC, wall plug),
# so the estimate is scored at PUE 1.0; the calculator's default for an unknown
# data centre (1.56 in its data/latest/defaults_PUE.csv) would add facility
# overhead that no meter sees.
PUE = 1.0
BYTES_PER_GIB = 1024**3
BYTES_PER_GB = 1000**3


def _usage(mean_util_pct: float | None) -> float:
    if mean_util_pct is None:
        return DEFAULT_USAGE
    return min(max(mean_util_pct / 100.0, 0.0), 1.0)


class GreenAlgorithms(StaticEstimator):
    """Green Algorithms calculator: P = PUE x (cores x P_core x u_cpu + n_gpu x P_gpu x u_gpu + mem_GB x 0.3725 W).

    Source: Lannelongue, Grealey, Inouye, "Green Algorithms: Quantifying the
    Carbon Footprint of Computation", Advanced Science 8 (2021) 2100707, and
    the calculator at green-algorithms.org (github.com/GreenAlgorithms/green-algorithms-tool).

    Energy = P x the run's measured duration, split by term into boundaries:
    cpu (cores term), gpu (GPU term), dram (memory term) and node (their sum).

    Defaults and choices:
    - cores: all physical cores of the profile (sockets x cores_per_socket);
      a joulebench run holds the whole machine.
    - P_core: the profile's CPU TDP / cores_per_socket (the calculator's
      per-core figure is the CPU's TDP divided by its cores).
    - P_gpu: the profile's accelerator TDP; n_gpu: the run's device count.
    - u_cpu, u_gpu: mean utilisation from the run's trace, clamped to [0, 1];
      1.0 (the calculator's default) when the run has no trace.
    - memory: the profile's total memory, converted from GiB to GB exactly,
      at 0.3725 W/GB (the calculator's reference value).
    - PUE: 1.0, see the note at PUE above.
    - A profile that does not state a number a term needs (a CPU's TDP, an
      accelerator's TDP, the memory) gets no estimate for that term's boundary
      nor for node: the calculator would need the user to supply it, and a
      total without one of its terms is not this method's total.
    - A multi-node profile (node_count > 1): cores and memory of every node.
    - Concurrency does not enter: the method is power x time, and the run's
      duration already holds every request served in parallel.
    """

    id = "green-algorithms"
    version = "1.0"
    boundaries = ("gpu", "cpu", "dram", "node")

    def estimate(self, facts: RunFacts) -> dict[str, float]:
        profile, seconds = facts.profile, facts.duration_s
        nodes = profile.node_count
        out: dict[str, float] = {}
        cpu_w = dram_w = gpu_w = None
        cpu = profile.cpu
        if cpu is not None and cpu.tdp_w is not None:
            cores = cpu.sockets * cpu.cores_per_socket * nodes
            per_core_w = cpu.tdp_w / cpu.cores_per_socket
            cpu_w = cores * per_core_w * _usage(facts.mean_cpu_util_pct)
            out["cpu"] = PUE * cpu_w * seconds
        if profile.memory is not None:
            memory_gb = profile.memory.total_gib * nodes * BYTES_PER_GIB / BYTES_PER_GB
            dram_w = memory_gb * MEMORY_W_PER_GB
            out["dram"] = PUE * dram_w * seconds
        if profile.accelerator is not None:
            if profile.accelerator.tdp_w is not None:
                gpu_w = facts.device_count * profile.accelerator.tdp_w * _usage(facts.mean_gpu_util_pct)
                out["gpu"] = PUE * gpu_w * seconds
        else:
            gpu_w = 0.0
        if cpu_w is not None and dram_w is not None and gpu_w is not None:
            out["node"] = PUE * (cpu_w + gpu_w + dram_w) * seconds
        return out

"""Metering overhead: the same workload with and without the background trace, in one process.

The suite's goal is an overhead of at most 0.5% of a workload's throughput.
Windows alternate (plain, traced, plain, traced, ...) so drift in clocks or
temperature hits both sides alike; the overhead is the median over pairs of
(traced time - plain time) / plain time. The traced side does what a real
window does: the meters' reads at both edges and the 10 Hz trace of power and
utilisation in between.

    python benchmarks/metering_overhead.py --track gpu-v1 --only resnet50_infer --pairs 5
    python benchmarks/metering_overhead.py --track smoke --only mobilenet_v3_small_infer --device cpu --iterations 200

On a machine without meters the traced side still runs the trace thread
(CPU utilisation only); the output says which meters were read.
"""

from __future__ import annotations

import argparse
import statistics
import time

from joulebench import catalog
from joulebench.measure.meters import discover_meters
from joulebench.measure.models import build_workload
from joulebench.measure.trace import CpuUtilization, Trace


def timed_window(workload, iterations: int, trace: Trace | None, meters) -> float:
    workload.sync()
    if trace is not None:
        trace.start()
        for meter in meters:
            meter.read_energy_j()
    t0 = time.perf_counter()
    for _ in range(iterations):
        workload.step()
    workload.sync()
    elapsed = time.perf_counter() - t0
    if trace is not None:
        for meter in meters:
            meter.read_energy_j()
        trace.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="gpu-v1")
    parser.add_argument("--only", action="append", required=True, metavar="ID")
    parser.add_argument("--device", default=None)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=None, help="default: the spec's measured iterations")
    args = parser.parse_args()

    discovery = discover_meters()
    meters = discovery.meters
    print(f"meters read on the traced side: {[m.id for m in meters] or 'none (trace thread only)'}")
    for spec in catalog.select_workloads(args.track, args.only):
        device = args.device or ("cuda" if discovery.gpu_utilization else "cpu")
        iterations = args.iterations or spec.measured_iterations
        workload = build_workload(spec, device)
        try:
            for _ in range(max(spec.warmup_iterations, 1)):
                workload.step()
            plain, traced = [], []
            for _ in range(args.pairs):
                plain.append(timed_window(workload, iterations, None, meters))
                trace = Trace(meters, gpu_utilization=discovery.gpu_utilization, cpu_utilization=CpuUtilization())
                traced.append(timed_window(workload, iterations, trace, meters))
        finally:
            workload.close()
        overheads = [100.0 * (t - p) / p for p, t in zip(plain, traced)]
        print(
            f"{spec.id} on {device}: {iterations} iterations x {args.pairs} pairs; "
            f"plain median {statistics.median(plain):.4f} s, traced median {statistics.median(traced):.4f} s; "
            f"overhead median {statistics.median(overheads):+.3f}% "
            f"(pairs: {', '.join(f'{o:+.2f}%' for o in overheads)}); goal <= 0.5%"
        )
    discovery.close()


if __name__ == "__main__":
    main()

"""Benchmark: how long scoring takes at leaderboard scale.

    .venv/bin/python benchmarks/scoring.py [--runs 10000] [--estimators 50] [--resamples 1000]

SYNTHETIC DATA, FOR TIMING ONLY. The runs, their "truth" and the estimates are
random numbers made up here; they measure nothing and must never be shown as
results. The shape imitates a full leaderboard: runs spread over workloads
(the bootstrap unit), sites and profiles, truth on some boundaries only,
estimators that answer for some runs only.

What is timed: `joulebench.scoring.score_table` on a prepared RunTable and estimate
columns, i.e. every metric, every bootstrap CI, every slice (all, domain, task,
size, profile, site) and every boundary, the rankings and their paired
comparisons, and building the Score rows. What is not: reading and validating
run-record JSON, recomputing static estimators from records, writing the
summary (printed separately below, also on synthetic data).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from joulebench.scoring import EstimatorColumn, RunTable  # noqa: E402
from joulebench.scoring.bootstrap import score_table  # noqa: E402

BOUNDARY_TRUTH_SHARE = {"gpu": 0.9, "cpu": 0.5, "dram": 0.3, "node": 0.6}


def synthetic(runs: int, estimators: int, workloads: int, seed: int = 0) -> tuple[RunTable, list[EstimatorColumn]]:
    rng = np.random.default_rng(seed)
    workload = rng.integers(0, workloads, runs)
    domains = np.where(workload % 2 == 0, "vision", "language")
    tasks = np.array(["train", "infer", "generate"])[workload % 3]
    sizes = np.array(["1M-10M", "10M-100M", "100M-1B", "1B-10B", "10B-100B"])[workload % 5]
    profiles = np.array([f"profile-{i}" for i in range(6)])[rng.integers(0, 6, runs)]
    sites = np.array([f"site-{i}" for i in range(8)])[rng.integers(0, 8, runs)]
    base = rng.lognormal(mean=9.0, sigma=1.5, size=workloads)[workload]
    truth = {}
    for boundary, share in BOUNDARY_TRUTH_SHARE.items():
        values = base * rng.uniform(0.2, 1.0) * rng.lognormal(0.0, 0.05, runs)
        truth[boundary] = [float(v) if keep else None for v, keep in zip(values, rng.random(runs) < share)]
    table = RunTable.build(
        run_ids=[f"run-{i:06d}" for i in range(runs)],
        workload_keys=[f"track/workload-{w:04d}" for w in workload],
        labels={"domain": domains.tolist(), "task": tasks.tolist(), "size": sizes.tolist(),
                "profile": profiles.tolist(), "site": sites.tolist()},
        truth=truth,
    )
    columns = []
    for e in range(estimators):
        bias, spread, answered = rng.normal(0, 0.3), rng.uniform(0.02, 0.6), rng.uniform(0.7, 1.0)
        values = {}
        for boundary in BOUNDARY_TRUTH_SHARE:
            t = np.nan_to_num(table.truth[boundary], nan=float(np.nanmean(table.truth[boundary])))
            est = t * np.exp(bias + rng.normal(0, spread, runs))
            est[rng.random(runs) > answered] = np.nan
            values[boundary] = est
        columns.append(EstimatorColumn(f"synthetic-{e:02d}", "0", "submission", tuple(BOUNDARY_TRUTH_SHARE), values))
    return table, columns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--estimators", type=int, default=50)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workloads", type=int, default=200, help="distinct workloads (the bootstrap unit)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best and all are printed")
    parser.add_argument("--from-records", action="store_true",
                        help="also time the whole `score_runs` on synthetic run-record files (JSON parsing, static "
                             "estimators); slow to set up")
    args = parser.parse_args()

    print("SYNTHETIC DATA, FOR TIMING ONLY: none of these numbers is a measurement.")
    table, columns = synthetic(args.runs, args.estimators, args.workloads)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        scores, comparisons = score_table(table, columns, resamples=args.resamples)
        times.append(time.perf_counter() - t0)
    print(
        f"score_table: {args.runs} runs x {args.estimators} estimators x 4 boundaries x "
        f"{len({(s.slice, s.slice_value) for s in scores})} slices, {args.resamples} bootstrap resamples, "
        f"{args.workloads} workloads -> {len(scores)} scores, {len(comparisons)} comparisons"
    )
    print(f"wall time: best {min(times):.2f} s; runs: {', '.join(f'{t:.2f}' for t in times)} s")

    t0 = time.perf_counter()
    text = json.dumps([s.model_dump(mode="json") for s in scores] + [c.model_dump(mode="json") for c in comparisons])
    print(f"not included above: serialising the rows to JSON ({len(text) / 1e6:.1f} MB) took "
          f"{time.perf_counter() - t0:.2f} s")
    if args.from_records:
        end_to_end(args.runs, args.workloads, args.resamples)
    return 0


def end_to_end(runs: int, workloads: int, resamples: int) -> None:
    """score_runs on record files: reading, validating, static estimators, scoring (still synthetic numbers)."""
    import tempfile

    from joulebench.records import load_records
    from joulebench.scoring import score_runs
    from tests.doubles.records import live_estimate, make_record, write_records

    rng = np.random.default_rng(1)
    records = []
    for i in range(runs):
        w = int(rng.integers(0, workloads))
        truth = float(rng.lognormal(9.0, 1.5))
        records.append(make_record(f"workload-{w:04d}", run_id=f"site-{i % 8}.run-{i:06d}", site=f"site-{i % 8}",
                                   truth={"gpu": truth, "node": 1.6 * truth}, gpu_util_pct=float(rng.uniform(5, 100)),
                                   live=[live_estimate("synthetic-live", "gpu", truth * float(rng.lognormal(0, 0.1)))]))
    with tempfile.TemporaryDirectory() as folder:
        write_records(Path(folder), records)
        t0 = time.perf_counter()
        load_records(Path(folder))
        t1 = time.perf_counter()
        summary = score_runs(Path(folder), resamples=resamples)
        t2 = time.perf_counter()
    print(f"end to end on {runs} synthetic record files: reading + validating {t1 - t0:.2f} s; "
          f"score_runs (reading again, 3 static estimators recomputed, 1 live, scoring) {t2 - t1:.2f} s; "
          f"{len(summary.scores)} scores")


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: building the leaderboard site at full scale.

    .venv/bin/python benchmarks/leaderboard.py [--runs 10000] [--estimators 50] [--workloads 200] [--resamples 1000]

SYNTHETIC DATA, FOR TIMING ONLY. The runs, their "truth" and the synthetic
estimators' answers are random numbers made up here (with the test-double
record factory); they measure nothing, are written only to a temporary
folder, and must never be shown as results.

Shape: N runs spread over W workloads (both domains, all three tasks), 8 sites
and 6 hardware profiles, with metered truth at gpu and node on every run and at
cpu and dram on half of them. The estimators: the 3 registered static ones
(mlco2, green-algorithms, flops), recomputed from the records as the real
build does, plus (E - 3) synthetic columns added to the scorer's input.

What is timed, each phase separately and then together:
- read:      `read_inputs`: listing, reading, validating every record file,
             site tiers, sha256 of every input file;
- score:     `score_records` (the scorer `joulebench score` runs): the run table, the static estimators on every run, the
             scorer (every metric, bootstrap CIs, every slice and boundary,
             rankings and paired comparisons);
- aggregate: `aggregate`: the view the templates read, per-workload errors,
             every SVG chart, each estimator's best and worst slices and its
             movement against a previous summary, the CSV/JSON downloads, the
             BibTeX entry;
- render:    `write_view`: every page through jinja2, static assets,
             downloads, written to disk, and the folder swapped into place.
Not timed: making and writing the synthetic record files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from joulebench.board import aggregate, collector_paused, read_inputs, write_view  # noqa: E402
from joulebench.scoring import EstimatorColumn, RunTable, score_records  # noqa: E402
from tests.doubles.records import (  # noqa: E402
    make_profile,
    make_record,
    make_workload,
    write_records,
)

TASKS = ("train", "infer", "generate")


def synthetic_records(runs: int, workloads: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    specs = []
    for w in range(workloads):
        domain = "vision" if w % 2 == 0 else "language"
        task = "generate" if domain == "language" and w % 3 == 2 else TASKS[w % 2]
        params = int(10 ** rng.uniform(6.5, 10.5))
        specs.append(make_workload(f"synthetic-{w:04d}", domain=domain, task=task, params=params, track="synthetic"))
    profiles = [make_profile(f"synthetic-profile-{p}", accelerator_count=1 + p % 4) for p in range(6)]
    # A mean GPU power per workload (W per board), so every record stays within what its
    # declared hardware could draw, as the record's own checks require.
    base_w = rng.uniform(60.0, 650.0, size=workloads)
    records = []
    for i in range(runs):
        w = int(rng.integers(0, workloads))
        site = i % 8
        profile = profiles[site % 6]
        duration = float(rng.uniform(5, 60))
        gpu = float(base_w[w] * profile.accelerator.count * duration * rng.lognormal(0.0, 0.03))
        truth = {"gpu": gpu, "node": gpu * float(rng.uniform(1.3, 1.6))}
        if i % 2 == 0:
            truth.update(cpu=gpu * float(rng.uniform(0.05, 0.3)), dram=gpu * float(rng.uniform(0.01, 0.05)))
        records.append(make_record(
            workload=specs[w], profile=profile, site=f"synthetic-site-{site}",
            run_id=f"synthetic-site-{site}.run-{i:06d}", repeat=1 + i % 3, truth=truth,
            duration_s=duration, gpu_util_pct=float(rng.uniform(5, 100)),
            cpu_util_pct=float(rng.uniform(5, 100)),
        ))  # fmt: skip
    return records


def synthetic_columns(table, count: int, seed: int = 1) -> list[EstimatorColumn]:
    rng = np.random.default_rng(seed)
    columns = []
    for e in range(count):
        bias, spread, answered = rng.normal(0, 0.3), rng.uniform(0.02, 0.6), rng.uniform(0.7, 1.0)
        values = {}
        for boundary in ("gpu", "cpu", "dram", "node"):
            truth = table.truth[boundary]
            estimate = np.where(np.isnan(truth), np.nanmean(truth), truth) * np.exp(bias + rng.normal(0, spread, table.n))
            estimate[rng.random(table.n) > answered] = np.nan
            values[boundary] = estimate
        columns.append(EstimatorColumn(f"synthetic-{e:02d}", "0", "submission", ("gpu", "cpu", "dram", "node"), values))
    return columns


def timed_build(runs_dir: Path, out: Path, args):
    """The four steps of `build_site`, each timed (wall and this process's CPU)."""
    phases, cpu = {}, {}

    def timed(name, step, *a, **kw):
        t, c = time.perf_counter(), time.process_time()
        result = step(*a, **kw)
        phases[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        return result

    inputs = timed("read", read_inputs, runs_dir)
    # Not timed: making up the synthetic estimators' answers.
    extra = synthetic_columns(RunTable.from_records(inputs.records), max(args.estimators - 3, 0))
    summary = timed("score", score_records, inputs.records, resamples=args.resamples, extra_columns=extra)
    # The same summary stands in for a previous suite version's (`--previous`), so every estimator page
    # carries its movement table as well as its best and worst slices.
    view = timed("aggregate", aggregate, inputs, summary, summary)
    timed("render", write_view, view, out)
    return phases, cpu, inputs, summary, view


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--estimators", type=int, default=50, help="in all: the 3 static built-ins + synthetic ones")
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    print("SYNTHETIC DATA, FOR TIMING ONLY: none of these numbers is a measurement.")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        records = synthetic_records(args.runs, args.workloads)
        runs_dir = write_records(Path(tmp) / "results", records)
        del records
        print(f"setup (not timed): {args.runs} synthetic record files written in {time.perf_counter() - t0:.1f} s")

        out = Path(tmp) / "site"
        with collector_paused():  # as `joulebench leaderboard build` runs the whole build
            phases, cpu, inputs, summary, view = timed_build(runs_dir, out, args)
        files = [p for p in out.rglob("*") if p.is_file()]
        total_bytes = sum(p.stat().st_size for p in files)
        index_bytes = (out / "index.html").stat().st_size
        n_estimators = len([e for e in summary.estimators if e.available])
        print(f"{args.runs} runs, {len(view.workloads)} workloads, {len(view.sites)} sites, {n_estimators} estimators, "
              f"{args.resamples} bootstrap resamples -> {len(summary.scores)} scores")
        print("  phase        wall   (CPU of this process; the machine may be shared)")
        for name, seconds in phases.items():
            print(f"  {name:<10} {seconds:6.2f} s ({cpu[name]:.2f} s)")
        print(f"build from record files (read + score + aggregate + render): {sum(phases.values()):.2f} s")
        print(f"build from records in memory (score + aggregate + render): "
              f"{phases['score'] + phases['aggregate'] + phases['render']:.2f} s")
        print(f"site: {len(files)} files, {total_bytes / 1e6:.1f} MB; index.html {index_bytes / 1e3:.0f} kB "
              f"({'under' if index_bytes < 1e6 else 'OVER'} 1 MB)")
        # The command as a user runs it: a fresh process, imports included. It scores what the records
        # hold, so here only the 3 built-in static estimators (the synthetic ones exist only in-process).
        command = [sys.executable, "-m", "joulebench.cli", "leaderboard", "build", "--runs", str(runs_dir),
                   "--out", str(Path(tmp) / "site-cli"), "--resamples", str(args.resamples)]
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
        print(f"`joulebench leaderboard build` in a fresh process, {args.runs} record files, 3 estimators: "
              f"{time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

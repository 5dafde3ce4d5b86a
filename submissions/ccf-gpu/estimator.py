"""ccf-gpu: Cloud Carbon Footprint's GPU power model, E = n_gpu x (W_min + u x (W_max - W_min)) x t.

Reads a JSON list of joulebench run facts on stdin (`joulebench schema run-facts`) and writes a JSON list of
estimates on stdout, one per run it can answer (gpu boundary, joules). Standard library only.

Source: Cloud Carbon Footprint (Thoughtworks, Apache-2.0), methodology "Energy Estimate (Watt-Hours)":
average watts = min watts + average utilisation x (max watts - min watts), per GPU, x hours; its GPU
coefficients are packages/aws/src/domain/AwsFootprintEstimationConstants.ts at commit
b7a049c7d25c0022919ab9010199dd9e77aa4577 (2024-03-25), and with no utilisation data it assumes 50%
(AVG_CPU_UTILIZATION_2020, which it applies to GPU hours too).

Choices: utilisation is the run's mean GPU utilisation (its trace) when known, else CCF's 50%; the
device count is the run's; PUE 1.0 (joulebench's meters sit inside the facility; CCF's AWS PUE is
1.135). A GPU not in CCF's table gets no estimate: CCF would fall back to its per-vCPU CPU averages
(0.74-3.5 W), which are not GPU figures.
"""

import json
import re
import sys

ESTIMATOR_ID = "ccf-gpu"
ESTIMATOR_VERSION = "1.0"
DEFAULT_UTILISATION = 0.5

# name pattern -> (min watts, max watts), from CCF's AWS constants (MIN/MAX_WATTS_BY_COMPUTE_PROCESSOR, GPUs).
GPUS = [
    (r"\bA100\b", 46.0, 407.0),
    (r"\bA10G\b", 18.0, 153.0),
    (r"\bV100\b", 35.0, 306.0),
    (r"\bP100\b", 36.0, 306.0),
    (r"\bT4\b", 8.0, 71.0),
    (r"\bP4\b", 9.0, 76.5),
    (r"\bK80\b", 35.0, 306.0),
    (r"\bM60\b", 35.0, 306.0),
    (r"\bK520\b", 26.0, 229.0),
]


def coefficients(accelerator):
    names = [accelerator.get("model") or ""] + list(accelerator.get("match") or [])
    for pattern, low, high in GPUS:
        if any(re.search(pattern, name, re.IGNORECASE) for name in names):
            return low, high
    return None


def estimate(facts):
    accelerator = (facts.get("profile") or {}).get("accelerator")
    devices = facts.get("device_count") or 0
    if not accelerator or devices <= 0:
        return None
    found = coefficients(accelerator)
    if found is None:
        return None
    low, high = found
    util = facts.get("mean_gpu_util_pct")
    u = DEFAULT_UTILISATION if util is None else min(max(util / 100.0, 0.0), 1.0)
    return devices * (low + u * (high - low)) * facts["duration_s"]


def main():
    out = []
    for facts in json.load(sys.stdin):
        joules = estimate(facts)
        if joules is not None:
            out.append({"run_id": facts["run_id"], "boundary": "gpu", "energy_j": joules,
                        "estimator_id": ESTIMATOR_ID, "estimator_version": ESTIMATOR_VERSION})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

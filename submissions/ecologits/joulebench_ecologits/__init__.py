"""EcoLogits (offline `compute_llm_impacts_dag`) as a joulebench static estimator.

This adapter is a leaderboard submission (submissions/ecologits/): it calls the
pinned, unmodified `ecologits` package, whose licence is MPL-2.0; the adapter
itself is under the same licence.
"""

from __future__ import annotations

import functools
from importlib import metadata

from joulebench.estimators import J_PER_KWH, StaticEstimator, pinned_package_status

PACKAGE = "ecologits"
PINNED_VERSION = "0.11.3"
# joulebench's meters sit inside the facility: scored at PUE 1.0 (EcoLogits' `energy` output is x PUE).
PUE = 1.0
# EcoLogits' own batch size (ecologits.impacts.llm BATCH_SIZE), used where a run states no concurrency.
ECOLOGITS_DEFAULT_BATCH = 64


def installed_version() -> str | None:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=65536)
def _impacts(params_b: float, output_tokens: float, latency_s: float, batch: float) -> tuple[float, float]:
    """(GPU kWh, server IT kWh) of one request; the electricity-mix inputs only change CO2 and water, not energy."""
    from ecologits.impacts.llm import compute_llm_impacts_dag

    dag = compute_llm_impacts_dag(
        model_active_parameter_count=params_b,
        model_total_parameter_count=params_b,
        output_token_count=output_tokens,
        request_latency=latency_s,
        if_electricity_mix_adpe=0.0,
        if_electricity_mix_pe=0.0,
        if_electricity_mix_gwp=0.0,
        if_electricity_mix_wue=0.0,
        datacenter_pue=PUE,
        datacenter_wue=0.0,
        batch_size=batch,
    )
    return dag["gpu_required_count"] * dag["gpu_energy"], dag["request_it_energy"]


class EcoLogits(StaticEstimator):
    """EcoLogits 0.11.3 (GenAI Impact): energy of LLM text generation from model size, output tokens and latency.

    Source: EcoLogits, github.com/mlco2/ecologits, methodology at
    ecologits.ai (methodology/llm_inference); MPL-2.0. Pinned to
    ecologits==0.11.3 and called offline through
    `ecologits.impacts.llm.compute_llm_impacts_dag`: no provider SDK, no network.

    Its model, per request: GPU energy per output token per GPU
    e = alpha x exp(beta x B) x P + gamma (Wh, P in billions of parameters,
    B the batch size), on 2^ceil(log2(ceil(1.2 x P x 2 / 80))) H100-80GB GPUs
    (enough memory for 16-bit weights); server (non-GPU) energy
    dT x 1.2 kW x (GPUs / 8) / B, a share of a p5.48xlarge, with dT the
    generation time (its latency regression, capped by the request latency).

    What joulebench feeds it, per run (only language generation runs; others
    get no estimate, and its coverage shows that):
    - P: the workload's parameter count (total; records carry no active
      count for mixture-of-experts models, so EcoLogits' active-parameter term
      sees the total);
    - output tokens per request: the run's tokens / items (requests);
    - B: the run's measured concurrency (requests in flight) when the record
      states it (ML.ENERGY); else, for a workload joulebench builds and runs,
      its batch size (the sequences generated together); else (an imported
      run that states none, e.g. MLPerf, whose "batch" is one sample per
      iteration) EcoLogits' own default, 64;
    - request latency: duration x B / requests (Little's law: the mean time a
      request was in flight), the upper bound EcoLogits caps generation time at;
    - PUE 1.0; the electricity mix is irrelevant to energy.

    The run's energy is the per-request energy x its requests. Boundaries:
    gpu = GPUs x gpu_energy (GPU count from EcoLogits' memory rule, not the
    run's device count), node = request_it_energy (GPUs plus the server
    share) at PUE 1, each converted from kWh at 3,600,000 J/kWh.

    **Fitted on data joulebench scores it on:** its GPU-energy coefficients
    (alpha, beta, gamma) and its latency regression were fitted on the
    ML.ENERGY Leaderboard v2 (chat task, NVIDIA H100 80GB HBM3, max batch
    <= 512, models <= 200B parameters: 74 configurations). Its errors on
    those runs are in-sample; see the flag and the out-of-sample scores on
    this page.
    """

    id = "ecologits"
    version = PINNED_VERSION
    boundaries = ("gpu", "node")

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return pinned_package_status(PACKAGE, installed_version(), PINNED_VERSION,
                                     f"pip install {PACKAGE}=={PINNED_VERSION}", pinned_by="this submission")

    @classmethod
    def current_version(cls) -> str:
        return installed_version() or PINNED_VERSION

    def estimate(self, facts) -> dict[str, float]:
        spec = facts.workload
        if spec.domain != "language" or spec.task != "generate":
            return {}
        params = getattr(spec, "params", None)
        requests, tokens = facts.items, facts.tokens
        if not params or not requests or not tokens:
            return {}
        concurrency = getattr(facts, "concurrency", None)
        if not concurrency:
            concurrency = spec.batch_size if spec.model.library != "external" else ECOLOGITS_DEFAULT_BATCH
        latency = facts.duration_s * concurrency / requests
        gpu_kwh, node_kwh = _impacts(params / 1e9, tokens / requests, latency, float(concurrency))
        return {"gpu": gpu_kwh * J_PER_KWH * requests, "node": node_kwh * J_PER_KWH * requests}

"""An LLMCarbon-style analytical model: time from FLOPs, peak throughput and MFU; energy from device power."""

from __future__ import annotations

from joulebench.estimators.base import StaticEstimator
from joulebench.formats import RunFacts

# Model FLOPs utilisation assumed for every workload: a planning figure for
# well-tuned dense work on datacenter GPUs, stated here, not fitted to any
# joulebench run. Small-batch inference reaches far less, and the score shows it.
MFU = 0.40
# FLOPs per parameter per token when the spec has no counted FLOPs (the usual
# 6ND for training, 2ND for a forward pass).
FLOPS_PER_PARAM_TOKEN = {"train": 6.0, "infer": 2.0, "generate": 2.0}
TFLOPS = 1e12


class FlopModel(StaticEstimator):
    """FLOP model: t = FLOPs / (n x peak x MFU), E_gpu = t x n x P_device (LLMCarbon-style).

    Source: Faiz et al., "LLMCarbon: Modeling the End-to-End Carbon Footprint
    of Large Language Models", ICLR 2024 (arXiv:2309.14393), operational-energy
    part: training time from total FLOPs over devices x peak x hardware
    efficiency, energy from device power x time (x PUE).

    Defaults and choices:
    - FLOPs: the spec's flops_per_iteration (counted when the spec was pinned,
      forward + backward for training) x the run's iterations. When the spec
      has none (an imported external model), k x params x tokens with k = 6
      for training and 2 otherwise; a vision spec without counted FLOPs gets no
      estimate (coverage shows it).
    - peak: the profile's dense peak for the spec's dtype (float32, bfloat16
      or float16; TF32 is not assumed for float32).
    - MFU = 0.40 for every workload; P_device = the accelerator's TDP.
    - n: the run's device count; it cancels (E = FLOPs x P / (peak x MFU)) but
      a run that used no accelerator gets no estimate.
    - PUE = 1.0 (joulebench meters sit inside the facility).
    - Boundary: gpu only; a CPU profile has no peak throughput to use.
    - No estimate when the profile states no TDP or no dense peak for the
      spec's dtype (int8 and float8 peaks are not in profiles), or the spec's
      token count is unknown (an imported study that publishes no lengths).
    - Concurrency does not enter: FLOPs already count every request served.
    """

    id = "flops"
    version = "1.0"
    boundaries = ("gpu",)

    @staticmethod
    def total_flops(facts: RunFacts) -> float | None:
        spec = facts.workload
        if spec.flops_per_iteration is not None:
            return spec.flops_per_iteration * facts.iterations
        tokens = spec.tokens_per_iteration
        k = FLOPS_PER_PARAM_TOKEN.get(spec.task)
        if not tokens or k is None or spec.params is None:
            return None
        return k * spec.params * tokens * facts.iterations

    def estimate(self, facts: RunFacts) -> dict[str, float]:
        acc = facts.profile.accelerator
        if acc is None or facts.device_count == 0 or acc.tdp_w is None or acc.peak_tflops is None:
            return {}
        flops = self.total_flops(facts)
        if flops is None:
            return {}
        peak_tflops = getattr(acc.peak_tflops, facts.workload.dtype, None)
        if peak_tflops is None:
            return {}
        seconds = flops / (facts.device_count * peak_tflops * TFLOPS * MFU)
        return {"gpu": seconds * facts.device_count * acc.tdp_w}

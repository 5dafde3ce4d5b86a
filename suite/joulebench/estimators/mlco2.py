"""ML CO2 Impact: TDP x time x device count."""

from __future__ import annotations

import re

from joulebench.estimators.base import StaticEstimator
from joulebench.formats import HardwareProfile, RunFacts

# Pinned from the calculator's hardware table, github.com/mlco2/impact
# data/gpus.csv at commit ff5e21ccfb8e1ccb59264a802b4ea1066b6fb170:
# name -> (type, tdp_w). Rows whose tdp_watts the table itself marks as an
# average consumption (the TPUs) are left out: joulebench runs none.
TDP_TABLE: dict[str, tuple[str, float]] = {
    "A100 PCIe 40/80GB": ("gpu", 250.0),
    "A100 SXM4 80 GB": ("gpu", 400.0),
    "AGX Xavier": ("gpu", 30.0),
    "AMD RX480": ("gpu", 150.0),
    "GTX 1080 Ti": ("gpu", 250.0),
    "GTX 1080": ("gpu", 180.0),
    "GTX 750": ("gpu", 250.0),
    "GTX TITAN X": ("gpu", 250.0),
    "Quadro K6000": ("gpu", 225.0),
    "Quadro P6000": ("gpu", 250.0),
    "RTX 2080 Ti": ("gpu", 250.0),
    "RTX 2080": ("gpu", 215.0),
    "RTX 8000": ("gpu", 260.0),
    "T4": ("gpu", 70.0),
    "Tesla K40c": ("gpu", 245.0),
    "Tesla K80": ("gpu", 300.0),
    "Tesla M40 24GB": ("gpu", 250.0),
    "Tesla P100": ("gpu", 250.0),
    "Tesla P40": ("gpu", 250.0),
    "Tesla V100-PCIE-16GB": ("gpu", 300.0),
    "Tesla V100-SXM2-16GB": ("gpu", 250.0),
    "Tesla V100-SXM2-32GB": ("gpu", 300.0),
    "Titan RTX": ("gpu", 280.0),
    "Titan V": ("gpu", 250.0),
    "TITAN X Pascal": ("gpu", 250.0),
    "Titan Xp": ("gpu", 250.0),
    "RTX 3080": ("gpu", 320.0),
    "RTX 3080 TI": ("gpu", 350.0),
    "RTX 3090": ("gpu", 350.0),
    "RTX A4000": ("gpu", 140.0),
    "RTX A5000": ("gpu", 230.0),
    "RTX A6000": ("gpu", 300.0),
    "Intel Xeon E5-2699": ("cpu", 145.0),
    "Intel Xeon E5-2630v4": ("cpu", 85.0),
    "Intel Xeon E5-2650": ("cpu", 105.0),
    "Intel Xeon Gold 5220": ("cpu", 125.0),
    "Intel Xeon Gold 6148": ("cpu", 150.0),
    "AMD EPYC 7763": ("cpu", 280.0),
}

# Spellings of the same part that the table writes differently.
_ALIASES = {
    "A100 PCIe 40GB": "A100 PCIe 40/80GB",
    "A100 PCIe 80GB": "A100 PCIe 40/80GB",
    "A100 SXM4 80GB": "A100 SXM4 80 GB",
}

_VENDOR_WORDS = re.compile(r"\b(nvidia|tesla|geforce|intel|amd)\b")


def _key(name: str) -> str:
    """Case, vendor words, trademark signs, spaces and punctuation do not distinguish parts."""
    name = name.lower().replace("(r)", " ").replace("(tm)", " ")
    return re.sub(r"[^a-z0-9]", "", _VENDOR_WORDS.sub(" ", name))


_BY_KEY: dict[str, str] = {_key(name): name for name in TDP_TABLE}
_BY_KEY.update({_key(alias): target for alias, target in _ALIASES.items()})


def table_tdp(kind: str, names: list[str]) -> tuple[float, str] | None:
    for name in names:
        entry = _BY_KEY.get(_key(name))
        if entry and TDP_TABLE[entry][0] == kind:
            return TDP_TABLE[entry][1], entry
    return None


class MLCO2Impact(StaticEstimator):
    """ML CO2 Impact calculator: energy = TDP x duration x device count.

    Source: Lacoste, Luccioni, Schmidt, Dandres, "Quantifying the Carbon
    Emissions of Machine Learning", arXiv:1910.09700 (2019), and its calculator
    (mlco2.github.io/impact), whose hardware table is pinned above.

    Defaults and choices:
    - TDP from the pinned table only. The calculator offers the devices of its
      table and nothing else, so for a device it does not list (H100, H200, a
      Qualcomm Cloud AI 100, a Jetson) it has no answer, and neither has this
      estimator: coverage shows it. Taking the profile's TDP instead would not be
      a guess (it is a datasheet figure), but it would be a different method,
      "TDP x time with any TDP", which Green Algorithms' GPU term at full usage
      already scores. (Before issue 11 this estimator fell back to the profile.)
    - A GPU profile: the gpu boundary, TDP x duration x the run's device count.
      A CPU profile: the cpu boundary, TDP x duration x sockets x nodes.
    - Duration is the run's measured window; no PUE (the calculator applies
      none to energy; joulebench's meters sit inside the facility).
    - Nothing else: no utilisation, no concurrency, no CPU or memory on a GPU profile.
    """

    id = "mlco2"
    version = "1.1"
    boundaries = ("gpu", "cpu")

    @staticmethod
    def tdp_w(profile: HardwareProfile) -> tuple[float, str] | None:
        """The table's TDP for the profile's main device and the table row it came from; None if not listed."""
        if profile.accelerator is not None:
            acc = profile.accelerator
            hit = table_tdp("gpu", [acc.model, *acc.match])
        elif profile.cpu is not None:
            hit = table_tdp("cpu", [profile.cpu.model, *profile.cpu.match])
        else:
            hit = None
        return (hit[0], f"mlco2 table: {hit[1]}") if hit else None

    def estimate(self, facts: RunFacts) -> dict[str, float]:
        found = self.tdp_w(facts.profile)
        if found is None:
            return {}  # a device the calculator does not list: no answer
        tdp, _ = found
        if facts.profile.accelerator is not None:
            if facts.device_count == 0:
                return {}  # the run did not use the accelerator: nothing the method applies to
            return {"gpu": tdp * facts.duration_s * facts.device_count}
        return {"cpu": tdp * facts.duration_s * facts.profile.cpu.sockets * facts.profile.node_count}

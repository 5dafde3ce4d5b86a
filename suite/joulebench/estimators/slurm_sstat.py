"""Slurm's own energy accounting, read with sstat at the window's edges (live)."""

from __future__ import annotations

import functools
import os
import shutil
import time
from pathlib import Path
from typing import Any

from joulebench.cluster import slurm
from joulebench.estimators.base import EstimatorFailedError, LiveEstimator
from joulebench.formats import LiveEstimate

POWERCAP_ROOT = Path("/sys/class/powercap")


def run_command(argv: list[str]) -> str:
    """The one way this estimator runs Slurm's commands (tests replace it)."""
    return slurm.run_slurm(argv, timeout_s=30.0)


def _has_dram_domain(root: Path) -> bool:
    """Whether the kernel exposes a RAPL DRAM domain here (the layout only; no energy is read)."""
    from joulebench.measure.meters.rapl import scan_zones

    if not root.is_dir():
        return False
    scan = scan_zones(root)
    return any(z.boundary == "dram" for z in scan.zones) or "dram" in scan.unreadable


class SlurmSstat(LiveEstimator):
    """Slurm's energy accounting (sstat ConsumedEnergyRaw of the running step), read at the window's edges.

    Source: Slurm's acct_gather_energy plugins (slurm.conf(5),
    AcctGatherEnergyType) as reported by sstat(1) for the job step joulebench
    runs in. The estimate is the step's ConsumedEnergyRaw after the window
    minus before it, in whole joules, summed by Slurm over every node of the
    step. Results are filed under the installed Slurm version.

    Its boundary is the plugin's: acct_gather_energy/rapl sums CPU package and
    DRAM (claimed as `cpu` only on nodes without a DRAM domain, where the sum
    is the package alone; elsewhere the estimator is unavailable, since
    joulebench has no cpu+dram boundary to score it at); ipmi, xcc,
    pm_counters and ibmaem read the node from its BMC (`node`); the gpu
    plugin reports AMD GPUs only (`gpu`). Slurm charges every job on a shared
    node the whole node's energy: score it on exclusive allocations only.

    Settings: none of its own; how often Slurm refreshes the number
    (AcctGatherNodeFreq, EnergyIPMIFrequency) is the cluster's. The raw output
    keeps both sstat readings, when each call started and how long it took
    (sstat asks slurmd, tens to hundreds of ms): the estimate spans from the
    first call to the second, slightly more than the metered window.
    """

    id = "slurm-sstat"
    version = "unknown"
    boundaries = ("cpu", "node", "gpu")

    @classmethod
    def current_version(cls) -> str:
        return _installed_slurm_version() or cls.version

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        plugin, reason = cls._plugin()
        return (plugin is not None), reason

    @classmethod
    def _plugin(cls) -> tuple[slurm.EnergyPlugin | None, str]:
        step = slurm.current_step(os.environ)
        if step is None:
            return None, "not inside a Slurm job (no SLURM_JOB_ID): run joulebench under sbatch or srun"
        if shutil.which("sstat") is None:
            return None, "Slurm's sstat is not on PATH"
        try:
            plugin = slurm.energy_plugin(
                slurm.parse_scontrol_config(run_command(["scontrol", "show", "config"])).get("AcctGatherEnergyType"))
        except slurm.SlurmCommandError as exc:
            return None, f"cannot read the cluster's energy plugin: {exc}"
        if plugin.boundary is None:
            return None, plugin.note
        if slurm.dram_counted_in_cpu_claim(plugin, _has_dram_domain(POWERCAP_ROOT)):
            return None, (f"{plugin.name} sums CPU package and DRAM, and this node has a RAPL DRAM domain: "
                          "joulebench has no cpu+dram boundary to score that sum at")
        return plugin, ""

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        plugin, reason = self._plugin()
        if plugin is None:
            raise EstimatorFailedError(f"slurm-sstat cannot run here: {reason}")
        self.plugin = plugin
        self.step = slurm.current_step(os.environ)
        self._start: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any]:
        at, t0 = time.time(), time.monotonic()
        text = run_command(slurm.sstat_argv(self.step))
        return {"consumed_energy_raw_j": slurm.parse_sstat_energy(text, self.step), "called_at": at,
                "call_s": round(time.monotonic() - t0, 4), "output": text.strip()}

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> list[LiveEstimate]:
        if self._start is None:
            raise EstimatorFailedError("slurm-sstat: stop() without start()")
        first, last = self._start, self._read()
        self._start = None
        if first["consumed_energy_raw_j"] is None or last["consumed_energy_raw_j"] is None:
            raise EstimatorFailedError(f"sstat reported no ConsumedEnergyRaw for step {self.step} "
                                       f"(outputs {first['output']!r}, {last['output']!r})")
        joules = max(0, last["consumed_energy_raw_j"] - first["consumed_energy_raw_j"])
        return [LiveEstimate(
            estimator_id=self.id,
            estimator_version=self.current_version(),
            boundary=self.plugin.boundary,
            energy_j=float(joules),
            mode=f"{self.plugin.name}: {self.plugin.note}",
            raw={"step": self.step, "plugin": self.plugin.name, "start": first, "stop": last},
        )]

    def close(self) -> None:
        self._start = None


@functools.lru_cache(maxsize=1)
def _installed_slurm_version() -> str | None:
    if shutil.which("sstat") is None:
        return None
    try:
        return slurm.parse_version(run_command(["sstat", "--version"]))
    except slurm.SlurmCommandError:
        return None

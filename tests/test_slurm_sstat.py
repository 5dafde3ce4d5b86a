"""The slurm-sstat live estimator against scripted Slurm answers (the real cluster is in tests/slurm/)."""

from __future__ import annotations

import os

import pytest

from joulebench.cluster import slurm
from joulebench.estimators import get_class, list_estimators, open_live, slurm_sstat
from joulebench.estimators.base import EstimatorFailedError
from tests.doubles.powercap import FakePowercapTree

IN_A_STEP = {"SLURM_JOB_ID": "17", "SLURM_STEP_ID": "0", "PATH": "/usr/bin:/bin"}


class ScriptedSlurm:
    """Answers scontrol and sstat as Slurm 22.05 does; each sstat call returns the next of `energies`."""

    def __init__(self, plugin="acct_gather_energy/rapl", energies=(1000, 1025), version="slurm-wlm 22.05.8"):
        self.plugin, self.energies, self.version = plugin, list(energies), version
        self.calls: list[list[str]] = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[:3] == ["scontrol", "show", "config"]:
            return f"AcctGatherEnergyType    = {self.plugin}\nClusterName             = jbci\n"
        if argv[:2] == ["sstat", "--version"]:
            return self.version + "\n"
        if argv[0] == "sstat":
            step = argv[3].removeprefix("--jobs=")
            value = self.energies.pop(0)
            return f"{step}|{'' if value is None else value}\n"
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def in_slurm(monkeypatch, tmp_path):
    scripted = ScriptedSlurm()
    for key in [k for k in list(os.environ) if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    for key, value in IN_A_STEP.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(slurm_sstat, "run_command", scripted)
    monkeypatch.setattr(slurm_sstat.shutil, "which", lambda name: f"/usr/bin/{name}")
    tree = FakePowercapTree(tmp_path / "sys")
    tree.add_zone("intel-rapl:0", "package-0")
    monkeypatch.setattr(slurm_sstat, "POWERCAP_ROOT", tree.root)
    slurm_sstat._installed_slurm_version.cache_clear()
    yield scripted, tree
    slurm_sstat._installed_slurm_version.cache_clear()


def test_it_is_registered_and_unavailable_outside_slurm(monkeypatch):
    for key in [k for k in list(os.environ) if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    assert get_class("slurm-sstat") is slurm_sstat.SlurmSstat
    info = {i.id: i for i in list_estimators()}["slurm-sstat"]
    assert info.kind == "live" and not info.available and "not inside a Slurm job" in info.reason


def test_a_window_is_the_difference_of_two_sstat_readings(in_slurm, tmp_path):
    scripted, _ = in_slurm
    estimator = open_live("slurm-sstat", tmp_path)
    estimator.start()
    [estimate] = estimator.stop()
    assert (estimate.estimator_id, estimate.estimator_version) == ("slurm-sstat", "22.05.8")
    assert (estimate.boundary, estimate.energy_j) == ("cpu", 25.0)
    assert estimate.mode.startswith("acct_gather_energy/rapl")
    assert estimate.raw["step"] == "17.0"
    assert [estimate.raw["start"]["consumed_energy_raw_j"], estimate.raw["stop"]["consumed_energy_raw_j"]] == [1000, 1025]
    assert estimate.raw["start"]["output"] == "17.0|1000" and estimate.raw["stop"]["call_s"] >= 0
    sstat_calls = [c for c in scripted.calls if c[0] == "sstat" and c[1] != "--version"]
    assert sstat_calls == [slurm.sstat_argv("17.0")] * 2


def test_an_ipmi_cluster_claims_the_node(in_slurm, tmp_path):
    scripted, _ = in_slurm
    scripted.plugin = "acct_gather_energy/ipmi"
    estimator = open_live("slurm-sstat", tmp_path)
    estimator.start()
    assert estimator.stop()[0].boundary == "node"


def test_rapl_with_a_dram_domain_cannot_be_scored_as_cpu(in_slurm, tmp_path):
    _, tree = in_slurm
    tree.add_zone("intel-rapl:0:0", "dram")
    available, reason = slurm_sstat.SlurmSstat.availability()
    assert not available and "DRAM domain" in reason and "cpu+dram" in reason
    with pytest.raises(Exception, match="DRAM domain"):
        open_live("slurm-sstat", tmp_path)


def test_a_cluster_without_an_energy_plugin_is_unavailable(in_slurm):
    scripted, _ = in_slurm
    scripted.plugin = "acct_gather_energy/none"
    available, reason = slurm_sstat.SlurmSstat.availability()
    assert not available and "gathers no energy" in reason


def test_no_reading_from_sstat_fails_the_window_loudly(in_slurm, tmp_path):
    scripted, _ = in_slurm
    scripted.energies = [1000, None]
    estimator = open_live("slurm-sstat", tmp_path)
    estimator.start()
    with pytest.raises(EstimatorFailedError, match="no ConsumedEnergyRaw for step 17.0"):
        estimator.stop()
    with pytest.raises(EstimatorFailedError, match="without start"):
        estimator.stop()

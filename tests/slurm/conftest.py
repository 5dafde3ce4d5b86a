"""The tests against a real Slurm cluster (`make test-slurm`): one cluster per session, stopped by PID.

They skip, saying why, only when this machine cannot host the CI cluster (not
root, no Slurm/munge/MariaDB binaries, no `unshare -m` or overlayfs: an
unprivileged container). CI installs the packages and sets
JOULEBENCH_REQUIRE_SLURM=1, and then any of those is a failure, never a skip.
With JOULEBENCH_SLURM_DIR set, the cluster lives in DIR/cluster-<pid> (for a
CI trap to stop: `python -m tests.slurm.cluster down DIR/cluster-*`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.optional import need_torch
from tests.slurm import cluster as ci_cluster

REQUIRED = os.environ.get("JOULEBENCH_REQUIRE_SLURM") == "1"
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def pytest_configure(config):
    config.addinivalue_line("markers", "slurm: needs the real two-node Slurm cluster of tests/slurm/cluster.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slurm)


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"JOULEBENCH_REQUIRE_SLURM=1, but {reason}", pytrace=False)
    pytest.skip(reason)


def _host_view() -> tuple[bool, bool, int]:
    """What the host (this process's namespace) sees of the synthetic sources: it should see none of them."""
    mounts = Path("/proc/self/mountinfo").read_text()
    return Path("/sys/class/powercap").exists(), Path("/dev/cpu/0/msr").exists(), mounts.count("jb-synthetic")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    problems = ci_cluster.missing_prerequisites()
    if problems:
        unavailable("the CI Slurm cluster cannot run here: " + "; ".join(problems))
    before = _host_view()
    # CI names the folder (JOULEBENCH_SLURM_DIR), so its own exit trap can stop the cluster by PID
    # (`python -m tests.slurm.cluster down DIR`) even if pytest itself is killed.
    named = os.environ.get("JOULEBENCH_SLURM_DIR")
    directory = Path(named) / f"cluster-{os.getpid()}" if named else tmp_path_factory.mktemp("slurm")
    t0 = time.monotonic()
    cluster = ci_cluster.up(directory)
    sys.stderr.write(f"\n[slurm lane] cluster up in {time.monotonic() - t0:.1f} s in {directory}\n")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        warnings = ci_cluster.down(directory)
        left = [line.split() for line in (directory / "pids").read_text().splitlines()]
        still = [f"{name} ({pid})" for name, pid, started in left if ci_cluster._alive(int(pid), started)]
        assert not still, f"still running after down: {', '.join(still)}"
        assert not warnings, warnings
        assert _host_view() == before, "the host's /sys/class/powercap, /dev/cpu/0 or mounts changed"


@pytest.fixture
def joulebench_on_nodes() -> dict[str, str]:
    """How a job runs this checkout's joulebench: launch options for --setup and --joulebench.

    The jobs build the smoke track's models, so they need torch in this venv.
    """
    need_torch()
    return {"setup": f"export PYTHONPATH={REPO / 'suite'} OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1",
            "joulebench": f"{sys.executable} -m joulebench"}

"""Test double: a synthetic node meter, "installed" as a meter plugin for processes the tests start.

NOT a meter of anything real and never truth outside tests. It *invents* a
node that draws a constant JOULEBENCH_TEST_SYNTHETIC_WATTS since the wall-clock
instant JOULEBENCH_TEST_SYNTHETIC_T0, so a test knows the true energy of any
interval exactly (watts x seconds) in every process that reads it, and can
check what joulebench's distributed window makes of it: one meter owner per
node, every node's energy summed on global rank 0.

It reaches joulebench's meter discovery the way a third-party meter package
would: a module and a .dist-info folder declaring a `joulebench.meters` entry
point, in a folder the test puts on the ranks' PYTHONPATH. It covers the
`node` boundary, which no built-in probe covers without a site's --meters
file, so it never competes with a real meter of this machine.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MODULE = "joulebench_test_synthetic_meter"
DISTRIBUTION = "joulebench-test-synthetic-meter"
WATTS_ENV = "JOULEBENCH_TEST_SYNTHETIC_WATTS"
T0_ENV = "JOULEBENCH_TEST_SYNTHETIC_T0"
METER_ID = "synthetic-test:node"

SOURCE = f'''
"""Test double (tests/doubles/synthetic_meter.py): a node drawing a constant, invented power. Not a meter."""

import os
import time

from joulebench.measure.meters import MeterDiscovery, Probe
from joulebench.measure.meters.base import Meter

LABEL = "synthetic test double (tests/doubles/synthetic_meter.py)"


class SyntheticNodeMeter(Meter):
    id = "{METER_ID}"
    boundary = "node"
    method = "counter"
    update_period_s = 0.001

    def __init__(self, watts, t0):
        self.watts, self.t0 = watts, t0

    def read_energy_j(self):
        return self.watts * (time.time() - self.t0)

    def read_power_w(self):
        return self.watts


def find(options):
    environ = options.environ if options.environ is not None else os.environ
    if "{WATTS_ENV}" not in environ:
        return MeterDiscovery.nothing("node", LABEL + ": {WATTS_ENV} is not set")
    meter = SyntheticNodeMeter(float(environ["{WATTS_ENV}"]), float(environ["{T0_ENV}"]))
    return MeterDiscovery(meters=[meter], looked_for=[LABEL + ": found"])


PROBE = Probe(LABEL, ("node",), find)
'''


def install(folder: Path) -> Path:
    """Write the plugin into `folder` (put it on the ranks' PYTHONPATH); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(SOURCE)
    info = folder / f"{DISTRIBUTION.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[joulebench.meters]\nsynthetic-test = {MODULE}:PROBE\n")
    return folder


def environment(watts: float, t0: float | None = None) -> dict[str, str]:
    """The variables that switch the double on in a rank, drawing `watts` since `t0` (default: now)."""
    return {WATTS_ENV: repr(float(watts)), T0_ENV: repr(time.time() if t0 is None else t0)}


def pythonpath(folder: Path, *more: str | Path) -> str:
    return os.pathsep.join([str(folder), *(str(m) for m in more), os.environ.get("PYTHONPATH", "")])

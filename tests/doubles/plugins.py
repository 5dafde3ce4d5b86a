"""Test double: a third-party estimator "installed" into a temporary folder.

It writes what pip would (a module and a .dist-info folder with
entry_points.txt) and puts the folder on sys.path, so importlib.metadata finds
the entry point exactly as it finds a real installed plugin.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

FAKE_STATIC_PLUGIN = '''
from joulebench.estimators import StaticEstimator


class FakeHalfTdp(StaticEstimator):
    """Fake plugin: half the accelerator TDP x duration (a test double, not a method)."""

    id = "{estimator_id}"
    version = "0.1"
    boundaries = ("gpu",)

    def estimate(self, facts):
        return {{"gpu": 0.5 * facts.profile.accelerator.tdp_w * facts.duration_s}}
'''


@contextmanager
def installed_plugin(folder: Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]):
    """Install `modules` (name -> source) and declare `entry_points` (id -> "module:Class") under `distribution`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    info = folder / f"{distribution}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    lines = ["[joulebench.estimators]"] + [f"{eid} = {target}" for eid, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for name in modules:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()

"""The repository's package submissions, installed as an outsider would (pip), into a folder the tests own.

`pip install --no-deps --no-build-isolation --target DIR` of a copy of each
submissions/<id>/ package (a copy, so the build leaves nothing in the
checkout). Their own dependencies (ecologits, zeus) are not installed here:
`make test` puts their pins into the test venv (`joulebench submit packages
--requirements`). The adapters are never installed into the venv itself, so
tests that count the built-in estimators see only those.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"


def install(target: Path, ids: list[str]) -> Path:
    """Install the named package submissions into `target` (a fresh folder); returns it."""
    target = Path(target)
    sources = target.parent / f"{target.name}-sources"
    folders = []
    for sid in ids:
        copy = sources / sid
        shutil.copytree(SUBMISSIONS / sid, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        folders.append(str(copy))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), *folders],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install of {ids} failed:\n{result.stderr[-3000:]}")
    return target


@contextmanager
def on_path(target: Path):
    """The installed adapters importable and their entry points visible, for the duration."""
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m.startswith(("joulebench_ecologits", "joulebench_zeus"))]:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()

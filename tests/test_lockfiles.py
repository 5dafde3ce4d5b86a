"""The image's lock files: complete pins with hashes, in step with pyproject.toml.

That pip refuses a file whose hash differs is shown for real, in a Docker
build, in tests/container/test_image.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
TORCH_LOCK = ROOT / "container-image" / "torch-cpu.lock"
LOCK_INPUT = ROOT / "container-image" / "requirements.in"
# Brought by the image's base, built for its CUDA; see container-image/requirements.in.
FROM_BASE = {"torch", "torchvision"}


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from a pip-compile lock with hashes."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", path.read_text())  # join continuation lines
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split(" --")
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", spec.strip())
        assert match, f"{path.name}: {spec.strip()!r} is not pinned with =="
        hashes = [o.split("=", 1)[1].strip() for o in options if o.startswith("hash=")]
        entries[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return entries


@pytest.mark.parametrize("path", [LOCK, TORCH_LOCK], ids=lambda p: p.name)
def test_every_locked_package_is_pinned_with_sha256_hashes(path):
    entries = locked(path)
    assert entries
    for name, (_, hashes) in entries.items():
        assert hashes, f"{path.name}: {name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{path.name}: {name}: {hashes}"


def _bounds(requirements) -> dict[str, str]:
    return {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, requirements)}


def test_lock_input_mirrors_pyproject_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # What `joulebench run` may need inside the image: meters of a site, live estimators.
    wanted = _bounds(project["dependencies"] + extras["run"] + extras["site"] + extras["estimators"])
    for name in FROM_BASE:
        wanted.pop(name)
    lines = [line.split("#", 1)[0].strip() for line in LOCK_INPUT.read_text().splitlines()]
    given = _bounds(line for line in lines if line)
    assert {k: v for k, v in given.items() if k in wanted} == wanted
    assert not FROM_BASE & set(given), "torch and torchvision come from the base image"


def test_lock_satisfies_its_input_and_pyproject():
    entries = locked(LOCK)
    lines = [line.split("#", 1)[0].strip() for line in LOCK_INPUT.read_text().splitlines()]
    for requirement in map(Requirement, filter(None, lines)):
        version = entries[canonicalize_name(requirement.name)][0]
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement.name}=={version} is outside {requirement}"


def test_torch_lock_agrees_with_the_main_lock_on_shared_packages():
    main, extra = locked(LOCK), locked(TORCH_LOCK)
    shared = set(main) & set(extra)
    assert shared
    assert {name: extra[name][0] for name in shared} == {name: main[name][0] for name in shared}
    assert extra["torch"][0].endswith("+cpu")

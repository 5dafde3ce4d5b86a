"""A built wheel works outside the checkout: workloads, profiles and templates travel as package data.

Builds the wheel, installs it into a clean virtual environment in a temporary
folder (no access to the checkout's sources), and runs the commands a user
runs first. Needs a package index for the wheel's dependencies: it skips with
the reason when none answers, and fails instead where JOULEBENCH_REQUIRE_WHEEL
is set (CI sets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("JOULEBENCH_REQUIRE_WHEEL") == "1"


def run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv with only the built wheel (and its dependencies) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)], tmp)
    if built.returncode != 0:
        message = f"could not build the wheel: {built.stderr.strip()[-400:]}"
        pytest.fail(message) if REQUIRED else pytest.skip(message)
    wheels = sorted((tmp / "dist").glob("joulebench-*.whl"))
    assert len(wheels) == 1
    venv.create(tmp / "venv", with_pip=True, clear=True)
    bin_dir = tmp / "venv" / "bin"
    install = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], tmp)
    if install.returncode != 0:
        message = f"could not install the wheel's dependencies (no package index?): {install.stderr.strip()[-400:]}"
        pytest.fail(message) if REQUIRED else pytest.skip(message)
    return bin_dir


def test_import_joulebench_from_the_wheel_and_nothing_named_suite(installed, tmp_path):
    found = run([str(installed / "python"), "-c", "import joulebench; print(joulebench.__file__)"], tmp_path)
    assert found.returncode == 0, found.stderr
    assert "site-packages" in found.stdout and str(ROOT) not in found.stdout
    suite = run([str(installed / "python"), "-c", "import suite"], tmp_path)
    assert suite.returncode != 0 and "No module named 'suite'" in suite.stderr


def test_the_first_commands_work_from_the_wheel(installed, tmp_path):
    listed = run([str(installed / "joulebench"), "workloads", "list", "--format", "json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    tracks = {w["track"] for w in json.loads(listed.stdout)}
    assert {"gpu-v1", "cpu-v1", "smoke"} <= tracks

    schema = run([str(installed / "joulebench"), "schema", "run"], tmp_path)
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "RunRecord"

    profiles = run([str(installed / "joulebench"), "profiles", "list", "--format", "json"], tmp_path)
    assert profiles.returncode == 0 and any(p["id"] == "nvidia-h100-sxm" for p in json.loads(profiles.stdout))

    site = tmp_path / "site"
    board = run([str(installed / "joulebench"), "leaderboard", "build", "--runs", str(ROOT / "results"),
                 "--out", str(site), "--resamples", "100"], tmp_path)
    assert board.returncode == 0, board.stderr
    assert (site / "index.html").is_file() and (site / "static" / "style.css").is_file()

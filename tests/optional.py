"""Tests that need an optional dependency skip, saying why, when it is absent; CI turns those skips into failures.

`pip install -e .[dev]` alone must pass the tests with only reasoned skips.
CI installs everything and sets JOULEBENCH_REQUIRE_<NAME>=1, so a missing
dependency there fails instead of skipping silently.
"""

from __future__ import annotations

import importlib
import os

import pytest


def need(module: str, install: str, require_env: str):
    """The imported module, or a skip (a failure where `require_env` is set to 1) saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not installed ({install}): {exc}"
        if os.environ.get(require_env) == "1":
            pytest.fail(f"{require_env}=1, but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def unavailable(reason: str, require_env: str):
    """Skip with the reason, or fail where `require_env` is set to 1 (CI)."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{require_env}=1, but {reason}", pytrace=False)
    pytest.skip(reason)


def unavailable_submissions(reason: str):
    unavailable(reason, "JOULEBENCH_REQUIRE_SUBMISSIONS")


def need_torch():
    return need("torch", "pip install -e '.[run]'", "JOULEBENCH_REQUIRE_TORCH")


def need_docker_sdk():
    return need("docker", "pip install -e '.[container]'", "JOULEBENCH_REQUIRE_DOCKER")


def need_submission_dependency(module: str, pin: str):
    """The dependency of a package submission (ecologits, zeus): `make test` installs their pins into the venv."""
    return need(module, f"pip install {pin}; `make test` installs every package submission's pins",
                "JOULEBENCH_REQUIRE_SUBMISSIONS")

"""Fixtures for the tests that need a real Docker engine (`make test-container`).

They skip, saying why, only when no engine can run here. CI sets
JOULEBENCH_REQUIRE_DOCKER=1 after starting dockerd itself, and then a missing
engine, SDK, debootstrap or wheel is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.container import imagebuild

REQUIRED = os.environ.get("JOULEBENCH_REQUIRE_DOCKER") == "1"


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"JOULEBENCH_REQUIRE_DOCKER=1, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker
    except ImportError:
        unavailable("the Docker SDK is not installed (pip install -e '.[container]')")
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"no Docker engine answers here ({exc})")
    return client


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """Debian bookworm + Python 3.11, debootstrapped and imported (cached)."""
    try:
        docker_client.images.get(imagebuild.BASE_TAG)
    except Exception:  # noqa: BLE001 - not imported yet: build it below
        if os.geteuid() != 0:
            unavailable("building the base image needs root (debootstrap, docker import)")
        cached = list(imagebuild.CACHE.glob("debian-bookworm-python3-*.tar"))
        if not cached and shutil.which("debootstrap") is None:
            unavailable("debootstrap is not installed and no base root filesystem is cached")
    return imagebuild.build_base_image()


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    return imagebuild.fill_wheelhouse()


@pytest.fixture(scope="session")
def suite_version() -> str:
    from joulebench import __version__

    return __version__


@pytest.fixture(scope="session")
def suite_image(docker_client, base_image, wheelhouse, suite_version, tmp_path_factory) -> str:
    """The repository's Dockerfile built on the local base; returns the image id."""
    context = imagebuild.write_context(tmp_path_factory.mktemp("context") / "context.tar", wheelhouse)
    image_id, _ = imagebuild.build(docker_client, context, imagebuild.SUITE_TAG, base_image, suite_version)
    return image_id

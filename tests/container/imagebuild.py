"""Building the repository's Dockerfile where no registry can be reached (CI).

- The base: scripts/build_base_image.sh debootstraps Debian bookworm with
  Python 3.11 and `docker import`s it (the root filesystem is cached under
  JOULEBENCH_CACHE, default /var/cache/joulebench, outside the clone).
- The wheels: `pip download --require-hashes` of requirements.lock and
  container-image/torch-cpu.lock on the host, whose pip finds the CPU build of torch on
  the local disk (find-links) and the rest on its index. The wheelhouse is
  cached beside the base; pip re-checks every hash when it reuses a file.
- The context: exactly what .dockerignore lets `make image` send, plus the
  wheels under container-image/wheels/; built with WHEELS_ONLY=1 (pip never reaches an
  index from inside) and EXTRA_LOCK=torch-cpu.lock (the base has no torch).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("JOULEBENCH_CACHE", "/var/cache/joulebench"))
BASE_TAG = "joulebench-ci-base:bookworm-py311"
SUITE_TAG = "joulebench-test:ci"
LOCKS = (ROOT / "requirements.lock", ROOT / "container-image" / "torch-cpu.lock")


class BuildFailed(Exception):
    def __init__(self, log: str):
        super().__init__(log[-4000:])
        self.log = log


def build_base_image(tag: str = BASE_TAG) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / "build_base_image.sh"), tag], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/build_base_image.sh failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return tag


def fill_wheelhouse(directory: Path = CACHE / "wheels") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--require-hashes", "--dest", str(directory)]
    for lock in LOCKS:
        command += ["-r", str(lock)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"pip download of the locked wheels failed:\n{result.stderr[-3000:]}")
    return directory


def context_files(root: Path = ROOT) -> list[str]:
    """What `docker build .` sends from the repository, by the same .dockerignore rules."""
    from docker.utils.build import exclude_paths

    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return sorted(exclude_paths(str(root), patterns))


def locked_wheels(wheelhouse: Path) -> list[Path]:
    """The wheels of the cache that the locks name by hash (the cache may hold older releases too)."""
    hashes = set()
    for lock in LOCKS:
        hashes |= set(re.findall(r"sha256:([0-9a-f]{64})", lock.read_text()))
    wheels = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        digest = hashlib.sha256()
        with open(wheel, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() in hashes:
            wheels.append(wheel)
    return wheels


def write_context(
    target: Path,
    wheelhouse: Path,
    replace: Callable[[str, Path], bytes | None] | None = None,
) -> Path:
    """A tar of the build context; `replace(relative path, file)` may return other content for a file (tests)."""

    def add(tar: tarfile.TarFile, path: Path, relative: str) -> None:
        content = replace(relative, path) if replace is not None and path.is_file() else None
        if content is None:
            tar.add(str(path), arcname=relative, recursive=False)
            return
        info = tar.gettarinfo(str(path), arcname=relative)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))

    with tarfile.open(target, "w") as tar:
        for relative in context_files():
            add(tar, ROOT / relative, relative)
        for wheel in locked_wheels(wheelhouse):
            add(tar, wheel, f"container-image/wheels/{wheel.name}")
    return target


def build(client, context_tar: Path, tag: str, base: str, version: str) -> tuple[str, str]:
    """(image id, build log); BuildFailed with the log when the build fails."""
    log: list[str] = []
    image_id = None
    with open(context_tar, "rb") as handle:
        events = client.api.build(
            fileobj=handle,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            buildargs={
                "BASE_IMAGE": base,
                "EXTRA_LOCK": "torch-cpu.lock",
                "WHEELS_ONLY": "1",
                "VERSION": version,
                "REVISION": "ci-test",
            },
        )
        for event in events:
            if "stream" in event:
                log.append(event["stream"])
            if "error" in event:
                log.append(event["error"])
                raise BuildFailed("".join(log))
            if "aux" in event and "ID" in event["aux"]:
                image_id = event["aux"]["ID"]
    text = "".join(log)
    if image_id is None:
        image_id = client.images.get(tag).id
    return image_id, text

"""The software fingerprint every run record carries."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from importlib import metadata, resources
from pathlib import Path

from joulebench import __version__
from joulebench.formats import Environment

# Set by `joulebench run --container` inside the image it starts.
IMAGE_DIGEST_ENV = "JOULEBENCH_IMAGE_DIGEST"


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def source_sha256() -> str:
    """sha256 over every file of the installed joulebench package: its relative path, then its bytes.

    The same from a checkout, an editable install or a wheel of the same
    tree; compiled caches are left out.
    """
    root = Path(str(resources.files("joulebench")))
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def fingerprint(gpu_driver: str | None = None) -> Environment:
    torch_facts: dict[str, str | None] = {"torch": installed_version("torch"), "cuda": None, "cudnn": None}
    if torch_facts["torch"] is not None:
        import torch

        torch_facts["cuda"] = torch.version.cuda
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        torch_facts["cudnn"] = str(cudnn) if cudnn else None
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(),
        joulebench=__version__,
        joulebench_source_sha256=source_sha256(),
        gpu_driver=gpu_driver,
        torchvision=installed_version("torchvision"),
        transformers=installed_version("transformers"),
        nvidia_ml_py=installed_version("nvidia-ml-py"),
        container_image_digest=os.environ.get(IMAGE_DIGEST_ENV) or None,
        **torch_facts,
    )

"""The software fingerprint every run record carries."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from joulebench import __version__
from joulebench.formats import Environment

# Set by `joulebench run --container` inside the image it starts.
IMAGE_DIGEST_ENV = "JOULEBENCH_IMAGE_DIGEST"


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


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
        gpu_driver=gpu_driver,
        torchvision=installed_version("torchvision"),
        transformers=installed_version("transformers"),
        nvidia_ml_py=installed_version("nvidia-ml-py"),
        container_image_digest=os.environ.get(IMAGE_DIGEST_ENV) or None,
        **torch_facts,
    )

"""The MLPerf Inference benchmark models as joulebench counts them: parameters and FLOPs per sample.

mlperf_models.yaml (beside this file) holds, per benchmark family, the reference
model rebuilt with random weights from its architecture (torchvision, transformers),
and its counts, pinned the way gpu-v1's are: built on the meta device, parameters
with joulebench.measure.models.count_params, FLOPs of one sample's forward with
joulebench.measure.models.count_flops (torch.utils.flop_counter, 2 FLOPs per
multiply-add). A family whose architecture joulebench cannot build from what is
published (RNN-T, 3D U-Net, DLRM, Stable Diffusion XL) has no counts: `params` and
`flops_per_sample` stay null, and the scores' coverage shows it. A language
model's FLOPs per sample need the prompt and answer lengths, which the results do
not publish: only its parameters are counted.

The counts are written by a maintainer, never at import time (the importer needs
no torch):

    joulebench workloads pin-mlperf          # recount, show differences (exit 1 when stale)
    joulebench workloads pin-mlperf --write  # and rewrite the pinned lines

tests/test_import_mlperf.py recounts them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from joulebench.errors import InputError
from joulebench.files import write_text_atomic

MODELS_FILE = Path(str(resources.files("joulebench.importers"))) / "mlperf_models.yaml"
PINNED = ("params", "flops_per_sample", "flops_method", "pinned_with")
METHOD = (
    "torch.utils.flop_counter.FlopCounterMode on the meta device (2 FLOPs per multiply-add; matmuls, "
    "convolutions and attention only), one sample's forward: {what}"
)


def load_models(path: Path = MODELS_FILE) -> dict[str, dict[str, Any]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the MLPerf model table: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("families"), dict):
        raise InputError(f"{path}: expected a mapping with a 'families' mapping")
    return data["families"]


def family_of(benchmark: str) -> str:
    """resnet50 -> resnet50; bert-99.9 -> bert; dlrm-v2-99 -> dlrm-v2; llama2-70b-99 -> llama2-70b."""
    for suffix in ("-99.9", "-99"):
        if benchmark.endswith(suffix):
            return benchmark[: -len(suffix)]
    return benchmark


# --------------------------------------------------------------------------- counting (torch needed)


def _build(entry: dict[str, Any]):
    """The family's reference model with random weights on the meta device, and a function running one sample."""
    import torch

    from joulebench.formats import ModelConfig, WorkloadSpec
    from joulebench.measure import models

    ref = entry["reference_model"]
    builder = ref["builder"]
    if builder == "torchvision-retinanet":
        import torchvision
        from torchvision.models.detection import RetinaNet
        from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
        from torchvision.ops.feature_pyramid_network import LastLevelP6P7

        cfg = ref["config"]
        with torch.device("meta"):
            trunk = getattr(torchvision.models, cfg["backbone"])(weights=None)
            backbone = _resnet_fpn_extractor(
                trunk, 5, returned_layers=cfg["returned_layers"], extra_blocks=LastLevelP6P7(*cfg["p6p7_channels"])
            )
            model = RetinaNet(backbone, num_classes=cfg["num_classes"])
        model.eval()
        size = entry["image_size"]
        image = torch.randn(1, 3, size, size, device="meta")

        def run():
            features = model.backbone(image)
            model.head(list(features.values()))

        return model, run
    if builder not in ("torchvision", "transformers"):
        raise InputError(f"{MODELS_FILE}: reference_model.builder {builder!r}: expected torchvision, transformers or "
                         "torchvision-retinanet")
    config = dict(ref.get("config", {}))
    domain = "vision" if builder == "torchvision" else "language"
    spec = WorkloadSpec(
        id="count", track="count", domain=domain, task="infer",
        model=ModelConfig(library=builder, architecture=ref["architecture"], config=config),
        dtype="float32", batch_size=1, image_size=entry.get("image_size"), seq_len=entry.get("seq_len") or 1,
        warmup_iterations=0, measured_iterations=1, repeats=1, seed=0, params=1, flops_per_iteration=1.0,
    )  # fmt: skip
    model = models.build_model(spec, "meta")
    if builder == "torchvision":
        image = torch.randn(1, 3, spec.image_size, spec.image_size, device="meta")
        return model, lambda: model(image)
    ids = torch.randint(0, int(model.config.vocab_size), (1, spec.seq_len), device="meta")
    return model, lambda: model(input_ids=ids)


def count(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The pinned values of one family, recounted now; None for a family with no reference model."""
    import torch

    from joulebench.measure import models

    ref = entry.get("reference_model")
    if ref is None:
        return None
    model, run = _build(entry)
    values: dict[str, Any] = {"params": models.count_params(model)}
    versions = {"torch": torch.__version__.split("+")[0]}
    if ref["builder"].startswith("torchvision"):
        import torchvision

        versions["torchvision"] = torchvision.__version__.split("+")[0]
    else:
        import transformers

        versions["transformers"] = transformers.__version__.split("+")[0]
    if entry.get("count_flops", True):
        with torch.inference_mode():
            values["flops_per_sample"] = models.count_flops(run)
        values["flops_method"] = METHOD.format(what=entry["counted_forward"])
    else:
        values["flops_per_sample"] = None
        values["flops_method"] = entry["flops_method"]
    values["pinned_with"] = versions
    return values


def _render(values: dict[str, Any]) -> dict[str, str]:
    import json

    return {k: f"    {k}: {json.dumps(values[k], sort_keys=True)}" for k in PINNED}


def rewrite(text: str, family: str, values: dict[str, Any]) -> str:
    """Replace the pinned `    key:` lines inside one family's block."""
    lines = text.splitlines()
    out, inside = [], False
    rendered = _render(values)
    for line in lines:
        if line.startswith("  ") and not line.startswith("    "):
            inside = line.strip() == f"{family}:"
        key = line.strip().split(":", 1)[0] if line.startswith("    ") and not line.startswith("     ") else None
        if inside and key in rendered:
            out.append(rendered[key])
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Recount:
    family: str
    values: dict[str, Any] | None  # None: no reference model joulebench can build
    changed: list[str]


def recount(write: bool = False) -> list[Recount]:
    """Recount every family on the meta device; with `write`, rewrite the pinned lines that differ."""
    families = load_models()
    text = MODELS_FILE.read_text(encoding="utf-8")
    results = []
    for family, entry in families.items():
        values = count(entry)
        changed = [] if values is None else [k for k in PINNED if entry.get(k) != values[k]]
        results.append(Recount(family, values, changed))
        if changed and write:
            text = rewrite(text, family, values)
    if write:
        write_text_atomic(MODELS_FILE, text)
    return results

"""The parallel builders (joulebench.measure.parallel_models) on two gloo ranks: each computes the unsplit model's work.

One torchrun launch builds each smoke-multi strategy on two CPU ranks and
checks it against the single-process model built under the same seed: the
pipeline's loss is the unsplit model's, tensor parallel's logits are the
unsplit model's (each rank its share of the vocabulary), DDP's first loss is
the unsplit model's on the rank's own batch, FSDP holds half of every
parameter on each rank and trains.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path

import pytest

from joulebench import catalog
from joulebench.errors import InputError

SUITE = Path(__file__).resolve().parents[1] / "suite"
SPECS = {s.parallel.strategy: s for s in catalog.load_workloads("smoke-multi") if s.parallel.nodes == 1}

DRIVER = textwrap.dedent("""
    import json, math, sys
    import torch
    import torch.distributed as dist
    from joulebench import catalog
    from joulebench.measure import models
    from joulebench.measure.parallel_models import build_parallel_workload

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    specs = {s.parallel.strategy: s for s in catalog.load_workloads("smoke-multi") if s.parallel.nodes == 1}
    found = {}

    def unsplit(spec, batch, seed=None):
        view = models.per_rank_spec(spec, batch, seed)
        model = models.build_model(models.per_rank_spec(spec, batch), "cpu")
        return model, models.make_inputs(view, model, "cpu").token_ids

    spec = specs["pipeline"]
    workload = build_parallel_workload(spec, "cpu")
    losses = workload.step()
    model, ids = unsplit(spec, spec.batch_size)
    reference = model(input_ids=ids, labels=ids, use_cache=False).loss.item()
    found["pipeline"] = {"rank": rank, "losses": [float(l) for l in losses], "reference": reference,
                         "layers": len(workload.stage.layers), "head": workload.stage.lm_head is not None}
    workload.close()

    spec = specs["tensor"]
    workload = build_parallel_workload(spec, "cpu")
    logits = workload.step()
    model, ids = unsplit(spec, spec.batch_size)
    model.eval()
    with torch.inference_mode():
        full = model(input_ids=ids, use_cache=False).logits
    share = full.shape[-1] // 2
    found["tensor"] = {"shape": list(logits.shape), "close": bool(torch.allclose(logits, full[..., rank * share:(rank + 1) * share], atol=1e-5))}
    workload.close()

    spec = specs["ddp"]
    workload = build_parallel_workload(spec, "cpu")
    loss = workload.step().item()
    per_rank = spec.batch_size // spec.parallel.data_parallel
    model, ids = unsplit(spec, per_rank, spec.seed + rank)
    found["ddp"] = {"loss": loss, "reference": model(input_ids=ids, labels=ids, use_cache=False).loss.item()}
    workload.close()

    spec = specs["fsdp"]
    workload = build_parallel_workload(spec, "cpu")
    shares = [p.to_local().numel() / p.numel() for p in workload.model.parameters()]
    before = [p.to_local().clone() for p in workload.model.parameters()]
    first = workload.step().item()
    moved = any(not torch.equal(b, p.to_local()) for b, p in zip(before, workload.model.parameters()))
    found["fsdp"] = {"shares": sorted(set(shares)), "loss": first, "moved": moved, "params": workload.params}
    workload.close()

    everyone = [None, None]
    dist.all_gather_object(everyone, found)
    if rank == 0:
        with open(sys.argv[1], "w") as out:
            json.dump(everyone, out)
    dist.barrier()
    dist.destroy_process_group()
""")


def test_each_strategy_does_the_unsplit_models_work_on_two_ranks(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from joulebench.cluster import torchrun

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "found.json"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SUITE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torchrun.start_local_ranks(2, [str(driver), str(out)], log_dir=str(tmp_path / "logs"))
    ranks = json.loads(out.read_text())

    # pipeline: two stages of two layers; the last one holds the head and its losses are the unsplit model's.
    first, last = ranks[0]["pipeline"], ranks[1]["pipeline"]
    assert (first["layers"], first["head"], last["layers"], last["head"]) == (2, False, 2, True)
    assert first["losses"] == [] and len(last["losses"]) == SPECS["pipeline"].parallel.micro_batches
    assert sum(last["losses"]) / len(last["losses"]) == pytest.approx(last["reference"], rel=1e-5)
    # tensor: each rank's logits are its half of the vocabulary's, as the unsplit model computes them.
    vocab = SPECS["tensor"].model.config["vocab_size"]
    for rank in ranks:
        assert rank["tensor"] == {"shape": [SPECS["tensor"].batch_size, SPECS["tensor"].seq_len, vocab // 2], "close": True}
    # ddp: the same weights on both ranks, each its own batch.
    for rank in ranks:
        assert rank["ddp"]["loss"] == pytest.approx(rank["ddp"]["reference"], rel=1e-5)
    assert ranks[0]["ddp"]["loss"] != ranks[1]["ddp"]["loss"]
    # fsdp: every parameter half on each rank (dim 0 split in two), and a step changes them.
    for rank in ranks:
        assert rank["fsdp"]["shares"] == [0.5] and rank["fsdp"]["moved"]
        assert rank["fsdp"]["params"] == SPECS["fsdp"].params
        assert 0 < rank["fsdp"]["loss"] < 2 * math.log(SPECS["fsdp"].model.config["vocab_size"])


def _with(strategy: str, config: dict | None = None, **fields):
    """A smoke-multi spec with some model config keys or spec fields changed (not validated again)."""
    spec = SPECS[strategy]
    model = spec.model.model_copy(update={"config": {**spec.model.config, **(config or {})}})
    return spec.model_copy(update={"model": model, **fields})


@pytest.mark.parametrize("spec,expected", [
    (_with("pipeline", {"tie_word_embeddings": True}), "cannot share a weight across ranks"),
    (_with("pipeline", {"num_hidden_layers": 3}), "3 layers do not cut into 2 stages"),
    (_with("tensor", {"num_attention_heads": 3, "num_key_value_heads": 3}), "num_attention_heads': 3 does not split"),
    (_with("tensor", task="train"), "builds infer workloads, not train"),
    (_with("pipeline", {"model_type": "gpt2"}), "splits Llama-shaped decoders"),
    (SPECS["ddp"].model_copy(update={"parallel": None}), "has no parallel layout"),
], ids=["tied-pipeline", "uneven-stages", "heads", "tensor-train", "gpt2-pipeline", "no-layout"])
def test_what_no_builder_builds_is_refused_on_every_rank_alike(spec, expected):
    from joulebench.measure.parallel_models import check_buildable

    with pytest.raises(InputError, match=expected):
        check_buildable(spec)


@pytest.mark.parametrize("spec", catalog.load_workloads("gpu-v1-multi"), ids=lambda s: s.id)
def test_every_gpu_v1_multi_spec_has_a_builder(spec):
    from joulebench.measure.parallel_models import check_buildable

    check_buildable(spec)

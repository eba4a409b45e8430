"""Per-rank memory under FSDP2: measured on 2 gloo processes against `core.costs.memory.predict_memory(ranks=N)`, and
the per-GPU table at the LISA paper's settings (README "Sharded training (FSDP2)").

    python -m core.costs.fsdp_memory      # -> data/results/fsdp/rank_memory-cpu.json (with manifest)

Measured: 2 processes (gloo, one torch thread each) build the bench's ``tiny`` profile model (`core.costs.bench`), shard
it (`core.training.fsdp.shard_model`), build AdamW over the sharded parameters, draw LISA's first layers with its own
callback, and run one warm-up step; then, per rank, the bytes held before a step (the local shards of the weights
and the AdamW state) plus the peak of bytes allocated during one more step (`core.costs.memory.measure_peak`: CPU
profiler memory events, the all-gathered units included) are compared with the prediction at the per-rank batch.

Table: bf16 weights, gradients and AdamW state, eager attention (probabilities saved), per-GPU batch 1 × 1024 (the
LISA paper's memory setting, `papers/lisa/README.md`), on 4 and 8 GPUs; analytic only (no GPU was used here).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from core.costs.memory import MB, PAPER_MODELS, ArchSpec, measure_peak, predict_memory, tensor_bytes
from core.infra.io import RESULTS, atomic_write_json
from core.infra.provenance import manifest

METHODS = ("full", "lisa", "lora")
RANKS = 2
BF16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2, attention_scores=True)
# (label, model, method, predict_memory kwargs): LISA γ = 2 with embeddings + head (E+H+2L), LoRA r128, full FT
PAPER_ROWS = [
    ("LISA E+H+2L", "lisa", {"gamma": 2}),
    ("LoRA r128", "lora", {"lora_r": 128}),
    ("full FT", "full", {}),
]
PAPER_GB = {("llama-2-70b", "LISA E+H+2L"): 75, ("llama-2-70b", "LoRA r128"): 79}  # LISA §4.1, per GPU of 4


def sharded_step(method: str, p: dict):
    """(model, step function, optimizer) of `method` on the bench profile `p`, sharded before AdamW is built (as
    `core.costs.bench.prepare` does it unsharded)."""
    from core.costs.bench import bench_config, bench_model, step_fn
    from core.training.callbacks import BlockSwitchCallback
    from core.training.finetune import apply_lora
    from core.training.fsdp import shard_model
    from core.training.methods import RunContext, method_of
    from core.training.run import seed_everything

    seed_everything(0)
    model = bench_model(p)
    model.config.use_cache = False
    cfg = bench_config(method, p)
    entry = method_of(cfg)
    if entry.adapter(cfg):
        model = apply_lora(model, cfg)
    shard_model(model)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=cfg.lr)
    callback = entry.callback(cfg, RunContext()) if entry.callback is not None else None
    if isinstance(callback, BlockSwitchCallback):
        callback.attach(model, opt).switch(0)
    ids = torch.randint(0, model.config.vocab_size, (p["batch"], p["seq"]))
    return model, step_fn(model, {"input_ids": ids, "labels": ids}, opt), opt


def measure(method: str, p: dict) -> dict:
    """This rank's bytes before a step and its peak during one (after a warm-up step that creates the state)."""
    from core.training.dtensor import local

    model, fn, opt = sharded_step(method, p)
    fn()
    held = [local(t) for t in model.parameters()]
    held += [local(t) for s in opt.state.values() for t in s.values() if torch.is_tensor(t) and t.dim()]
    before = tensor_bytes(held)
    dist.barrier()
    peak = measure_peak(fn)["peak_bytes"]
    return {"before_step_mb": before / MB, "step_peak_mb": peak / MB, "peak_mb": (before + peak) / MB}


def rank_main(rank: int, port: int, out: str, p: dict) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(RANKS))
    dist.init_process_group("gloo", rank=rank, world_size=RANKS)
    try:
        rows = {method: measure(method, p) for method in METHODS}
    finally:
        dist.destroy_process_group()
    Path(out, f"rank{rank}.json").write_text(json.dumps(rows))


def predicted(method: str, p: dict, ranks: int) -> float:
    from core.costs.bench import bench_model

    spec = ArchSpec.from_config(bench_model(p).config)
    return (
        predict_memory(spec, method, p["batch"], p["seq"], p["gamma"], p["lora_r"], ranks=ranks)["total"] / MB
    )


def measured_rows(p: dict) -> dict:
    """Per method: each rank's measured MB and the prediction (2 ranks, per-rank batch)."""
    from core.training.ddp import free_port

    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(rank_main, args=(free_port(), tmp, p), nprocs=RANKS)
        ranks = [json.loads(Path(tmp, f"rank{r}.json").read_text()) for r in range(RANKS)]
    return {
        method: {
            "ranks": [r[method] for r in ranks],
            "predicted_per_rank_mb": predicted(method, p, RANKS),
            "predicted_one_process_mb": predicted(method, p, 1),
        }
        for method in METHODS
    }


def paper_table() -> list[dict]:
    """GiB per GPU at the paper's setting, on 4 and 8 GPUs, beside the paper's per-GPU numbers where it has one."""
    rows = []
    for model in ("llama-2-7b", "llama-2-70b"):
        for label, method, kw in PAPER_ROWS:
            row = {
                "model": PAPER_MODELS[model].name,
                "setting": label,
                "paper_gb_per_gpu_of_4": PAPER_GB.get((model, label)),
            }
            for gpus in (1, 4, 8):
                m = predict_memory(PAPER_MODELS[model], method, 1, 1024, **BF16, **kw, ranks=gpus)
                row[f"gib_per_gpu_{gpus}"] = m["total"] / 2**30
            rows.append(row)
    return rows


def main() -> int:
    from core.costs.bench import PROFILES

    p = dict(PROFILES["tiny"])
    rows = measured_rows(p)
    for method, row in rows.items():
        got = ", ".join(f"rank {i} {r['peak_mb']:.1f}" for i, r in enumerate(row["ranks"]))
        print(f"{method}: measured {got} MB; predicted {row['predicted_per_rank_mb']:.1f} MB per rank")
    table = paper_table()
    for r in table:
        print(
            f"{r['model']} {r['setting']}: {r['gib_per_gpu_4']:.1f} GiB / GPU of 4, {r['gib_per_gpu_8']:.1f} of 8"
        )
    out = RESULTS / "fsdp" / "rank_memory-cpu.json"
    study = {
        "study": "fsdp_rank_memory",
        "ranks": RANKS,
        "profile": p,
        "paper_bytes": BF16,
        "paper_seq": 1024,
    }
    atomic_write_json(out, {"measured": rows, "per_gpu_paper": table, "manifest": manifest(study, 0)})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

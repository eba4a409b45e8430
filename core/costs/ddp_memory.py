"""How much memory DDP's gradient buckets cost a block-switching run (README "Several GPUs or nodes").

    python -m core.costs.ddp_memory      # -> data/results/ddp/bucket_memory-cpu.json (with manifest)

A gloo process (world size 1: the reducer and its buckets are built as for N ranks; a fresh process per case)
wraps a 32 x Linear(2048) model (134 M fp32 parameters, 537 MB) in DDP with ``find_unused_parameters=True`` and
records the growth of resident memory over the first backward, in four cases: all parameters trainable; only
2 of 64 tensors trainable *before* wrapping; only 2 of 64 trainable but frozen *after* wrapping, which is what
the Trainer + a LISA/MISA/IST callback does (the Trainer wraps before the first switch); the same, then the
reducer rebuilt over the trainable tensors (`core.training.ddp.rebuild_reducer`, what a callback bound to its Trainer
does at a switch).

It also writes the analytic per-GPU memory of the paper profiles under DDP (`core.costs.memory.predict_memory` +
one gradient-sized bucket buffer for the parameters the reducer covers), the README's table.
"""

from __future__ import annotations

import multiprocessing
import os

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from core.costs.memory import PAPER_MODELS, predict_memory
from core.infra.io import RESULTS, atomic_write_json
from core.infra.provenance import manifest
from core.training.ddp import process_group_of_one, rebuild_reducer

CASES = ("all_trainable", "frozen_before_wrap", "frozen_after_wrap", "frozen_after_wrap_rebuilt")


def rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def growth_over_backward(case: str) -> dict:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(2048, 2048) for _ in range(32)])
    tensors = list(model.parameters())
    if case == "frozen_before_wrap":
        for p in tensors[2:]:
            p.requires_grad_(False)
    wrapped = DDP(model, find_unused_parameters=True)
    if case.startswith("frozen_after_wrap"):
        for p in tensors[2:]:
            p.requires_grad_(False)
    if case == "frozen_after_wrap_rebuilt":
        rebuild_reducer(wrapped)
    before = rss_mb()
    wrapped(torch.randn(4, 2048)).sum().backward()
    trainable = sum(p.numel() for p in tensors if p.requires_grad)
    return {
        "rss_growth_mb": rss_mb() - before,
        "trainable_grad_mb": trainable * 4 / 2**20,
        "model_mb": sum(p.numel() for p in tensors) * 4 / 2**20,
    }


BF16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2, attention_scores=True)
# (row, model, method, batch, seq, predict_memory kwargs, parameters DDP sees at wrap time)
PAPER_SETTINGS = [
    ("LISA paper profile: LLaMA-2-7B, γ = 2, batch 1 × 512", "llama-2-7b", "lisa", 1, 512, {}, "all"),
    (
        "MISA paper profile: LLaMA-3-8B, δ = 3 %, batch 2 × 512 (fp32 AdamW state and master copy)",
        "llama-3-8b",
        "misa",
        2,
        512,
        {"budget": 0.03, "state_bytes": 4, "master_weights": True},
        "all",
    ),
    ("full FT LLaMA-2-7B, batch 1 × 512", "llama-2-7b", "full", 1, 512, {}, "all"),
    (
        "LoRA r128 LLaMA-2-7B, batch 1 × 512 (only adapters trainable at wrap)",
        "llama-2-7b",
        "lora",
        1,
        512,
        {"lora_r": 128},
        "trainable",
    ),
]


def per_gpu_rows() -> list[dict]:
    """GiB per GPU: one device (predict_memory, bf16) + DDP's bucket buffer, over all parameters (wrapped before
    the first switch, no rebuild) and over the active ones only (rebuilt at each switch)."""
    rows = []
    for label, model, method, batch, seq, kw, at_wrap in PAPER_SETTINGS:
        bytes_kw = {**BF16, **kw}
        m = predict_memory(PAPER_MODELS[model], method, batch, seq, **bytes_kw)
        active = m["trainable_params"] * bytes_kw["grad_bytes"]
        every = m["weights"] if at_wrap == "all" else active
        rows.append(
            {
                "setting": label,
                "one_device_gib": m["total"] / 2**30,
                "buckets_all_params_gib": every / 2**30,
                "buckets_active_gib": active / 2**30,
                "per_gpu_no_rebuild_gib": (m["total"] + every) / 2**30,
                "per_gpu_rebuilt_gib": (m["total"] + active) / 2**30,
            }
        )
    return rows


def measure_case(case: str) -> dict:
    """One case in its own gloo group of one process (called in a fresh process: RSS growth is only
    comparable when no earlier case left freed pages for the allocator to reuse)."""
    with process_group_of_one():
        return growth_over_backward(case)


def main() -> int:
    rows = {}
    for case in CASES:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            rows[case] = pool.apply(measure_case, (case,))
    for case, row in rows.items():
        print(
            f"{case:26s} +{row['rss_growth_mb']:7.1f} MB over the first backward "
            f"(trainable grads {row['trainable_grad_mb']:.1f} MB, model {row['model_mb']:.1f} MB)"
        )
    out = RESULTS / "ddp" / "bucket_memory-cpu.json"
    table = per_gpu_rows()
    for r in table:
        print(
            f"{r['setting']}: {r['one_device_gib']:.1f} GiB + buckets {r['buckets_all_params_gib']:.1f} "
            f"(no rebuild) / {r['buckets_active_gib']:.2f} (rebuilt) GiB"
        )
    atomic_write_json(
        out,
        {
            "rows": rows,
            "per_gpu_paper_profiles": table,
            "manifest": manifest({"study": "ddp_bucket_memory", "per_gpu_bytes": BF16}, 0),
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How much memory DDP's gradient buckets cost a block-switching run (README "Several GPUs or nodes").

    python -m core.ddp_memory      # -> data/results/ddp/bucket_memory-cpu.json (with manifest)

One gloo process (world size 1: the reducer and its buckets are built as for N ranks) wraps a 32 x Linear(2048)
model (134 M fp32 parameters, 537 MB) in DDP with ``find_unused_parameters=True`` and records the growth of
resident memory over the first backward, in three cases: all parameters trainable; only 2 of 64 tensors
trainable *before* wrapping; only 2 of 64 trainable but frozen *after* wrapping, which is what the Trainer +
a LISA/MISA/IST callback does (the Trainer wraps before the first switch).
"""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from core.run import RESULTS, atomic_write_json, manifest

CASES = ("all_trainable", "frozen_before_wrap", "frozen_after_wrap")


def rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def growth_over_backward(case: str) -> dict:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(2048, 2048) for _ in range(32)])
    tensors = list(model.parameters())
    if case == "frozen_before_wrap":
        for p in tensors[2:]:
            p.requires_grad_(False)
    wrapped = DDP(model, find_unused_parameters=True)
    if case == "frozen_after_wrap":
        for p in tensors[2:]:
            p.requires_grad_(False)
    before = rss_mb()
    wrapped(torch.randn(4, 2048)).sum().backward()
    trainable = sum(p.numel() for p in tensors if p.requires_grad)
    return {"rss_growth_mb": rss_mb() - before, "trainable_grad_mb": trainable * 4 / 2 ** 20,
            "model_mb": sum(p.numel() for p in tensors) * 4 / 2 ** 20}


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        rows = {case: growth_over_backward(case) for case in CASES}
    finally:
        dist.destroy_process_group()
    for case, row in rows.items():
        print(f"{case:20s} +{row['rss_growth_mb']:7.1f} MB over the first backward "
              f"(trainable grads {row['trainable_grad_mb']:.1f} MB, model {row['model_mb']:.1f} MB)")
    out = RESULTS / "ddp" / "bucket_memory-cpu.json"
    atomic_write_json(out, {"rows": rows, "manifest": manifest({"study": "ddp_bucket_memory"}, 0)})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

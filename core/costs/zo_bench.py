"""Zeroth-order throughput (`papers/sparse_mezo/memory.py`): the ZO stream's normal rate and MeZO / S-MeZO / R-MeZO
steps against a forward of the bench's model, back to back in one process (`core.costs.bench` measures one method at a
time)."""

from __future__ import annotations

import statistics
import time

import torch

from core.costs.bench import bench_model, step_fn
from core.costs.memory import MB, measure_peak, tensor_bytes
from core.training.run import seed_everything
from core.training.zo import SPSA


def normal_rate(threads: int, entries: int = 1 << 24) -> dict:
    """N(0, 1) draws per second of the ZO stream (`core.training.zo_stream`), one thread and `threads` threads."""
    from core.training.zo_stream import BLOCK, BlockPool, block_seed, normal_block

    out = {}
    for t in sorted({1, threads}):
        pool = BlockPool(t)
        blocks = list(range(entries // BLOCK))
        fill = lambda b, pool=pool: normal_block(pool.scratch(BLOCK, "cpu"), block_seed(0, 0, b))  # noqa: E731
        pool.run(fill, blocks[:t])  # warm-up
        t0 = time.perf_counter()
        pool.run(fill, blocks)
        rate = entries / (time.perf_counter() - t0)
        out[f"threads_{t}"] = {"normals_per_s": rate, "per_thread": rate / t}
    return out


def zo_throughput(p: dict, batches, repeats: int, threads: int) -> dict:
    """Forward and MeZO / S-MeZO (0.8) / R-MeZO (0.8) step of the profile's model at each (batch, seq), timed
    back to back in one process, `repeats` interleaved rounds, medians; peaks as `bench_method` measures them.
    Ratios: step / forward (MeZO's metric; the floor is 2: two forwards) and S-/R-MeZO step / MeZO step."""
    import os

    from core.training.zo import MagnitudeMask, RandomMask

    seed_everything(0)
    model = bench_model(p)
    model.config.use_cache = False
    model.eval()
    zo = {
        "mezo": SPSA(model, threads=threads),
        "s-mezo_0.8": SPSA(model, mask=MagnitudeMask(0.8), threads=threads),
        "r-mezo_0.8": SPSA(model, mask=RandomMask(0.8), threads=threads),
    }
    before = tensor_bytes(list(model.parameters()))
    rows = []
    for batch_size, seq in batches:
        ids = torch.randint(0, model.config.vocab_size, (batch_size, seq))
        batch = {"input_ids": ids, "labels": ids}
        fns = {"forward": step_fn(model, batch, None), **{k: step_fn(model, batch, e) for k, e in zo.items()}}
        load = [os.getloadavg()]
        for fn in fns.values():
            fn()  # warm-up (R-MeZO builds its mask bits here)
        times = {k: [] for k in fns}
        for _ in range(repeats):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        peaks = {k: (before + measure_peak(fn)["peak_bytes"]) / MB for k, fn in fns.items()}
        load.append(os.getloadavg())
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {
            "batch": batch_size,
            "seq": seq,
            "step_s_median": med,
            "step_s_all": times,
            "peak_mb": peaks,
            "time_vs_forward": {k: med[k] / med["forward"] for k in zo},
            "time_vs_two_forward_floor": {k: med[k] / (2 * med["forward"]) for k in zo},
            "time_vs_mezo": {k: med[k] / med["mezo"] for k in zo},
            "memory_vs_inference": {k: peaks[k] / peaks["forward"] for k in zo},
            "loadavg_before_after": load,
        }
        rows.append(row)
        print(
            f"batch {batch_size}x{seq}: "
            + "  ".join(f"{k} {med[k]:.3f} s / {peaks[k]:.0f} MB" for k in fns)
            + f"  MeZO/forward {row['time_vs_forward']['mezo']:.2f}  load {load[-1][0]:.1f}",
            flush=True,
        )
    return {
        "rows": rows,
        "normal_rate": normal_rate(threads),
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
    }

"""Data-parallel MeZO: N ranks share a step's batch and exchange only the two probe losses.

MeZO (Malladi et al. 2023, Alg. 1) needs of the batch only L(θ + εz) and L(θ − εz). Under torchrun each rank
evaluates both probes on its share of the batch (the Trainer's per-device batch) and one all-reduce
(https://pytorch.org/docs/stable/distributed.html#torch.distributed.all_reduce) of three float64 numbers,
(n·L+, n·L−, n), gives every rank the losses of the whole global batch; n is the number of items the rank's loss
averages (`items`), so ranks with different numbers of response tokens combine to exactly the full-batch mean, not
a mean of means. Every rank then applies the same update θ ← θ − lr·g·z with z from the same counter-based stream
(`core.training.zo_stream`; the step seed comes from a generator seeded by the run's seed, the same on every rank), so
the replicas stay identical without exchanging a single weight. One all-reduce of 24 bytes per step
(`PAYLOAD_BYTES`), logged as ``zo_allreduce_bytes``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

PAYLOAD_BYTES = 3 * 8  # n·L+, n·L−, n in float64


def data_parallel() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def items(inputs: dict) -> int:
    """How many items the model's mean loss averages over this batch: a causal LM's response tokens after the
    one-position shift (labels ≠ −100), or one per example for class labels (1-D, `core.sources.encoder_cls`)."""
    labels = inputs["labels"]
    if labels.dim() == 1:
        return labels.numel()
    return int((labels[..., 1:] != -100).sum())


def combiner(inputs: dict):
    """``combine(plus, minus) -> (plus, minus)`` over all ranks for `core.training.zo.SPSA.estimate`; None in one
    process."""
    if not data_parallel():
        return None
    n = items(inputs)

    def combine(plus: float, minus: float) -> tuple[float, float]:
        buf = torch.tensor([n * plus, n * minus, float(n)], dtype=torch.float64)
        dist.all_reduce(buf)  # sum over ranks; a NaN on one rank makes both losses NaN everywhere
        return float(buf[0] / buf[2]), float(buf[1] / buf[2])

    return combine

"""DTensor helpers shared by the callbacks and FSDP2 code (`core.training.fsdp`): under ``fully_shard`` every parameter,
gradient and AdamW state tensor is a DTensor sharded on dim 0 over the ranks
(https://pytorch.org/docs/stable/distributed.tensor.html); on one device they are plain tensors and these
functions return them as they are.
"""

from __future__ import annotations

import torch
from torch.distributed.tensor import DTensor


def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's shard of a DTensor; a plain tensor as it is."""
    return t.to_local() if isinstance(t, DTensor) else t


def full_value(t: torch.Tensor) -> torch.Tensor:
    """The whole value of a DTensor (e.g. a norm reduced over the shards); a plain tensor as it is. A collective
    when `t` is a DTensor: every rank must call it."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def local_bytes(tensors) -> int:
    """Bytes this rank holds of `tensors` (the local shards of DTensors; non-tensors skipped)."""
    return sum(local(t).numel() * t.element_size() for t in tensors if torch.is_tensor(t))


def is_sharded(module) -> bool:
    """Whether any parameter of `module` is a DTensor (sharded by FSDP2)."""
    return any(isinstance(p, DTensor) for p in module.parameters())

"""DistributedDataParallel for block switching (LISA, MISA, IST): a reducer over exactly the active parameters.

DDP builds its reducer (gradient buckets, one autograd hook per parameter) once, over the parameters that
require grad when it wraps the model. The HF Trainer wraps before the first switch, when everything is still
trainable, so with frozen blocks the reducer keeps buckets (a gradient-sized buffer) for every parameter and
all-reduces zeros for the frozen ones: correct with ``find_unused_parameters=True`` but it gives back part of
the memory LISA/MISA save (`python -m core.costs.ddp_memory`; LMFlow's LISA fails outright without the flag).

`rebuild_reducer` re-runs DDP's own reducer construction (`_build_params_for_reducer` + `_ddp_init_helper`,
torch 2.13) on the *same* wrapper object after a switch, so the Trainer's training loop, which holds that
object, keeps working. The old reducer is dropped with its buckets and hooks. No collective is issued: every
rank switches at the same step to the same set (`check_same_on_all_ranks` below). Refused where the
reducer carries state that a rebuild would lose: DDP's own mixed precision, static graph, delayed all-reduce,
the compiled (python) reducer.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager

import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def free_port() -> int:
    """A TCP port on localhost that is free now (for a rendezvous on this machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process_group_of_one():
    """A gloo process group with this process as its only rank: DDP builds its reducer as for N ranks."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def wrapped_ddp(trainer) -> DistributedDataParallel | None:
    """The DDP wrapper a `transformers.Trainer` trains through (None when not distributed)."""
    model = getattr(trainer, "model_wrapped", None)
    return model if isinstance(model, DistributedDataParallel) else None


def reducer_parameters(ddp: DistributedDataParallel) -> dict:
    """What DDP's reducer was built over, read back from DDP's own logging data (not from our bookkeeping)."""
    data = ddp._get_ddp_logging_data()
    return {"tensors": int(data["num_parameter_tensors"]), "bytes": int(data["total_parameter_size_bytes"])}


def trainable_parameters(module) -> dict:
    """The same two numbers for the parameters that require grad now (shared tensors counted once)."""
    params = {id(p): p for p in module.parameters() if p.requires_grad}.values()
    return {"tensors": len(params), "bytes": sum(p.numel() * p.element_size() for p in params)}


def rebuild_reducer(ddp: DistributedDataParallel) -> None:
    """Rebuild `ddp`'s reducer over the parameters that require grad now; call between optimizer steps."""
    unsupported = {
        "mixed_precision": ddp.mixed_precision is not None,
        "static_graph": ddp.static_graph,
        "delay_all_reduce_named_params": bool(ddp._delay_all_reduce_params),
        "python reducer (torch._dynamo optimize_ddp)": ddp._use_python_reducer,
    }
    bad = [name for name, on in unsupported.items() if on]
    if bad:
        raise NotImplementedError(
            f"cannot rebuild the DDP reducer after a block switch with {bad}; "
            "wrap without these options (the Trainer's default DDP has none of them)"
        )
    params, sparse = ddp._build_params_for_reducer()
    if not params:
        raise RuntimeError("no parameter requires grad after the switch; DDP needs at least one")
    hooks = list(ddp._comm_hooks)
    ddp._ddp_init_helper(params, sparse, ddp._build_debug_param_to_name_mapping(params), False)
    for hook, state in hooks:  # e.g. accelerate's fp16/bf16 compression hooks
        dist._register_comm_hook(ddp.reducer, state, hook)
    ddp._has_rebuilt_buckets = False


def check_same_on_all_ranks(value, what: str) -> None:
    """Under torch.distributed (torchrun / accelerate DDP) every rank must hold the same `value`; raises if not.

    Samplers draw from private generators seeded by the run's seed (the same on every rank) and MISA's scores
    come from all-reduced gradients, so ranks agree by construction; this check makes a disagreement (e.g. a
    rank-dependent seed) a clear error instead of silently diverging replicas. DDP itself runs with
    ``find_unused_parameters=True`` (the Trainer's default without gradient checkpointing), so frozen blocks
    are skipped by the reducer each step; a callback bound to its Trainer also rebuilds the reducer over the
    active parameters (`BlockSwitchCallback.bind`, `core.training.ddp`)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    if any(g != gathered[0] for g in gathered):
        raise RuntimeError(
            f"ranks disagree on the {what}: {gathered}; every rank must use the same sampler seed"
        )

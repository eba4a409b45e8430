"""Sharded training with FSDP2 (`torch.distributed.fsdp.fully_shard`) for full FT, LoRA, LISA, MISA, IST and BAdam
(config ``sharding: fsdp2``, launched with ``torchrun``).

`shard_model` makes each decoder layer its own ``fully_shard`` unit and the root unit hold what is left
(embeddings, final norm, head): https://pytorch.org/docs/stable/distributed.fsdp.fully_shard.html. Every
parameter becomes a DTensor sharded on dim 0 over the ranks; a unit all-gathers its parameters for its forward and
backward and reduce-scatters the gradients of the parameters that require grad. FSDP2 re-reads ``requires_grad``
of the sharded parameters at every unshard, so the block-switching callbacks (`core.training.callbacks`) toggle it
between steps as they do on one device; every rank must switch the same blocks (`check_same_on_all_ranks`), or the
collectives would wait forever for a rank that skips one.

`ShardedTrainer` is the HF Trainer on a model sharded before the Trainer is built, so that the optimizer is built
over the sharded parameters (an optimizer built earlier would hold the replaced, unsharded tensors: the FSDP form
of LMFlow bug #726, refused by `BlockSwitchCallback.attach`). The Trainer does not wrap it in DDP (its
``is_distributed_loading_by_transformers`` path: "the model already owns placement and gradient reduction"), and
checkpoints go through `torch.distributed.checkpoint` (https://pytorch.org/docs/stable/distributed.checkpoint.html):
each rank writes its own shards of the weights and of the AdamW state of the parameters that have state.

accelerate's own FSDP2 (``fsdp_version: 2``, `FSDP2_CONFIG`, launched with ``sharding: none``) is set up by
accelerate only for accelerator devices: on CPU processes (``MULTI_CPU``, gloo) accelerate 1.15 ignores the FSDP
plugin and wraps the model in DDP (`accelerate.state.AcceleratorState`), so that path is for CUDA; its config is
checked by a test, the path itself was not run here.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from transformers import Trainer

from core.sources.layers import find_blocks
from core.training.ddp import check_same_on_all_ranks
from core.training.dtensor import is_sharded
from core.training.optimizers import state_holder

DCP_MODEL, DCP_OPTIM = "dcp_model", "dcp_optimizer"
FSDP2_CONFIG = Path(__file__).with_name("accelerate_fsdp2.yaml")  # accelerate's FSDP2 for the Trainer on CUDA


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_from_env() -> None:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA), as the Trainer's accelerate
    state would; a plain `python` process has none and cannot shard."""
    if distributed():
        return
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError(
            "sharding=fsdp2 needs torch.distributed: launch with "
            "`torchrun --nproc_per_node N -m core.running.experiment ...`; a single process trains with sharding=none"
        )
    from accelerate import PartialState

    PartialState()  # init_process_group with the backend accelerate picks (gloo for CPU processes)


def fingerprint(model) -> list[float]:
    """Per-parameter float64 sums: enough to see that two ranks did not build the same model."""
    return [float(p.detach().double().sum()) for p in model.parameters()]


def shard_model(model):
    """Shard `model` in place with FSDP2: one unit per decoder layer, the root unit for the rest.

    Every rank must pass the same weights (the same seeded model); checked with an all-gather of per-tensor
    sums, because ``fully_shard`` keeps each rank's own slice and would silently mix two models."""
    from torch.distributed.fsdp import fully_shard

    init_from_env()
    check_same_on_all_ranks(fingerprint(model), "model weights before sharding (per-tensor sums)")
    for _, layer in find_blocks(model).layers:
        fully_shard(layer)
    fully_shard(model)
    return model


def model_state(model) -> dict:
    """The parameters by name, as DTensors (DCP saves and loads each rank's shards)."""
    return {name: p.detach() for name, p in model.named_parameters()}


def optimizer_state(model, optimizer) -> dict:
    """``{"<param name>.<key>": tensor}`` for every parameter that has AdamW state now (inactive blocks have
    none: the callbacks free it)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        f"{names[id(p)]}.{key}": value
        for p, state in optimizer.state.items()
        for key, value in state.items()
        if torch.is_tensor(value)
    }


def saved_keys(path: Path) -> set[str]:
    """The keys a DCP directory holds (its metadata; no tensor is read)."""
    return set(dcp.FileSystemReader(str(path)).read_metadata().state_dict_metadata)


def load_weights(model, folder: Path) -> None:
    """Load the weights `ShardedTrainer` saved into the sharded `model` in place; a collective."""
    folder = Path(folder)
    if not (folder / DCP_MODEL).is_dir():
        raise FileNotFoundError(
            f"{folder} has no {DCP_MODEL}/: it was not written by a sharding=fsdp2 run; resume it with the "
            "sharding it was made with"
        )
    dcp.load(model_state(model), checkpoint_id=str(folder / DCP_MODEL))


def load_optimizer(model, optimizer, folder: Path) -> None:
    """Rebuild the optimizer state of exactly the parameters that had state when `ShardedTrainer` saved them (same
    placement as the parameter; ``step`` a scalar as AdamW keeps it) and fill it from the checkpoint."""
    keys, params = saved_keys(Path(folder) / DCP_OPTIM), dict(model.named_parameters())
    fresh = {}
    for key in sorted(keys):
        name, field = key.rsplit(".", 1)
        fresh[key] = (
            torch.zeros((), dtype=torch.float32) if field == "step" else torch.zeros_like(params[name])
        )
    dcp.load(fresh, checkpoint_id=str(Path(folder) / DCP_OPTIM))
    optimizer.state.clear()
    for key, value in fresh.items():
        name, field = key.rsplit(".", 1)
        optimizer.state[params[name]][field] = value


class ShardedTrainer(Trainer):
    """`transformers.Trainer` on a model already sharded by `shard_model`: no DDP wrapper, DCP checkpoints."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not is_sharded(self.model):
            raise ValueError("ShardedTrainer needs a model sharded by core.training.fsdp.shard_model first")
        # the Trainer's path for models whose parameters are DTensors already: no DDP, no second sharding
        self.is_distributed_loading_by_transformers = True

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Checkpoints (``_internal_call``) hold the shards; a final export would need the full weights."""
        if not _internal_call:
            raise NotImplementedError(
                "export of a sharded model is not implemented; results are written per run"
            )
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        dcp.save(model_state(self.model), checkpoint_id=str(Path(output_dir) / DCP_MODEL))

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        from transformers.trainer import SCHEDULER_NAME

        state = optimizer_state(self.model, state_holder(self.optimizer))
        dcp.save(state, checkpoint_id=str(Path(output_dir) / DCP_OPTIM))
        if self.args.should_save:
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        load_weights(model or self.model, Path(resume_from_checkpoint))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        from transformers.trainer import SCHEDULER_NAME

        load_optimizer(self.model, state_holder(self.optimizer), Path(checkpoint))
        self.lr_scheduler.load_state_dict(
            torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True)
        )

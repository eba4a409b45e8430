"""The optimizers the registry's baselines bring (`core.training.methods`): BAdam's BlockOptimizer (Luo et al. 2024) and
GaLore (Zhao et al. 2024), through the Trainer's galore-torch integration or built by hand for a bench step."""

from __future__ import annotations

import torch

from core.training.dtensor import local_bytes

GALORE_TARGETS = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "c_attn",
    "c_fc",
]


def badam_optimizer(model, cfg):
    """BAdam's BlockOptimizer around AdamW (BAdam README usage); it freezes all but one block itself."""
    from badam import BlockOptimizer

    base = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    b = cfg.badam
    return BlockOptimizer(
        base_optimizer=base,
        named_parameters_list=list(model.named_parameters()),
        switch_block_every=b.interval,
        switch_mode=b.switch_mode,
        verbose=0,
        include_embedding=b.include_embedding,
        include_lm_head=b.include_lm_head,
    )


def galore_trainer_args(cfg) -> dict:
    """GaLore (Zhao et al. 2024) through the Trainer's galore-torch integration, on the blocks' linear modules."""
    g = cfg.galore
    return dict(
        optim="galore_adamw",
        optim_target_modules=GALORE_TARGETS,
        optim_args=f"rank={g.rank},update_proj_gap={g.update_proj_gap},scale={g.scale}",
    )


def galore_optimizer(model, cfg):
    """GaLoreAdamW on the 2-D weights inside the layers, plain AdamW on the rest (GaLore §4 setup)."""
    from galore_torch import GaLoreAdamW

    low_rank = [p for n, p in model.named_parameters() if p.dim() == 2 and ".layers." in f".{n}"]
    ids = {id(p) for p in low_rank}
    rest = [p for p in model.parameters() if id(p) not in ids]
    g = cfg.galore
    return GaLoreAdamW(
        [
            {"params": rest},
            {
                "params": low_rank,
                "rank": g.rank,
                "update_proj_gap": g.update_proj_gap,
                "scale": g.scale,
                "proj_type": "std",
            },
        ],
        lr=cfg.lr,
    )


# ---- the state a block-switching callback frees (core.training.callbacks) ----


def base_optimizer(optimizer):
    """The torch optimizer inside accelerate's AcceleratedOptimizer wrapper."""
    return getattr(optimizer, "optimizer", optimizer)


def state_holder(optimizer):
    """The optimizer whose ``state`` holds the per-parameter moments: the base optimizer, or inside BAdam's
    BlockOptimizer (which keeps an empty ``state`` of its own) its ``base_optimizer``."""
    base = base_optimizer(optimizer)
    return getattr(base, "base_optimizer", base)


def optimizer_params(optimizer) -> set[int]:
    return {id(p) for group in base_optimizer(optimizer).param_groups for p in group["params"]}


def set_trainable(params, on: bool, optimizer) -> None:
    """Toggle a block; an inactive block keeps neither gradient nor optimizer state."""
    state = base_optimizer(optimizer).state if optimizer is not None else {}
    for p in params:
        p.requires_grad_(on)
        if not on:
            p.grad = None
            state.pop(p, None)


def optimizer_state_bytes(optimizer) -> int:
    """Bytes held by the optimizer's per-parameter state tensors on this rank (under FSDP2: its shards)."""
    return local_bytes(t for s in state_holder(optimizer).state.values() for t in s.values())

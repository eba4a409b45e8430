"""What the analytic memory model (`core.costs.memory.predict_memory`) is asked about, as one object: the method (or
alias) with its module, the batch and sequence, the knobs of the method's memory terms and the storage widths.
`MemorySetting.of(cfg)` reads it off a run config: a plug-in method's own settings (``cfg.<key>``) give its
``gamma`` / ``budget`` / ``update_frac`` when they have such a field, else LISA's, MISA's and IST's sections do.
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class MemorySetting:
    """One question to the memory model; the fields in the order of `predict_memory`'s former parameters."""

    method: str  # a method or alias of the registry (core.training.methods)
    batch: int
    seq: int
    gamma: int = 2  # trainable layers of a ``lisa`` memory term
    lora_r: int = 8
    weight_bytes: int = 4
    grad_bytes: int = 4
    state_bytes: int = 4
    act_bytes: int = 4
    master_weights: bool = False  # an fp32 copy of the trainable weights (mixed precision)
    galore_rank: int = 0  # > 0: GaLore's projected state replaces the layers' moments
    attention_scores: bool = False  # eager attention / CUDA fp32 SDPA save the b·heads·s² probabilities
    budget: float = 0.03  # MISA's δ
    block_params: int = 0  # exactly this many trainable block parameters (0: from budget or one layer)
    lowest_layer: int = 0  # the lowest active layer of a block method (0: worst case)
    update_frac: float = 0.25  # IST's trained fraction of the layers
    ranks: int = 1  # > 1: per rank under FSDP2
    method_module: str = ""  # the module that registers `method` (a plug-in), imported first

    @classmethod
    def of(cls, cfg, **over) -> MemorySetting:
        """The setting of a run config (`core.training.config.RunConfig`): its method and module, batch, max_length,
        LoRA rank, GaLore's rank for a method building GaLore's optimizer, the dtype's widths and the method's knobs;
        `over` replaces any field."""
        from core.training import methods

        method = methods.method_of(cfg)
        own = methods.settings_of(cfg)

        def knob(name: str, section: str):
            return getattr(own if hasattr(own, name) else getattr(cfg, section), name)

        width = DTYPE_BYTES[cfg.dtype]
        fields = dict(
            method=cfg.method,
            method_module=cfg.method_module,
            batch=cfg.batch_size,
            seq=cfg.max_length,
            gamma=knob("gamma", "lisa"),
            lora_r=cfg.lora.r,
            budget=knob("budget", "misa"),
            update_frac=knob("update_frac", "ist"),
            galore_rank=cfg.galore.rank if method.step_optimizer is not None else 0,
            **{f"{k}_bytes": width for k in ("weight", "grad", "state", "act")},
        )
        return cls(**{**fields, **over})

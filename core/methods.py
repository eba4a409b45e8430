"""The method registry: one `Method` entry per fine-tuning method, read by the config checks (`core.checks`), the
Trainer run (`core.finetune`) and the one-batch bench (`core.bench`), in the spirit of peft's
``register_peft_method``: a new method is one `register(Method(...))` call and nothing else.

An entry says what the method changes in a plain AdamW `transformers.Trainer` run:
- `adapter(cfg)`: the model is wrapped in peft LoRA first (LoRA, Hu et al. 2021; `dora`: DoRA, Liu et al. 2024);
- `callback(cfg, ctx)`: a callback choosing what trains (LISA Alg. 1, MISA, IST), built from the config with
  keyword arguments and the run's `RunContext`;
- `optimizer(model, cfg)`: replaces AdamW, in the Trainer and in a bench step (BAdam's BlockOptimizer);
- `trainer_args(cfg)`: extra TrainingArguments (GaLore's ``optim="galore_adamw"``); `step_optimizer(model, cfg)`
  builds that optimizer by hand for a bench step, where no Trainer exists;
- `zeroth_order`: each step is one SPSA estimate (MeZO Alg. 1; Sparse MeZO with ``zo.sparsity``): `ZOTrainer`,
  no gradient to clip or accumulate;
- `trains`: False for evaluation only (`zero_shot`); `encoder_ok`: an encoder's verbalizer classifier
  (`core.encoder_cls`) can use it; `check(cfg, layers)`: a config problem in words (None: none);
- `memory`: the terms of the analytic peak-memory model (`MemoryTerms`, read by `core.memory.predict_memory`).

An `Alias` names a method with some settings fixed, for the bench and the memory model (`core.memory`):
``sparse_mezo`` is ``mezo`` with ``zo.sparsity`` 0.8 (magnitude mask, Sparse MeZO's best), ``random_mezo`` the
same with the random mask (R-MeZO control), ``inference`` is ``zero_shot``. Configs keep the method names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.callbacks import ISTCallback, LisaCallback, MisaCallback
from core.config import ConfigError, close_names

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


def never(cfg) -> bool:
    return False


def always(cfg) -> bool:
    return True


def no_trainer_args(cfg) -> dict:
    return {}


def no_problem(cfg, layers: int | None) -> str | None:
    return None


def zo_on_lora(cfg) -> bool:
    """MeZO on the LoRA adapters only (``zo.lora``; MeZO README)."""
    return cfg.zo.lora


@dataclass(frozen=True)
class MemoryTerms:
    """What one step of a method keeps in memory, as `core.memory.predict_memory` counts it.

    trainable: ``all`` parameters | ``lisa`` (embeddings + head + γ layers) | ``lora`` (every layer's adapters) |
    ``ist`` (the adapters of ⌊update_frac·L⌋ layers) | ``block`` (MISA's δ budget or one layer) | ``none``.
    activations: saved for backward by ``all_layers`` | ``gamma_layers`` (γ trainable, the rest frozen) |
    ``block`` (the active matrices' share of a layer) | ``lora`` | ``forward`` (no autograd: forward-only).
    """

    trainable: str = "all"
    activations: str = "all_layers"
    lora_weights: bool = False  # adapter weights on top of the model's
    tied_grad: bool = False  # a tied embedding / head sums two gradient contributions in one more V×h buffer
    master_copy: bool = False  # an fp32 copy of the trainable weights (BAdam's BlockOptimizer keeps one)
    low_rank_state: bool = (
        False  # with ``galore_rank``, GaLore's projected state replaces the layers' moments
    )
    budget_block: bool = False  # the block is δ of all parameters (MISA), else one layer (BAdam)
    zeroth_order: bool = False  # a ZO probe's perturbation transient


@dataclass(frozen=True)
class RunContext:
    """What a method's callback may need of its run besides the config: the run folder (where its logs go), the
    training set and the collator (IST's probe batches). Empty for a hand-driven step (`core.bench`)."""

    out: Path | None = None
    train: Any = None
    collator: Any = None

    def log(self, filename: str) -> Path | None:
        return None if self.out is None else self.out / filename

    def batch(self, indices) -> dict:
        """A model-ready batch of the training examples at `indices`."""
        return self.collator([self.train[j] for j in indices])


@dataclass(frozen=True)
class Method:
    """One fine-tuning method: what it changes in a plain AdamW Trainer run (module docstring)."""

    name: str  # the config's ``method:``
    about: str  # what it is, with its paper
    adapter: Callable = never  # cfg -> wrap the model in peft LoRA first?
    dora: bool = False  # that LoRA is DoRA (peft's use_dora)
    encoder_ok: bool = False  # an encoder's verbalizer classifier may use it
    zeroth_order: bool = False  # SPSA steps (ZOTrainer): no gradient to clip or accumulate
    trains: bool = True  # False: evaluation only
    callback: Callable | None = None  # (cfg, RunContext) -> TrainerCallback
    optimizer: Callable | None = None  # (model, cfg) -> optimizer replacing AdamW (Trainer and bench)
    step_optimizer: Callable | None = None  # (model, cfg) -> the optimizer trainer_args name, built by hand
    trainer_args: Callable = no_trainer_args  # cfg -> extra TrainingArguments
    check: Callable = no_problem  # (cfg, model layers or None) -> a config problem in words, or None
    memory: MemoryTerms = MemoryTerms()  # terms of the analytic memory model (core.memory)


@dataclass(frozen=True)
class Alias:
    """A bench / memory-model name for `method` with `settings` (nested RunConfig keys) fixed."""

    name: str
    method: str
    settings: dict = field(default_factory=dict)


METHODS: dict[str, Method] = {}
ALIASES: dict[str, Alias] = {}


def register(method: Method) -> Method:
    """Add `method`; its name becomes a valid ``method:`` of a config."""
    if method.name in METHODS or method.name in ALIASES:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def register_alias(alias: Alias) -> Alias:
    if alias.name in METHODS or alias.name in ALIASES:
        raise ValueError(f"name {alias.name!r} is already registered")
    if alias.method not in METHODS:
        raise ValueError(f"alias {alias.name!r} names unknown method {alias.method!r}")
    ALIASES[alias.name] = alias
    return alias


def names() -> tuple[str, ...]:
    """Every method a config may name, in registration order."""
    return tuple(METHODS)


def encoder_names() -> tuple[str, ...]:
    return tuple(name for name, m in METHODS.items() if m.encoder_ok)


def get(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}{close_names(name, METHODS)}")
    return METHODS[name]


def load_module(name: str) -> None:
    """Import the module that registers a config's method (``method_module``); a missing one is a ConfigError."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"method_module={name!r} cannot be imported ({err}); give a module on the Python path "
            "(e.g. mypkg.my_method) that calls core.methods.register"
        ) from None


def method_of(cfg) -> Method:
    """The entry of a config's method (any object with ``method``; ``method_module``, if set, is imported first)."""
    if getattr(cfg, "method_module", ""):
        load_module(cfg.method_module)
    return get(cfg.method)


def resolve(name: str) -> tuple[Method, dict]:
    """(method, fixed settings) of a method name or an alias."""
    if name in ALIASES:
        return get(ALIASES[name].method), ALIASES[name].settings
    return get(name), {}


def uses_lora(cfg) -> bool:
    return method_of(cfg).adapter(cfg)


def lisa_callback(cfg, ctx: RunContext) -> LisaCallback:
    """LISA (Pan et al. 2024, Alg. 1): γ middle layers re-drawn every K optimizer steps."""
    s = cfg.lisa
    return LisaCallback(
        gamma=s.gamma,
        interval=s.interval,
        seed=cfg.seed,
        train_embeddings=s.train_embeddings,
        train_head=s.train_head,
    )


def lisa_check(cfg, layers: int | None) -> str | None:
    """γ can be at most the model's layers."""
    if layers is not None and cfg.lisa.gamma > layers:
        return f"lisa.gamma={cfg.lisa.gamma}: {cfg.model} has {layers} layers; choose gamma <= {layers}"
    return None


def misa_callback(cfg, ctx: RunContext) -> MisaCallback:
    """MISA (Liu et al. 2025): weight matrices drawn by importance under the budget δ every T steps."""
    m = cfg.misa
    return MisaCallback(
        budget=m.budget,
        eta=m.eta,
        interval=m.interval,
        beta=m.beta,
        clip=m.clip,
        sample_last=m.sample_last,
        seed=cfg.seed,
        train_embeddings=m.train_embeddings,
        train_head=m.train_head,
    )


def ist_callback(cfg, ctx: RunContext) -> ISTCallback:
    """IST's probe batches are drawn from the run's training set (none for a bench step, which never probes)."""
    i = cfg.ist
    probe = (
        None
        if ctx.train is None
        else (lambda sampler: ctx.batch(sampler.probe_indices(len(ctx.train), i.probe_batch)))
    )
    return ISTCallback(
        interval=i.interval,
        update_frac=i.update_frac,
        suppress_frac=i.suppress_frac,
        n_probes=i.n_probes,
        lr=i.lr,
        suppression=i.suppression,
        seed=cfg.seed,
        uniform=i.uniform,
        probe_batch=probe,
        free_state=i.free_state,
        log_path=ctx.log("ist_scores.jsonl"),
    )


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


FULL_MEMORY = MemoryTerms(tied_grad=True, low_rank_state=True)
LORA_MEMORY = MemoryTerms(trainable="lora", activations="lora", lora_weights=True)
FORWARD_MEMORY = MemoryTerms(trainable="none", activations="forward")

register(Method("full", "full fine-tuning (AdamW)", encoder_ok=True, memory=FULL_MEMORY))
register(
    Method("lora", "LoRA (Hu et al. 2021) through peft", adapter=always, encoder_ok=True, memory=LORA_MEMORY)
)
register(
    Method(
        "dora",
        "DoRA (Liu et al. 2024) through peft's use_dora",
        adapter=always,
        dora=True,
        encoder_ok=True,
        memory=LORA_MEMORY,
    )
)  # DoRA's magnitude vectors (one per output row) not counted
register(
    Method(
        "galore",
        "GaLore (Zhao et al. 2024) through galore-torch",
        trainer_args=galore_trainer_args,
        step_optimizer=galore_optimizer,
        memory=FULL_MEMORY,
    )
)
register(
    Method(
        "lisa",
        "LISA (Pan et al. 2024, Alg. 1)",
        callback=lisa_callback,
        check=lisa_check,
        memory=MemoryTerms(trainable="lisa", activations="gamma_layers", tied_grad=True),
    )
)
register(
    Method(
        "misa",
        "MISA (Liu et al. 2025)",
        callback=misa_callback,
        memory=MemoryTerms(trainable="block", activations="block", budget_block=True),
    )
)
register(
    Method(
        "badam",
        "BAdam (Luo et al. 2024) through the badam package",
        optimizer=badam_optimizer,
        memory=MemoryTerms(trainable="block", activations="block", master_copy=True),
    )
)
register(
    Method(
        "ist",
        "IST (Yao et al. 2024) on LoRA adapters",
        adapter=always,
        callback=ist_callback,
        memory=MemoryTerms(trainable="ist", activations="lora", lora_weights=True),
    )
)
register(
    Method(
        "mezo",
        "MeZO (Malladi et al. 2023) / Sparse MeZO (Liu et al. 2024) with zo.sparsity",
        adapter=zo_on_lora,
        encoder_ok=True,
        zeroth_order=True,
        memory=MemoryTerms(trainable="none", activations="forward", zeroth_order=True),
    )
)
register(
    Method("zero_shot", "no training: evaluation only", encoder_ok=True, trains=False, memory=FORWARD_MEMORY)
)

register_alias(Alias("inference", "zero_shot"))
register_alias(Alias("sparse_mezo", "mezo", {"zo": {"mask": "magnitude", "sparsity": 0.8}}))
register_alias(Alias("random_mezo", "mezo", {"zo": {"mask": "random", "sparsity": 0.8}}))

"""The method registry: one `Method` entry per fine-tuning method, read by the config checks (`core.training.checks`),
the Trainer run (`core.training.finetune`) and the one-batch bench (`core.costs.bench`), in the spirit of peft's
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
  (`core.sources.encoder_cls`) can use it; `check(cfg, layers)`: a config problem in words (None: none);
- `memory`: the terms of the analytic peak-memory model (`MemoryTerms`, read by `core.costs.memory.predict_memory`);
- `settings`: the method's own settings dataclass (`core.training.settings`: defaults, ranges, help), mounted in the run
  config under `key` (default: the name; ``cfg.<key>``), whose ranges the config checks read and from which its
  callback is built (`settings_of`); `label`: its name in figures (`core.reporting.plotting.name`); `fsdp2`: it runs
  sharded.

A method outside this file lives in a module of its own, named by a config's ``method_module`` (README "Adding a
method"); every entry point imports it by that name (`get`, `resolve`, `method_of` take the module).

An `Alias` names a method with some settings fixed, for the bench and the memory model (`core.costs.memory`):
``sparse_mezo`` is ``mezo`` with ``zo.sparsity`` 0.8 (magnitude mask, Sparse MeZO's best), ``random_mezo`` the
same with the random mask (R-MeZO control), ``inference`` is ``zero_shot``. Configs keep the method names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.training.callbacks import ISTCallback, LisaCallback, MisaCallback
from core.training.config import close_names, import_method_module, mount
from core.training.optimizers import badam_optimizer, galore_optimizer, galore_trainer_args
from core.training.settings import (
    BadamSettings,
    GaloreSettings,
    IstSettings,
    LisaSettings,
    LoraSettings,
    MisaSettings,
    ZoSettings,
)


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
    """What one step of a method keeps in memory, as `core.costs.memory.predict_memory` counts it.

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
    training set and the collator (IST's probe batches). Empty for a hand-driven step (`core.costs.bench`)."""

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
    memory: MemoryTerms = MemoryTerms()  # terms of the analytic memory model (core.costs.memory)
    settings: type | None = None  # its settings dataclass (core.training.settings), mounted as cfg.<section>
    key: str = ""  # the config key of its settings (default: its name)
    label: str = ""  # its name in figures (default: its name)
    fsdp2: bool = False  # runs sharded under sharding=fsdp2 (core.training.fsdp; tested on CPU with gloo)

    @property
    def section(self) -> str:
        """The config key of its settings (``cfg.<section>``)."""
        return self.key or self.name

    @property
    def display(self) -> str:
        """Its name in figures and tables."""
        return self.label or self.name


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
    if method.settings is not None:
        mount(method.name, method.section, method.settings)
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


def fsdp2_names() -> tuple[str, ...]:
    return tuple(name for name, m in METHODS.items() if m.fsdp2)


def load_module(name: str) -> None:
    """Import the module that registers a config's method (``method_module``); a missing one is a ConfigError."""
    import_method_module(name)


def get(name: str, module: str = "") -> Method:
    """The entry of method `name`; `module` (a ``method_module``), if given, is imported first."""
    if module:
        load_module(module)
    if name not in METHODS:
        hint = "" if module else "; a method of your own: name its module (method_module / --method-module)"
        raise KeyError(f"unknown method {name!r}{close_names(name, METHODS)}{hint}")
    return METHODS[name]


def method_of(cfg) -> Method:
    """The entry of a config's method (any object with ``method``; ``method_module``, if set, is imported first)."""
    return get(cfg.method, getattr(cfg, "method_module", ""))


def resolve(name: str, module: str = "") -> tuple[Method, dict]:
    """(method, fixed settings) of a method name or an alias (`module` imported first, as `get`)."""
    if name in ALIASES:
        return get(ALIASES[name].method), ALIASES[name].settings
    return get(name, module), {}


def settings_of(cfg):
    """The settings object of a config's method (``cfg.<key>``); None for a method without settings."""
    method = method_of(cfg)
    return None if method.settings is None else getattr(cfg, method.section)


def uses_lora(cfg) -> bool:
    return method_of(cfg).adapter(cfg)


def lisa_callback(cfg, ctx: RunContext) -> LisaCallback:
    """LISA (Pan et al. 2024, Alg. 1): γ middle layers re-drawn every K optimizer steps."""
    return LisaCallback.from_settings(cfg.lisa, seed=cfg.seed)


def lisa_check(cfg, layers: int | None) -> str | None:
    """γ can be at most the model's layers."""
    if layers is not None and cfg.lisa.gamma > layers:
        return f"lisa.gamma={cfg.lisa.gamma}: {cfg.model} has {layers} layers; choose gamma <= {layers}"
    return None


def badam_check(cfg, layers: int | None) -> str | None:
    """Sharded BAdam cannot resume: BlockOptimizer's block position is not in the DCP checkpoint."""
    if cfg.sharding == "fsdp2" and cfg.save_every:
        return (
            f"save_every={cfg.save_every} with method=badam and sharding=fsdp2: the sharded checkpoint keeps AdamW's "
            "moments but not BlockOptimizer's block position; set save_every=0 or use sharding=none"
        )
    return None


def misa_callback(cfg, ctx: RunContext) -> MisaCallback:
    """MISA (Liu et al. 2025): weight matrices drawn by importance under the budget δ every T steps."""
    return MisaCallback.from_settings(cfg.misa, seed=cfg.seed)


def ist_callback(cfg, ctx: RunContext) -> ISTCallback:
    """IST's probe batches are drawn from the run's training set (none for a bench step, which never probes)."""
    i = cfg.ist
    probe = (
        None
        if ctx.train is None
        else (lambda sampler: ctx.batch(sampler.probe_indices(len(ctx.train), i.probe_batch)))
    )
    return ISTCallback.from_settings(
        i, seed=cfg.seed, probe_batch=probe, log_path=ctx.log("ist_scores.jsonl")
    )


FULL_MEMORY = MemoryTerms(tied_grad=True, low_rank_state=True)
LORA_MEMORY = MemoryTerms(trainable="lora", activations="lora", lora_weights=True)
FORWARD_MEMORY = MemoryTerms(trainable="none", activations="forward")

register(
    Method(
        "full", "full fine-tuning (AdamW)", label="Full FT", encoder_ok=True, memory=FULL_MEMORY, fsdp2=True
    )
)
register(
    Method(
        "lora",
        "LoRA (Hu et al. 2021) through peft",
        label="LoRA",
        adapter=always,
        encoder_ok=True,
        memory=LORA_MEMORY,
        settings=LoraSettings,
        fsdp2=True,
    )
)
register(
    Method(
        "dora",
        "DoRA (Liu et al. 2024) through peft's use_dora",
        label="DoRA",
        adapter=always,
        dora=True,
        encoder_ok=True,
        memory=LORA_MEMORY,
        settings=LoraSettings,
        key="lora",
    )
)  # DoRA's magnitude vectors (one per output row) not counted
register(
    Method(
        "galore",
        "GaLore (Zhao et al. 2024) through galore-torch",
        label="GaLore",
        trainer_args=galore_trainer_args,
        step_optimizer=galore_optimizer,
        memory=FULL_MEMORY,
        settings=GaloreSettings,
    )
)
register(
    Method(
        "lisa",
        "LISA (Pan et al. 2024, Alg. 1)",
        label="LISA",
        callback=lisa_callback,
        check=lisa_check,
        memory=MemoryTerms(trainable="lisa", activations="gamma_layers", tied_grad=True),
        settings=LisaSettings,
        fsdp2=True,
    )
)
register(
    Method(
        "misa",
        "MISA (Liu et al. 2025)",
        label="MISA",
        callback=misa_callback,
        memory=MemoryTerms(trainable="block", activations="block", budget_block=True),
        settings=MisaSettings,
        fsdp2=True,
    )
)
register(
    Method(
        "badam",
        "BAdam (Luo et al. 2024) through the badam package",
        label="BAdam",
        optimizer=badam_optimizer,
        check=badam_check,
        memory=MemoryTerms(trainable="block", activations="block", master_copy=True),
        settings=BadamSettings,
        fsdp2=True,
    )
)
register(
    Method(
        "ist",
        "IST (Yao et al. 2024) on LoRA adapters",
        label="LoRA + IST",
        adapter=always,
        callback=ist_callback,
        memory=MemoryTerms(trainable="ist", activations="lora", lora_weights=True),
        settings=IstSettings,
        fsdp2=True,
    )
)
register(
    Method(
        "mezo",
        "MeZO (Malladi et al. 2023) / Sparse MeZO (Liu et al. 2024) with zo.sparsity",
        label="MeZO",
        adapter=zo_on_lora,
        encoder_ok=True,
        zeroth_order=True,
        memory=MemoryTerms(trainable="none", activations="forward", zeroth_order=True),
        settings=ZoSettings,
        key="zo",
    )
)
register(
    Method(
        "zero_shot",
        "no training: evaluation only",
        label="zero-shot",
        encoder_ok=True,
        trains=False,
        memory=FORWARD_MEMORY,
    )
)

register_alias(Alias("inference", "zero_shot"))
register_alias(Alias("sparse_mezo", "mezo", {"zo": {"mask": "magnitude", "sparsity": 0.8}}))
register_alias(Alias("random_mezo", "mezo", {"zo": {"mask": "random", "sparsity": 0.8}}))

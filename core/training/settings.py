"""Each method's own settings, written once: one dataclass per method whose fields carry their default, their
allowed range (or choices) and a one-line help. A method of the registry (`core.training.methods.Method.settings`) owns
its class; the run config mounts it under the method's key (``lisa:``, ``zo:``, a plug-in's own key), the config
checks read the ranges from here (`core.training.checks`), and the callbacks and samplers take their defaults from here
(`core.training.callbacks`, `core.training.sampling`), so no default is written twice.

A plug-in method declares its settings the same way::

    @dataclass
    class OwlSettings:
        gamma: int = setting(2, "[0, inf)", "layers trained at a time")
        power: float = setting(1.0, "(0, inf)", "outlier ratio exponent of the layer draw")
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def setting(default, range: str = "", help: str = "", choices: tuple = ()):  # noqa: A002 - the word users read
    """A settings field: its `default`, its allowed interval `range` (``'(0, inf)'``, ``'[0, 1)'``: '(' / ')'
    exclude the bound) or its `choices`, and a one-line `help`."""
    return field(default=default, metadata={"range": range, "help": help, "choices": tuple(choices)})


def ranges(cls) -> dict[str, str]:
    """{field: allowed interval} of a settings class (fields without one left out)."""
    return {f.name: f.metadata["range"] for f in dataclasses.fields(cls) if f.metadata.get("range")}


def choices(cls) -> dict[str, tuple]:
    """{field: allowed values} of a settings class (fields without choices left out)."""
    return {f.name: f.metadata["choices"] for f in dataclasses.fields(cls) if f.metadata.get("choices")}


def help_text(cls) -> dict[str, str]:
    """{field: one-line help} of a settings class."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def defaults(cls) -> dict:
    """{field: default} of a settings class (the one place each default is written)."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


@dataclass
class LoraSettings:
    """LoRA baseline (Hu et al. 2021); LISA §4.2 uses rank 128 on all linear layers."""

    r: int = setting(8, "(0, inf)", "adapter rank")
    alpha: int = setting(16, "(0, inf)", "scaling numerator (scale = alpha / r)")
    dropout: float = setting(0.0, "[0, 1)", "dropout on the adapter input")
    targets: str = setting("all-linear", help="'all-linear' or module names joined by commas")
    dora: bool = setting(False, help="DoRA (Liu et al. 2024) through peft's use_dora")


@dataclass
class LisaSettings:
    """LISA Alg. 1: gamma middle layers re-sampled every `interval` (K) optimizer steps."""

    gamma: int = setting(2, "[0, inf)", "middle layers trained at a time (γ), at most the model's layers")
    interval: int = setting(5, "(0, inf)", "optimizer steps between two layer draws (K)")
    train_embeddings: bool = setting(True, help="the embeddings always train")
    train_head: bool = setting(True, help="the LM head always trains")


@dataclass
class MisaSettings:
    """MISA (Liu et al. 2025) defaults from the reference fine-tuning scripts (papers/misa/REFERENCE.md §3):
    budget δ = 3 % of all parameters, η = 1, re-selection every T = 50 steps, EMA β = 0.8, clip 5,
    `sample_last` = 2, embeddings and head frozen."""

    budget: float = setting(0.03, "(0, 1]", "trainable fraction δ of all parameters")
    eta: float = setting(1.0, "[0, inf)", "importance temperature η (0: module-uniform)")
    interval: int = setting(50, "(0, inf)", "steps between two re-selections (T)")
    beta: float = setting(0.8, "[0, 1)", "EMA factor β of the importance scores")
    clip: float = setting(5.0, "(0, inf)", "upper clip of η·G² before the softmax")
    sample_last: int = setting(2, "[0, inf)", "least recently used blocks drawn first")
    train_embeddings: bool = setting(False, help="the embeddings always train")
    train_head: bool = setting(False, help="the LM head always trains")


@dataclass
class BadamSettings:
    """BAdam (Luo et al. 2024) through the `badam` package's BlockOptimizer: one layer trainable at a time,
    switched every `interval` steps in `switch_mode` order; embeddings/head frozen (MISA's BAdam baseline)."""

    interval: int = setting(50, "(0, inf)", "steps between two block switches")
    switch_mode: str = setting(
        "random", help="order of the blocks", choices=("random", "ascending", "descending", "fixed")
    )
    include_embedding: bool = setting(False, help="the embeddings are a block")
    include_lm_head: bool = setting(False, help="the LM head is a block")


@dataclass
class IstSettings:
    """IST (Yao et al. 2024) defaults from the reference `ist.py` (papers/ist/REFERENCE.md §2): score update
    every `interval` = 10 steps from `n_probes` = 3 probe forwards with half of the layers' adapters scaled by
    `suppression` = 0.25, score lr 10, 25 % of the layers trained per step; probe batch 16 training examples.
    `uniform: true` is the random-selection control (same fraction, no scores). `free_state: false` keeps the
    AdamW state of deselected adapters (the reference's behaviour) instead of freeing it."""

    interval: int = setting(10, "(0, inf)", "steps between two score updates")
    n_probes: int = setting(3, "(0, inf)", "probe forwards per score update")
    suppress_frac: float = setting(0.5, "(0, 1]", "fraction of the layers suppressed in one probe")
    suppression: float = setting(0.25, "[0, 1]", "scale of a suppressed adapter (0 removes it)")
    update_frac: float = setting(0.25, "(0, 1]", "fraction of the layers trained per step")
    lr: float = setting(10.0, "(0, inf)", "learning rate of the layer scores")
    probe_batch: int = setting(16, "(0, inf)", "training examples in a probe batch")
    uniform: bool = setting(False, help="random layers, no scores (the random-selection control)")
    free_state: bool = setting(True, help="a deselected adapter's AdamW state is freed")


@dataclass
class ZoSettings:
    """MeZO (Malladi et al. 2023) / Sparse MeZO (Liu et al. 2024), `method: mezo`. eps = 1e-3 as MeZO's
    large_models/run.py; `sparsity` is the excluded fraction per tensor (0 = dense MeZO; Sparse MeZO's best is
    0.8); `mask` magnitude (S-MeZO) or random (R-MeZO control); `lora: true` runs ZO on LoRA adapters only (MeZO
    README: lr 1e-4, eps 1e-2)."""

    eps: float = setting(1e-3, "(0, inf)", "SPSA perturbation scale")
    sparsity: float = setting(0.0, "[0, 1)", "excluded fraction of each tensor (0: dense MeZO)")
    mask: str = setting("magnitude", help="which entries are perturbed", choices=("magnitude", "random"))
    lora: bool = setting(False, help="ZO on LoRA adapters only")


@dataclass
class GaloreSettings:
    """GaLore (Zhao et al. 2024) via galore-torch, applied to the 2-D weights of the blocks."""

    rank: int = setting(8, "(0, inf)", "rank of the projected gradient")
    update_proj_gap: int = setting(50, "(0, inf)", "steps between two projector updates")
    scale: float = setting(0.25, "(0, inf)", "scale of the projected update")

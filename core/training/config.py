"""Typed run configuration: the dataclasses of a run, `key=value` overrides, and `build`, which turns nested dicts
into a config, rejecting unknown and ill-typed keys with a one-line :class:`ConfigError` naming the key, the value
and what to change. Ranges, choices and cross-field rules (e.g. ``lisa.gamma`` <= the model's layers) are
`core.training.checks.validate`; `core.training.checks.run_config` builds and validates; experiment YAML files are
`core.training.experiment_file`. Each method's settings class lives in `core.training.settings`: the built-in ones are
RunConfig fields, a plug-in's is mounted under its key (`mount`, called by `core.training.methods.register`) and built
when a config names the plug-in's ``method_module``.
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

from core.training.settings import (  # noqa: F401 - the method settings, re-exported for `from core.training.config import ...`
    BadamSettings,
    GaloreSettings,
    IstSettings,
    LisaSettings,
    LoraSettings,
    MisaSettings,
    ZoSettings,
)


@dataclass
class LrProbeSettings:
    """Learning-rate probe (`core.running.lr_probe`): one short run per lr of `grid` (comma-separated), `steps` long, on
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
class DivergenceSettings:
    """When a run counts as diverged and stops (`core.training.divergence`): a non-finite loss at once; a loss above
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
    method: str = "full"  # a method of the registry, core.training.methods
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
    lm_eval_tasks: str = (
        "sft_math_mc,sft_instruct_ll"  # comma-separated names of core.sources.evaluate.LOCAL_TASKS
    )
    probe_every: int = 0  # full-gradient norm on a fixed validation batch every N steps (0: off)
    probe_examples: int = 8
    # none: one device, or DDP under torchrun (a replica per rank); fsdp2: parameters, gradients and AdamW state
    # sharded over the torchrun ranks (`core.training.fsdp`)
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
    # the settings of a plug-in method under its own key ({key: settings object}, `mount`); read as `cfg.<key>`
    mounted: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """Every field as plain data; a mounted section appears under its own key, as in the YAML."""
        out = dataclasses.asdict(self)
        out.update(out.pop("mounted"))
        return out

    def __getattr__(self, name: str):
        mounted = self.__dict__.get("mounted") or {}
        if name in mounted:
            return mounted[name]
        raise AttributeError(f"RunConfig has no setting {name!r}")

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


MOUNTS: dict[str, type] = {}  # config key -> settings class of a plug-in method (not a RunConfig field)
SECTION_OF: dict[str, str] = {}  # method name -> the config key of its settings


def _same_class(a, b) -> bool:
    """The same class, or the same one defined again (a plug-in module imported a second time)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def mount(method: str, key: str, cls) -> None:
    """Mount `method`'s settings class `cls` under config key `key`: a RunConfig field of that very class (the
    built-in methods) or a section of its own (a plug-in's key, built by `build` and read as ``cfg.<key>``)."""
    hints = typing.get_type_hints(RunConfig)
    if key in hints and hints[key] is not cls:
        raise ValueError(f"settings key {key!r} of method {method!r} is a RunConfig field of another type")
    if key not in hints:
        if key in MOUNTS and not _same_class(MOUNTS[key], cls):
            raise ValueError(f"settings key {key!r} of method {method!r} is taken by {MOUNTS[key].__name__}")
        MOUNTS[key] = cls
    SECTION_OF[method] = key


def import_method_module(name: str) -> None:
    """Import the module that registers a config's method (``method_module``); a missing one is a ConfigError."""
    import importlib

    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise ConfigError(
            f"method_module={name!r} cannot be imported ({err}); give a module on the Python path "
            "(e.g. mypkg.my_method) that calls core.training.methods.register"
        ) from None


def split_mounted(data: dict) -> tuple[dict, dict]:
    """(the RunConfig keys of `data`, {key: built settings} of its plug-in sections); ``method_module`` is imported
    first, and the config's own method gets its section with the defaults when `data` has none."""
    module = data.get("method_module")
    if isinstance(module, str) and module:
        import_method_module(module)
    mounted = {key: build(MOUNTS[key], value, f"{key}.") for key, value in data.items() if key in MOUNTS}
    own = SECTION_OF.get(data.get("method")) if isinstance(data.get("method"), str) else None
    if own in MOUNTS and own not in mounted:
        mounted[own] = MOUNTS[own]()
    return {k: v for k, v in data.items() if k not in MOUNTS}, mounted


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
    range or cross-field check (`core.training.checks.run_config` adds them), so a stored config gets its defaults
    filled."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or 'config'}: expected a mapping of keys, got {data!r}")
    mounted = None
    if cls is RunConfig:
        data, mounted = split_mounted(data)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)} - {"mounted"}
    kwargs = {} if mounted is None else {"mounted": mounted}
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

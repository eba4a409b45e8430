"""The method registry (`core.training.methods`): every entry builds its Trainer and its bench step as the code before
the registry did (expected values recorded from that code), and a new method is one registry entry."""

import pytest
import torch
from transformers import TrainerCallback

from core.training.finetune import build_trainer

# method -> (Trainer class, its method callbacks, optimizer given to the Trainer, TrainingArguments.optim,
#            max_grad_norm, trainable parameters once built) on the tiny Llama (tiny_cfg)
TRAINERS = {
    "full": ("Trainer", [], None, "adamw_torch_fused", 1.0, 181184),
    "lora": ("Trainer", [], None, "adamw_torch_fused", 1.0, 32768),
    "dora": ("Trainer", [], None, "adamw_torch_fused", 1.0, 34816),
    "galore": ("Trainer", [], None, "galore_adamw", 1.0, 181184),
    "lisa": ("Trainer", ["LisaCallback"], None, "adamw_torch_fused", 1.0, 181184),
    "misa": ("Trainer", ["MisaCallback"], None, "adamw_torch_fused", 1.0, 181184),
    "badam": ("Trainer", [], "BlockOptimizer", "adamw_torch_fused", 1.0, 36992),
    "ist": ("Trainer", ["ISTCallback"], None, "adamw_torch_fused", 1.0, 32768),
    "mezo": ("ZOTrainer", [], None, "adamw_torch_fused", 0.0, 181184),
    "zero_shot": ("Trainer", [], None, "adamw_torch_fused", 1.0, 181184),
}
# bench method or alias -> (optimizer class, trainable parameters, trainable parameters inside the layers) after
# `core.costs.bench.prepare` on the tiny profile (galore-torch's GaLoreAdamW is a class named AdamW)
BENCH = {
    "inference": ("NoneType", 181184, 147968),
    "full": ("AdamW", 181184, 147968),
    "lora": ("AdamW", 32768, 32768),
    "galore": ("AdamW", 181184, 147968),
    "lisa": ("AdamW", 107200, 73984),
    "misa": ("AdamW", 4096, 4096),
    "badam": ("BlockOptimizer", 36992, 36992),
    "ist": ("AdamW", 8192, 8192),
    "mezo": ("SPSA", 181184, 147968),
    "sparse_mezo": ("SPSA", 181184, 147968),
    "random_mezo": ("SPSA", 181184, 147968),
}


def method_callbacks(trainer) -> list[str]:
    names = ("LisaCallback", "MisaCallback", "ISTCallback")
    return [type(cb).__name__ for cb in trainer.callback_handler.callbacks if type(cb).__name__ in names]


@pytest.mark.parametrize("name", list(TRAINERS))
def test_every_method_builds_the_trainer_it_built_before_the_registry(name, tmp_path, tiny_cfg):
    trainer, _, model = build_trainer(tiny_cfg(method=name), tmp_path)
    optimizer = type(trainer.optimizer).__name__ if trainer.optimizer is not None else None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    got = (
        type(trainer).__name__,
        method_callbacks(trainer),
        optimizer,
        trainer.args.optim.value,
        trainer.args.max_grad_norm,
        trainable,
    )
    assert got == TRAINERS[name]


@pytest.mark.parametrize("name", list(BENCH))
def test_bench_prepares_each_method_as_before_the_registry(name):
    from core.costs.bench import PROFILES, active_layout, bench_model, prepare
    from core.training.run import seed_everything

    p = PROFILES["tiny"]
    seed_everything(0)
    model, opt = prepare(name, bench_model(p), p)
    trainable = sum(q.numel() for q in model.parameters() if q.requires_grad)
    assert (type(opt).__name__, trainable, active_layout(model)["block_params"]) == BENCH[name]


def test_the_registry_names_every_config_method_and_bench_alias():
    from core.training import methods

    assert methods.names() == tuple(TRAINERS)
    assert methods.encoder_names() == ("full", "lora", "dora", "mezo", "zero_shot")
    assert set(methods.ALIASES) | set(methods.METHODS) >= set(BENCH)
    zeroth_order = {n for n in (*methods.METHODS, *methods.ALIASES) if methods.resolve(n)[0].zeroth_order}
    assert zeroth_order == {"mezo", "sparse_mezo", "random_mezo"}
    memory_zo = {n for n in (*methods.METHODS, *methods.ALIASES) if methods.resolve(n)[0].memory.zeroth_order}
    assert memory_zo == zeroth_order  # the memory model's ZO terms follow the registry's ZO methods


def test_every_method_has_a_memory_model_and_a_new_one_needs_only_its_entry():
    """`predict_memory` takes every registered name; a method registered with a LISA-like memory entry gets LISA's
    prediction without any edit in core.costs.memory."""
    from core.costs.memory import PAPER_MODELS, predict_memory
    from core.training import methods

    spec = PAPER_MODELS["llama-2-7b"]
    totals = {n: predict_memory(spec, n, 1, 256)["total"] for n in (*methods.METHODS, *methods.ALIASES)}
    assert totals["inference"] == totals["zero_shot"] < totals["mezo"] < totals["lora"] < totals["full"]
    methods.register(methods.Method("lisa_twin", "test", memory=methods.get("lisa").memory))
    try:
        assert predict_memory(spec, "lisa_twin", 1, 256, gamma=4) == predict_memory(
            spec, "lisa", 1, 256, gamma=4
        )
    finally:
        del methods.METHODS["lisa_twin"]


def test_aliases_fix_mezo_settings_and_a_variant_may_replace_the_sparsity():
    from core.costs.bench import PROFILES, bench_config

    p = PROFILES["tiny"]
    zo = {
        n: (c.method, c.zo.mask, c.zo.sparsity)
        for n in ("mezo", "sparse_mezo", "random_mezo")
        for c in [bench_config(n, p)]
    }
    assert zo == {
        "mezo": ("mezo", "magnitude", 0.0),
        "sparse_mezo": ("mezo", "magnitude", 0.8),
        "random_mezo": ("mezo", "random", 0.8),
    }
    assert bench_config("sparse_mezo", dict(p, sparsity=0.5)).zo.sparsity == 0.5
    assert bench_config("mezo", dict(p, sparsity=0.5)).zo.sparsity == 0.0
    assert bench_config("galore", p).galore.update_proj_gap == p["galore_update_gap"] == 200
    assert bench_config("inference", p).method == "zero_shot"


class Marker(TrainerCallback):
    """A dummy method's callback: records that it was built from the config and the run."""

    def __init__(self, seed: int, log):
        self.seed, self.log = seed, log


def test_a_new_method_is_one_registry_entry(monkeypatch, tmp_path, tiny_cfg):
    from core.costs.bench import PROFILES, bench_model, prepare
    from core.training import methods
    from core.training.config import ConfigError

    dummy = methods.Method(
        "dummy",
        "a test method: full FT with SGD and a marker callback",
        callback=lambda cfg, ctx: Marker(seed=cfg.seed, log=ctx.log("dummy.jsonl")),
        optimizer=lambda model, cfg: torch.optim.SGD(model.parameters(), lr=cfg.lr),
    )
    monkeypatch.setitem(methods.METHODS, "dummy", dummy)
    trainer, _, _ = build_trainer(tiny_cfg(method="dummy", seed=3), tmp_path)  # valid in the config checks
    marker = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, Marker))
    assert (marker.seed, marker.log) == (3, tmp_path / "dummy.jsonl")
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    assert isinstance(prepare("dummy", bench_model(PROFILES["tiny"]), PROFILES["tiny"])[1], torch.optim.SGD)
    with pytest.raises(
        ConfigError, match="encoder model tiny-bert supports full, lora, dora, mezo, zero_shot"
    ):
        tiny_cfg(method="dummy", model="tiny-bert", task="sentiment")
    monkeypatch.delitem(methods.METHODS, "dummy")
    with pytest.raises(ConfigError, match="method='dummy' is not known"):
        tiny_cfg(method="dummy")


def test_registering_a_taken_name_is_refused():
    from core.training import methods

    with pytest.raises(ValueError, match="already registered"):
        methods.register(methods.Method("lisa", "again"))
    with pytest.raises(ValueError, match="already registered"):
        methods.register_alias(methods.Alias("sparse_mezo", "mezo"))


def test_attach_sets_a_callback_up_outside_a_trainer_and_refuses_an_optimizer_without_its_blocks():
    from core.sources.models import load_model
    from core.training.callbacks import LisaCallback

    model = load_model("tiny-llama")[0]
    cb = LisaCallback(gamma=1, interval=1).attach(model, torch.optim.AdamW(model.parameters()))
    cb.switch(0)
    assert len(cb.active) == 1 and len(cb.history) == 1
    with pytest.raises(RuntimeError, match="not in the optimizer"):
        LisaCallback(gamma=1).attach(model, torch.optim.AdamW(model.lm_head.parameters()))


LISA_TWIN = """
from core.training.callbacks import LisaCallback
from core.training.methods import MemoryTerms, Method, register

register(Method("lisa_twin", "LISA under another name (a test of method_module)",
                callback=lambda cfg, ctx: LisaCallback(gamma=cfg.lisa.gamma, interval=cfg.lisa.interval,
                                                       seed=cfg.seed),
                memory=MemoryTerms(trainable="lisa", activations="gamma_layers", tied_grad=True)))
"""


def test_a_new_method_is_one_module_and_one_config(tmp_path, monkeypatch, tiny_cfg):
    """The README's recipe: a module registering the method, named by the config's method_module; the run trains
    exactly as LISA does, the memory model predicts LISA's peak, an unknown module is a one-line ConfigError."""
    import sys

    from core.costs.memory import PAPER_MODELS, predict_memory
    from core.training import methods
    from core.training.config import ConfigError

    (tmp_path / "my_lisa_twin.py").write_text(LISA_TWIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_lisa_twin", raising=False)
    try:
        cfg = tiny_cfg(method="lisa_twin", method_module="my_lisa_twin", lisa={"gamma": 1, "interval": 2})
        twin, _, _ = build_trainer(cfg, tmp_path / "twin")
        lisa, _, _ = build_trainer(
            tiny_cfg(method="lisa", lisa={"gamma": 1, "interval": 2}), tmp_path / "lisa"
        )
        losses = [[r["loss"] for r in t.train() and t.state.log_history if "loss" in r] for t in (twin, lisa)]
        assert len(losses[0]) == cfg.max_steps and losses[0] == losses[1]  # the same layers drawn, bit-exact
        spec = PAPER_MODELS["llama-2-7b"]
        assert predict_memory(spec, "lisa_twin", 1, 512) == predict_memory(spec, "lisa", 1, 512)
    finally:
        methods.METHODS.pop("lisa_twin", None)
    with pytest.raises(ConfigError, match="method_module='no_such_module' cannot be imported"):
        tiny_cfg(method="lisa_twin", method_module="no_such_module")

"""LisaCallback inside a real transformers.Trainer on a tiny Llama."""
import json

import pytest
import torch
from transformers import TrainerCallback

from core.callbacks import LisaCallback, base_optimizer, optimizer_state_bytes
from core.finetune import build_trainer, last_checkpoint, train
from core.layers import find_blocks
from core.run import read_jsonl


def lisa_of(trainer):
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, LisaCallback))


class Probe(TrainerCallback):
    """Records, after each optimizer step, which layers have optimizer state / requires_grad."""

    def __init__(self):
        self.rows = []

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
        parts = find_blocks(model)
        st = base_optimizer(optimizer).state
        self.rows.append({
            "step": state.global_step,
            "with_state": [i for i, (_, m) in enumerate(parts.layers) if any(p in st for p in m.parameters())],
            "requires_grad": [i for i, (_, m) in enumerate(parts.layers) if all(p.requires_grad for p in m.parameters())],
            "embed_state": all(p in st for _, m in parts.embeddings for p in m.parameters()),
        })


def test_optimizer_state_only_for_active_layers(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="lisa", max_steps=8, lisa={"gamma": 1, "interval": 2})
    trainer, _, _ = build_trainer(cfg, tmp_path)
    probe = Probe()
    trainer.add_callback(probe)
    trainer.train()
    history = lisa_of(trainer).history
    assert [h["step"] for h in history] == [0, 2, 4, 6]
    for row in probe.rows:
        active = [int(n[5:]) for n in next(h for h in reversed(history) if h["step"] < row["step"])["active"]]
        assert row["with_state"] == active
        assert row["requires_grad"] == active
        assert row["embed_state"]


def test_switches_on_optimizer_steps_with_grad_accumulation(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="lisa", max_steps=6, grad_accum=3, lisa={"gamma": 2, "interval": 2})
    trainer, _, _ = build_trainer(cfg, tmp_path)
    trainer.train()
    assert [h["step"] for h in lisa_of(trainer).history] == [0, 2, 4]
    assert all(len(h["active"]) == 2 for h in lisa_of(trainer).history)


def test_resume_mid_interval_gives_identical_losses(tmp_path, tiny_cfg):
    """A 3-switch run interrupted at step 5 (mid-interval) and resumed = the uninterrupted run, bit for bit."""
    cfg = tiny_cfg(method="lisa", max_steps=8, save_every=5, lisa={"gamma": 1, "interval": 3})
    full = train(cfg, tmp_path / "full")
    losses_full = [r["loss"] for r in read_jsonl(tmp_path / "full" / "metrics.jsonl") if "loss" in r]

    class Crash(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise KeyboardInterrupt

    import core.finetune as ft
    orig = ft.build_trainer

    def crashing(cfg_, out_):
        trainer, tok, model = orig(cfg_, out_)
        trainer.add_callback(Crash())
        return trainer, tok, model
    ft.build_trainer = crashing
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "cut")
    finally:
        ft.build_trainer = orig
    assert last_checkpoint(tmp_path / "cut").name == "checkpoint-5"
    assert not (tmp_path / "cut" / "result.json").exists()
    resumed = train(cfg, tmp_path / "cut")
    losses_cut = [r["loss"] for r in read_jsonl(tmp_path / "cut" / "metrics.jsonl") if "loss" in r]
    assert losses_cut == losses_full
    assert resumed["lisa_history"] == full["lisa_history"]
    assert [h["step"] for h in full["lisa_history"]] == [0, 3, 6]


def test_frozen_before_optimizer_is_refused(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="lisa", max_steps=2)
    trainer, _, model = build_trainer(cfg, tmp_path)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.lm_head.parameters():
        p.requires_grad_(True)
    trainer.optimizer = None
    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, LisaCallback):
            with pytest.raises(RuntimeError, match="not in the optimizer"):
                cb.on_train_begin(trainer.args, trainer.state, trainer.control, model=model,
                                  optimizer=torch.optim.AdamW(model.lm_head.parameters()))


def test_gamma_larger_than_layers_is_a_clear_error(tmp_path, tiny_cfg):
    trainer, _, _ = build_trainer(tiny_cfg(method="lisa", lisa={"gamma": 9, "interval": 1}), tmp_path)
    with pytest.raises(ValueError, match=r"gamma .* \[0, 4\].*only 4 layers"):
        trainer.train()


def test_invalid_interval():
    with pytest.raises(ValueError, match="interval K must be a positive"):
        LisaCallback(gamma=1, interval=0)


class NeverFree(LisaCallback):
    """Reference-style (LMFlow) switching: toggles requires_grad but keeps optimizer state. Test fixture only."""

    def apply(self, names):
        for name, params in self.blocks.items():
            for p in params:
                p.requires_grad_(name in names)
                if name not in names:
                    p.grad = None
        self.active = list(names)


def _state_over_switches(callback_cls, n_switches=50):
    from core.models import load_model
    model, _ = load_model("tiny-llama")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    cb = callback_cls(gamma=1, interval=1, seed=0)
    cb.optimizer = opt
    cb.setup(model)
    ids = torch.randint(0, 259, (2, 16))
    sizes = []
    for step in range(n_switches):
        cb.switch(step)
        model(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sizes.append(optimizer_state_bytes(opt))
    return sizes


def test_optimizer_state_stays_flat_over_50_switches():
    ours = _state_over_switches(LisaCallback)
    reference = _state_over_switches(NeverFree)
    assert max(ours) == min(ours)  # one layer + embeddings + head, always
    assert reference[-1] > ours[-1] * 1.5  # the reference keeps every visited layer's state

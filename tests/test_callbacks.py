"""LisaCallback inside a real transformers.Trainer on a tiny Llama."""

import pytest
import torch
from conftest import run_interrupted_and_resumed
from transformers import TrainerCallback

from core.sources.layers import find_blocks
from core.training.callbacks import LisaCallback
from core.training.finetune import build_trainer
from core.training.optimizers import base_optimizer


def lisa_of(trainer):
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, LisaCallback))


class Probe(TrainerCallback):
    """Records, after each optimizer step, which layers have optimizer state / requires_grad."""

    def __init__(self):
        self.rows = []

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
        parts = find_blocks(model)
        st = base_optimizer(optimizer).state
        self.rows.append(
            {
                "step": state.global_step,
                "with_state": [
                    i for i, (_, m) in enumerate(parts.layers) if any(p in st for p in m.parameters())
                ],
                "requires_grad": [
                    i for i, (_, m) in enumerate(parts.layers) if all(p.requires_grad for p in m.parameters())
                ],
                "embed_state": all(p in st for _, m in parts.embeddings for p in m.parameters()),
            }
        )


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
    full, resumed, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and len(ref) == 8
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
                cb.on_train_begin(
                    trainer.args,
                    trainer.state,
                    trainer.control,
                    model=model,
                    optimizer=torch.optim.AdamW(model.lm_head.parameters()),
                )


def test_gamma_larger_than_layers_is_a_clear_error(tmp_path, tiny_cfg):
    from core.training.config import ConfigError

    with pytest.raises(ConfigError, match=r"lisa.gamma=9: tiny-llama has 4 layers"):  # caught in the config
        tiny_cfg(method="lisa", lisa={"gamma": 9, "interval": 1})
    trainer, _, _ = build_trainer(tiny_cfg(method="lisa", lisa={"gamma": 1, "interval": 1}), tmp_path)
    next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, LisaCallback)).gamma = 9
    with pytest.raises(ValueError, match=r"gamma .* \[0, 4\].*only 4 layers"):  # and by the callback itself
        trainer.train()


def test_invalid_interval():
    with pytest.raises(ValueError, match="interval K must be a positive"):
        LisaCallback(gamma=1, interval=0)


def test_optimizer_state_stays_flat_over_50_switches():
    from papers.lisa.optimizer_state import PROFILES, ReferenceStyleLisa, switch_trace

    setting = dict(PROFILES["tiny"], measure_every=1000)  # measured peak at the first and last switch only
    ours = switch_trace(LisaCallback, setting)
    reference = switch_trace(ReferenceStyleLisa, setting)
    sizes = [r["optimizer_state_mb"] for r in ours]
    assert max(sizes) == min(sizes)  # one layer + embeddings + head, always
    assert reference[-1]["optimizer_state_mb"] > sizes[-1] * 1.5  # the reference keeps every visited layer
    assert reference[-1]["peak_mb"] > ours[-1]["peak_mb"]


# --- MISA: the same switching machinery with the module sampler ------------------------------------------
from core.training.callbacks import MisaCallback  # noqa: E402


def test_misa_callback_trains_only_sampled_modules_within_budget(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="misa", max_steps=6, misa={"budget": 0.1, "interval": 2, "eta": 1.0})
    trainer, _, model = build_trainer(cfg, tmp_path)
    seen = []

    class Check(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
            cb = next(c for c in trainer.callback_handler.callbacks if isinstance(c, MisaCallback))
            st = base_optimizer(optimizer).state
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            with_state = {n for n, p in model.named_parameters() if p in st}
            active = {f"{a}.weight" for a in cb.active}
            assert trainable == active and with_state == active
            total = sum(p.numel() for p in model.parameters())
            assert sum(p.numel() for n, p in model.named_parameters() if n in active) <= 0.1 * total
            seen.append(sorted(active))

    trainer.add_callback(Check())
    trainer.train()
    assert len(seen) == 6 and len({tuple(s) for s in seen}) > 1
    assert not any("norm" in n or "embed" in n or "lm_head" in n for s in seen for n in s)


def test_misa_resume_gives_identical_losses(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="misa", max_steps=6, save_every=3, misa={"budget": 0.1, "interval": 2})
    full, resumed, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and resumed["switch_history"] == full["switch_history"]


def test_weight_norms_of_a_resumed_run_measure_the_update_from_the_start(tmp_path, tiny_cfg):
    """ΔW = W − W0 with W0 the weights before training, also after a kill and resume (the checkpoint's weights are
    loaded before on_train_begin): the resumed weight_norms.jsonl equals the uninterrupted one."""
    from core.infra.io import read_jsonl

    cfg = tiny_cfg(method="lora", log_weight_norms=True, max_steps=6, save_every=3)
    run_interrupted_and_resumed(cfg, tmp_path)
    full, cut = (read_jsonl(tmp_path / d / "weight_norms.jsonl") for d in ("full", "cut"))
    assert [r["step"] for r in cut] == list(range(1, 7))
    assert cut == full

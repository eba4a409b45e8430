"""IST: score rule on a constructed case, exact selected fraction, suppression and restore, bit-exact resume."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import TrainerCallback

from core.callbacks import ISTCallback, base_optimizer
from core.layers import find_blocks
from core.sampling import ISTScores
from conftest import run_interrupted_and_resumed


class FakeAdapter(nn.Module):
    def __init__(self):
        super().__init__()
        self.scaling = {"default": 2.0}
        self.lora_A = nn.Parameter(torch.zeros(1))


class FakeLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = FakeAdapter()


class LossOfLayerZero(nn.Module):
    """loss = 1 + (2 − scaling of layer 0): suppressing layer 0's adapter raises the loss, the others do nothing."""

    def __init__(self, n=6):
        super().__init__()
        self.embed = nn.Embedding(2, 2)
        self.layers = nn.ModuleList(FakeLayer() for _ in range(n))
        self.device = torch.device("cpu")

    def forward(self, **batch):
        return SimpleNamespace(loss=torch.tensor(1.0 + (2.0 - self.layers[0].proj.scaling["default"])))


def test_scores_follow_the_reinforce_rule_when_one_layer_matters():
    model = LossOfLayerZero()
    cb = ISTCallback(interval=1, n_probes=3, suppression=0.25, seed=3, probe_batch=lambda s: {})
    cb.setup(model)
    drawn = []
    orig = cb.sampler.probe_sets
    cb.sampler.probe_sets = lambda: drawn.append(orig()) or drawn[-1]
    for _ in range(4):
        before = cb.sampler.scores.clone()
        losses = cb.probe(model)
        sets = drawn[-1]
        assert len({tuple(s) for s in sets}) == 3 and all(len(s) == 3 for s in sets)
        assert losses == [2.5 if 0 in s else 1.0 for s in sets]          # 1 + (2 − 0.5) when layer 0 is scaled
        reward = [math.exp(-l) for l in losses]
        reward = [r - sum(reward) / 3 for r in reward]
        p = torch.sigmoid(before)
        expected = before.clone()
        for r, s in zip(reward, sets):
            for i in s:
                expected[i] += r * p[i] * (1 - p[i]) * 10
        assert torch.allclose(cb.sampler.scores, expected)
        if any(0 in s for s in sets) and not all(0 in s for s in sets):
            assert cb.sampler.scores[0] < before[0]                      # layer 0 became more important
        assert model.layers[0].proj.scaling == {"default": 2.0}          # restored after every probe
    assert cb.sampler.scores[0] == cb.sampler.scores.min()
    # selection prefers important (low-score) layers: layer 0 is drawn more often than any other
    counts = torch.zeros(6)
    for _ in range(300):
        counts[cb.sampler.select()] += 1
    assert counts[0] == counts.max()


def test_ist_rejects_a_model_without_lora():
    cb = ISTCallback()
    model = LossOfLayerZero()
    for layer in model.layers:
        del layer.proj.lora_A
    with pytest.raises(ValueError, match="lora_"):
        cb.setup(model)
    with pytest.raises(ValueError, match="at least one layer"):
        ISTScores(2, update_frac=0.25)


def _ist_of(trainer):
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, ISTCallback))


def test_selected_fraction_is_exact_and_inactive_adapters_hold_no_state(tiny_cfg, tmp_path):
    from core.finetune import build_trainer
    cfg = tiny_cfg(method="ist", max_steps=6, ist={"interval": 2, "update_frac": 0.5, "probe_batch": 4})
    trainer, _, model = build_trainer(cfg, tmp_path)
    rows = []

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
            layers = find_blocks(model).layers
            lora = [[p for n, p in m.named_parameters() if "lora_" in n] for _, m in layers]
            st = base_optimizer(optimizer).state
            rows.append(([i for i, ps in enumerate(lora) if all(p.requires_grad for p in ps)],
                         [i for i, ps in enumerate(lora) if any(p in st for p in ps)],
                         any(p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)))
    trainer.add_callback(Watch())
    trainer.train()
    assert all(len(active) == 2 and active == with_state and not base for active, with_state, base in rows)
    ist = _ist_of(trainer)
    assert len(ist.sampler.history) == 2                                  # probes at steps 2 and 4
    assert [h["step"] for h in ist.history] == list(range(6))             # re-selected every step


def test_suppression_zero_removes_adapters_and_restores_them(tiny_cfg, tmp_path):
    from core.finetune import build_trainer
    cfg = tiny_cfg(method="ist", max_steps=1, ist={"suppression": 0.0})
    trainer, _, model = build_trainer(cfg, tmp_path)
    torch.manual_seed(0)
    for n, p in model.named_parameters():
        if "lora_B" in n:
            nn.init.normal_(p, std=0.5)
    cb = _ist_of(trainer)
    cb.setup(model)
    ids = torch.randint(0, 200, (1, 12))
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
        with cb.suppressed(list(range(4))):
            off = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    assert not torch.allclose(adapted, base)
    assert torch.equal(off, base) or torch.allclose(off, base, atol=1e-6)
    assert torch.equal(after, adapted)


def test_ist_resume_is_bit_exact_across_probes(tiny_cfg, tmp_path):
    cfg = tiny_cfg(method="ist", max_steps=8, save_every=4, ist={"interval": 3, "update_frac": 0.5, "probe_batch": 4})
    full, resumed, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and len(ref) == 8
    assert resumed["score_history"] == full["score_history"] and len(full["score_history"]) == 2
    assert resumed["switch_history"] == full["switch_history"]

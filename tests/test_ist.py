"""IST: score rule on a constructed case, exact selected fraction, suppression and restore, bit-exact resume."""

import math
from types import SimpleNamespace

import pytest
import torch
from conftest import run_interrupted_and_resumed
from torch import nn
from transformers import TrainerCallback

from core.sources.layers import find_blocks
from core.training.callbacks import ISTCallback
from core.training.optimizers import base_optimizer
from core.training.sampling import ISTScores


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
        assert losses == [2.5 if 0 in s else 1.0 for s in sets]  # 1 + (2 − 0.5) when layer 0 is scaled
        reward = [math.exp(-loss) for loss in losses]
        reward = [r - sum(reward) / 3 for r in reward]
        p = torch.sigmoid(before)
        expected = before.clone()
        for r, s in zip(reward, sets):
            for i in s:
                expected[i] += r * p[i] * (1 - p[i]) * 10
        assert torch.allclose(cb.sampler.scores, expected)
        if any(0 in s for s in sets) and not all(0 in s for s in sets):
            assert cb.sampler.scores[0] < before[0]  # layer 0 became more important
        assert model.layers[0].proj.scaling == {"default": 2.0}  # restored after every probe
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
    from core.training.finetune import build_trainer

    cfg = tiny_cfg(method="ist", max_steps=6, ist={"interval": 2, "update_frac": 0.5, "probe_batch": 4})
    trainer, _, model = build_trainer(cfg, tmp_path)
    rows = []

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
            layers = find_blocks(model).layers
            lora = [[p for n, p in m.named_parameters() if "lora_" in n] for _, m in layers]
            st = base_optimizer(optimizer).state
            rows.append(
                (
                    [i for i, ps in enumerate(lora) if all(p.requires_grad for p in ps)],
                    [i for i, ps in enumerate(lora) if any(p in st for p in ps)],
                    any(p.requires_grad for n, p in model.named_parameters() if "lora_" not in n),
                )
            )

    trainer.add_callback(Watch())
    trainer.train()
    assert all(len(active) == 2 and active == with_state and not base for active, with_state, base in rows)
    ist = _ist_of(trainer)
    assert len(ist.sampler.history) == 2  # probes at steps 2 and 4
    assert [h["step"] for h in ist.history] == list(range(6))  # re-selected every step


def test_suppression_zero_removes_adapters_and_restores_them(tiny_cfg, tmp_path):
    from core.training.finetune import build_trainer

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
    cfg = tiny_cfg(
        method="ist", max_steps=8, save_every=4, ist={"interval": 3, "update_frac": 0.5, "probe_batch": 4}
    )
    full, resumed, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and len(ref) == 8
    assert resumed["score_history"] == full["score_history"] and len(full["score_history"]) == 2
    assert resumed["switch_history"] == full["switch_history"]


def _watch_state(trainer, rows):
    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
            lora = [
                [p for n, p in m.named_parameters() if "lora_" in n] for _, m in find_blocks(model).layers
            ]
            st = base_optimizer(optimizer).state
            rows.append(
                (
                    [i for i, ps in enumerate(lora) if all(p.requires_grad for p in ps)],
                    {i: int(st[ps[0]]["step"]) for i, ps in enumerate(lora) if ps[0] in st},
                )
            )

    trainer.add_callback(Watch())


@pytest.mark.parametrize("free_state", [True, False])
def test_free_state_frees_or_keeps_the_adam_state_of_deselected_adapters(tiny_cfg, tmp_path, free_state):
    """Known answer: kept state = every layer selected so far, its AdamW step count = how often it was selected;
    freed state = exactly the active layers, step count = the length of the current unbroken run of selections."""
    from core.training.finetune import build_trainer

    cfg = tiny_cfg(
        method="ist",
        max_steps=8,
        ist={"interval": 3, "update_frac": 0.5, "probe_batch": 4, "free_state": free_state},
    )
    trainer, _, _ = build_trainer(cfg, tmp_path)
    rows = []
    _watch_state(trainer, rows)
    trainer.train()
    selected_so_far, streak = {}, {}
    for active, steps in rows:
        for i in range(4):
            streak[i] = streak.get(i, 0) + 1 if i in active else 0
        for i in active:
            selected_so_far[i] = selected_so_far.get(i, 0) + 1
        assert steps == ({i: streak[i] for i in active} if free_state else selected_so_far)
    assert len(selected_so_far) > 2 or free_state  # some layer left and kept its state
    # the logged state bytes: exp_avg + exp_avg_sq (fp32) + a 4-byte step per parameter of the layers holding state
    from core.infra.io import read_jsonl

    lora = [
        [p for n, p in m.named_parameters() if "lora_" in n] for _, m in find_blocks(trainer.model).layers
    ]
    logged = [r["optimizer_state_bytes"] for r in read_jsonl(tmp_path / "ist_scores.jsonl")]
    assert logged == [sum(8 * p.numel() + 4 for i in steps for p in lora[i]) for _, steps in rows]


def test_score_log_has_one_row_per_step_with_the_selection_and_probe_losses(tiny_cfg, tmp_path):
    from core.infra.io import read_jsonl
    from core.training.finetune import train

    cfg = tiny_cfg(
        method="ist", max_steps=7, ist={"interval": 3, "update_frac": 0.5, "probe_batch": 4, "lr": 500.0}
    )
    result = train(cfg, tmp_path)
    rows = read_jsonl(tmp_path / "ist_scores.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 8))
    assert [r["selected"] for r in rows] == [
        [int(n[5:]) for n in h["active"]] for h in result["switch_history"]
    ] and all(len(r["selected"]) == 2 for r in rows)
    # probes run at the start of steps 3 and 6 (global_step 3, 6), so rows 4 and 7 carry their 3 losses
    assert [r["step"] for r in rows if r["probe_losses"]] == [4, 7]
    assert all(len(r["probe_losses"]) == 3 for r in rows if r["probe_losses"])
    assert [r["scores"] for r in rows if r["probe_losses"]] == result["score_history"]
    assert all(r["spread"] == pytest.approx(max(r["scores"]) - min(r["scores"])) for r in rows)
    assert rows[0]["spread"] == 0 and rows[-1]["spread"] > 0


def test_ist_on_dora_trains_the_magnitudes_and_suppression_changes_the_output(tiny_cfg, tmp_path):
    """IST is plug-and-play with DoRA (peft use_dora): the magnitude vectors belong to their layer's block,
    suppressing a layer's adapter changes the logits, and a run trains with probes."""
    from core.training.finetune import build_trainer

    cfg = tiny_cfg(
        method="ist",
        max_steps=4,
        lora={"dora": True},
        ist={"interval": 2, "update_frac": 0.5, "probe_batch": 4, "suppression": 0.0},
    )
    trainer, _, model = build_trainer(cfg, tmp_path)
    cb = _ist_of(trainer)
    cb.setup(model)
    assert all(
        any("lora_magnitude_vector" in n for n, _ in layer.named_parameters())
        for _, layer in find_blocks(model).layers
    )
    magnitudes = {id(p) for n, p in model.named_parameters() if "lora_magnitude_vector" in n}
    assert magnitudes <= {id(p) for ps in cb.blocks.values() for p in ps}
    for n, p in model.named_parameters():
        if "lora_B" in n:
            nn.init.normal_(p, std=0.5)
    ids = torch.randint(0, 200, (1, 12))
    with torch.no_grad():
        adapted = model(input_ids=ids).logits
        with cb.suppressed([0]):
            off = model(input_ids=ids).logits
    assert not torch.allclose(adapted, off)
    trainer, _, model = build_trainer(cfg, tmp_path / "run")
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_magnitude_vector" in n}
    trainer.train()
    ist = _ist_of(trainer)
    assert len(ist.sampler.history) == 1
    trained = {
        int(n.split("layers.")[1].split(".")[0])
        for n, p in model.named_parameters()
        if n in before and not torch.equal(p, before[n])
    }
    assert trained and trained <= {int(name[5:]) for h in ist.history for name in h["active"]}

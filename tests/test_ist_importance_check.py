"""papers.ist.importance_check: ΔL of removing each layer's adapter and the rank agreement, on known answers."""

import numpy as np
import pytest
import torch
from test_ist import FakeLayer
from torch import nn

from papers.ist.importance_check import rank_agreement, suppression_deltas


class WeightedLayers(nn.Module):
    """Per-example loss = base_e + Σ_i w_i · (1 − a_i) · m_e with a_i = layer i's scaling / 2: removing layer i's
    adapter raises example e's loss by exactly w_i · m_e."""

    def __init__(self, weights):
        super().__init__()
        self.embed = nn.Embedding(2, 2)
        self.layers = nn.ModuleList(FakeLayer() for _ in weights)
        self.w = torch.tensor(weights, dtype=torch.float64)

    def example_loss(self, batch):
        kept = torch.tensor(
            [layer.proj.scaling["default"] / 2.0 for layer in self.layers], dtype=torch.float64
        )
        return (batch["base"] + (self.w * (1 - kept)).sum() * batch["m"]).numpy()


def test_deltas_are_the_constructed_per_layer_effects_and_rho_is_minus_one():
    rng = np.random.default_rng(0)
    weights = [0.5, 0.0, 2.0, 1.0, 0.25, 3.0]
    model = WeightedLayers(weights)
    batches = [
        {"base": torch.tensor(rng.uniform(1, 2, 8)), "m": torch.tensor(rng.uniform(0.5, 1.5, 8))}
        for _ in range(5)
    ]
    deltas = suppression_deltas(model, batches, loss_fn=lambda m, b: m.example_loss(b))
    m = np.concatenate([b["m"].numpy() for b in batches])
    assert deltas.shape == (40, 6)
    np.testing.assert_allclose(deltas, np.outer(m, weights), atol=1e-12)
    assert all(layer.proj.scaling == {"default": 2.0} for layer in model.layers)  # restored
    # IST's scores: high = unimportant, so scores = −w give ρ = −1 in every resample, p small
    agreement = rank_agreement([-w for w in weights], deltas, n_resamples=1000)  # >= 6! pairings: exact
    assert agreement["rho"] == pytest.approx(-1.0)
    assert agreement["rho_lo"] == pytest.approx(-1.0) and agreement["rho_hi"] == pytest.approx(-1.0)
    assert agreement["p_permutation"] == pytest.approx(2 / 720)  # only ρ = ±1 are as extreme


def test_noise_scores_give_an_interval_around_zero():
    """Scores unrelated to importance: over 40 random score vectors the permutation test rejects at 5 % rarely."""
    rng = np.random.default_rng(1)
    deltas = rng.normal(0, 1, (60, 12)) + np.linspace(0, 1, 12)
    rejections = sum(
        rank_agreement(rng.normal(size=12), deltas, n_resamples=300, seed=i)["p_permutation"] < 0.05
        for i in range(40)
    )
    assert rejections <= 6  # ~2 expected (binomial 40, 0.05)


def test_on_a_peft_model_only_the_layer_with_a_nonzero_adapter_matters(tiny_cfg):
    """tiny-llama with LoRA: every lora_B is zero except layer 2's, so removing any other adapter changes nothing
    (ΔL exactly 0) and removing layer 2's does."""
    from core.sources.models import load_model
    from core.training.finetune import apply_lora

    cfg = tiny_cfg(method="lora")
    model, _ = load_model(cfg.model, "causal", seed=0)
    model = apply_lora(model, cfg)
    torch.manual_seed(0)
    for n, p in model.named_parameters():
        if "lora_B" in n and "layers.2." in n:
            nn.init.normal_(p, std=0.5)
    ids = torch.randint(3, 200, (6, 10))
    labels = ids.clone()
    labels[:, :4] = -100
    deltas = suppression_deltas(
        model, [{"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}]
    )
    assert deltas.shape == (6, 4)
    assert np.all(deltas[:, [0, 1, 3]] == 0) and np.all(np.abs(deltas[:, 2]) > 1e-6)


def test_save_adapter_writes_the_final_lora_weights_and_load_adapter_restores_them(tiny_cfg, tmp_path):
    from core.sources.models import load_model
    from core.training.finetune import ADAPTER_FILE, apply_lora, load_adapter, train

    cfg = tiny_cfg(method="ist", max_steps=3, save_adapter=True, ist={"interval": 2, "probe_batch": 4})
    train(cfg, tmp_path)
    fresh = apply_lora(load_model(cfg.model, "causal", seed=cfg.seed)[0], cfg)
    before = {n: p.detach().clone() for n, p in fresh.named_parameters() if "lora_B" in n}
    assert all(torch.count_nonzero(p) == 0 for p in before.values())  # peft initialises B to 0
    load_adapter(fresh, tmp_path / ADAPTER_FILE)
    assert any(torch.count_nonzero(p) > 0 for n, p in fresh.named_parameters() if "lora_B" in n)
    other = apply_lora(
        load_model(cfg.model, "causal", seed=cfg.seed)[0], tiny_cfg(method="lora", lora={"r": 4})
    )
    with pytest.raises((ValueError, RuntimeError)):
        load_adapter(other, tmp_path / ADAPTER_FILE)

"""core.analysis.norms: the weight-norm skew of LISA §3.1 on the effective weight change (known answers)."""

import pytest
import torch

from core.analysis.norms import block_norms, mean_block_norms, norm_skew, skew_by_step, snapshot
from core.sources.models import load_model
from core.training.config import RunConfig
from core.training.finetune import apply_lora


def test_skew_by_hand():
    rows = [
        {"step": 1, "update/embed": 3.0, "update/layer0": 1.0, "update/layer1": 2.0, "update/layer2": 3.0},
        {"step": 2, "update/embed": 10.0, "update/layer0": 1.0, "update/layer1": 2.0, "update/layer2": 5.0},
    ]
    blocks, values = mean_block_norms(rows)
    assert blocks == ["embed", "layer0", "layer1", "layer2"] and values == [6.5, 1.0, 2.0, 4.0]
    assert norm_skew(blocks, values) == 6.5 / 2.0
    assert skew_by_step(rows) == [(1, 1.5), (2, 5.0)]


def test_full_ft_update_is_w_minus_w0():
    model, _ = load_model("tiny-llama", "causal")
    init = snapshot(model)
    assert all(v == 0 for k, v in block_norms(model, init).items() if k.startswith("update/"))
    layer = model.model.layers[1].mlp.down_proj.weight
    with torch.no_grad():
        layer.add_(torch.full_like(layer, 0.5))
    norms = block_norms(model, init)
    assert norms["update/layer1"] == pytest.approx(0.5 * layer.numel() ** 0.5, rel=1e-5)
    assert norms["update/layer0"] == 0 and norms["update/embed"] == 0


def test_lora_update_is_scaled_ba_with_the_embedding_and_peft_init():
    """ΔW = s·B·A starts at 0 in every block, embedding included; the embedding adapter's B is N(0, 1) (so the
    LoRA `weight/` reading of the embedding is its init, ≈ √(hidden·r)); ΔW of a known A is s·‖B·A‖."""
    cfg = RunConfig(method="lora")
    cfg.lora.r, cfg.lora.alpha, cfg.lora.targets = 4, 8, "q_proj,v_proj,embed_tokens"
    torch.manual_seed(0)
    model = apply_lora(load_model("tiny-llama", "causal")[0], cfg)
    norms = block_norms(model, snapshot(model))
    assert {k for k in norms if k.startswith("update/")} >= {"update/embed", "update/layer0"}
    assert all(v == 0 for k, v in norms.items() if k.startswith("update/"))
    emb = model.base_model.model.model.embed_tokens
    b = emb.lora_embedding_B["default"]
    hidden = b.shape[0]
    assert b.std().item() == pytest.approx(1.0, abs=0.15)
    assert norms["weight/embed"] == pytest.approx(b.norm().item(), rel=1e-6)  # A = 0: the reading is B's init
    with torch.no_grad():
        emb.lora_embedding_A["default"].fill_(0.01)
    expected = 2.0 * (b @ emb.lora_embedding_A["default"]).norm().item()  # scale = alpha / r = 2
    assert block_norms(model, {})["update/embed"] == pytest.approx(expected, rel=1e-5)
    assert hidden == model.config.hidden_size

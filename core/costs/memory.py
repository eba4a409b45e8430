"""Peak memory: measured (CPU profiler events or CUDA peak) and an analytic model with the same keys.

Measured: :func:`measure_peak` runs `fn` once and returns the peak of live bytes allocated *during* it
(CPU: torch.profiler memory events summed in time order, deterministic; GPU: CUDA peak stats).

Analytic: :func:`predict_memory` itemizes weights, gradients, optimizer state and activations for a
Llama-architecture decoder (GPT-2 is mapped onto it with i = 4h and no GQA). The activation
coefficients are the tensors autograd saves in transformers 5.x's Llama with SDPA attention, per token
and per layer, counted with ``saved_tensors_hooks`` (``saved_activation_bytes``; re-derived in
``tests/test_memory.py``):

| layer state | floats saved per token |
| --- | --- |
| trainable (full FT, LISA-active) | 8h + 4i + 2·d_kv + n_heads |
| frozen, gradient flows through (LISA-inactive) | 4h + 3i + 2·d_kv + n_heads |
| LoRA on all 7 linear modules, rank r | 6h + 4i + 2·d_kv + n_heads + 7r |
plus outside the layers 3h (final norm, when trainable) + V (log-softmax output) + 4 (ids, labels, mask)
per token, and cos/sin tables of 2·s·d_head.
"""

from __future__ import annotations

import gc
from dataclasses import asdict, dataclass

import torch

from core.costs.memory_setting import MemorySetting
from core.training.methods import resolve

MB = 1024**2


def measure_peak(fn, device: str = "cpu") -> dict:
    """Run `fn()` and return ``{"peak_bytes": ..., "end_bytes": ...}`` relative to the memory live before it."""
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return {
            "peak_bytes": torch.cuda.max_memory_allocated() - before,
            "end_bytes": torch.cuda.memory_allocated() - before,
        }
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(
        (e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
        key=lambda e: e.start_ns(),
    )
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return {"peak_bytes": peak, "end_bytes": live}


def saved_activation_bytes(model, batch: dict) -> int:
    """Exact bytes of the tensors autograd saves in one forward (parameters excluded, storages once)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(**batch)
    return sum(seen.values())


def tensor_bytes(tensors) -> int:
    """Bytes of distinct tensor storages (tied weights once)."""
    seen = {}
    for t in tensors:
        if t is not None:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


@dataclass
class ArchSpec:
    """The numbers the analytic model needs from a model config."""

    name: str
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    tied: bool
    n_modules: int = 7  # linear modules per layer (q,k,v,o,gate,up,down)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @classmethod
    def from_config(cls, config, name: str = "") -> ArchSpec:
        c = config
        if c.model_type == "gpt2":
            return cls(
                name or "gpt2",
                c.vocab_size,
                c.n_embd,
                4 * c.n_embd,
                c.n_layer,
                c.n_head,
                c.n_head,
                bool(c.tie_word_embeddings),
                4,
            )
        return cls(
            name or c.model_type,
            c.vocab_size,
            c.hidden_size,
            c.intermediate_size,
            c.num_hidden_layers,
            c.num_attention_heads,
            getattr(c, "num_key_value_heads", None) or c.num_attention_heads,
            bool(getattr(c, "tie_word_embeddings", False)),
        )


# Public architecture numbers of the paper's models (configs only; LISA Table 1 / Fig. 3).
PAPER_MODELS = {
    "gpt2-small": ArchSpec("GPT2-Small", 50257, 768, 3072, 12, 12, 12, True, 4),
    "tinyllama-1.1b": ArchSpec("TinyLlama-1.1B", 32000, 2048, 5632, 22, 32, 4, False),
    "phi-2": ArchSpec("Phi-2", 51200, 2560, 10240, 32, 32, 32, False, 4),
    "mistral-7b": ArchSpec("Mistral-7B", 32000, 4096, 14336, 32, 32, 8, False),
    "llama-2-7b": ArchSpec("LLaMA-2-7B", 32000, 4096, 11008, 32, 32, 32, False),
    "llama-2-70b": ArchSpec("LLaMA-2-70B", 32000, 8192, 28672, 80, 64, 8, False),
    "llama-3-8b": ArchSpec("LLaMA-3-8B", 128256, 4096, 14336, 32, 32, 8, False),  # MISA's main model
    "llama-7b": ArchSpec("LLaMA-7B", 32000, 4096, 11008, 32, 32, 32, False),  # Sparse MeZO's main model
    "llama-30b": ArchSpec("LLaMA-30B", 32000, 6656, 17920, 60, 52, 52, False),
}


def param_counts(spec: ArchSpec) -> dict:
    """Parameters of embeddings, one layer, head and final norm."""
    h, i, kvd = spec.hidden, spec.intermediate, spec.kv_heads * spec.head_dim
    attn = 2 * h * h + 2 * h * kvd
    mlp = 3 * h * i if spec.n_modules == 7 else 2 * h * i
    return {
        "embed": spec.vocab * h,
        "layer": attn + mlp + 2 * h,
        "head": 0 if spec.tied else spec.vocab * h,
        "norm": h,
        "lora_per_layer_per_rank": (4 * h + 2 * (h + kvd) + 3 * (h + i))
        if spec.n_modules == 7
        else (4 * h + 2 * h + 2 * (h + i)),
    }


def layer_matrices(spec: ArchSpec) -> list[tuple[int, int]]:
    """(out, in) shapes of the 2-D weights of one layer."""
    h, i, kvd = spec.hidden, spec.intermediate, spec.kv_heads * spec.head_dim
    if spec.n_modules == 7:
        return [(h, h), (kvd, h), (kvd, h), (h, h), (i, h), (i, h), (h, i)]
    return [(3 * h, h), (h, h), (i, h), (h, i)]


def galore_state_floats(spec: ArchSpec, rank: int) -> int:
    """GaLore (Zhao et al. 2024, Alg. 2) state per layer: Adam moments of the r×min(m,n) projected
    gradient plus the projector (r×max(m,n))."""
    return sum(2 * rank * min(m, n) + rank * max(m, n) for m, n in layer_matrices(spec))


def activation_floats(
    spec: ArchSpec, tokens: int, seq: int, trainable_layers: int, frozen_layers: int, lora_rank: int = 0
) -> float:
    """Floats saved for backward (table in the module docstring)."""
    h, i, kvd, nh = spec.hidden, spec.intermediate, spec.kv_heads * spec.head_dim, spec.heads
    full = 8 * h + 4 * i + 2 * kvd + nh
    frozen = 4 * h + 3 * i + 2 * kvd + nh
    lora = 6 * h + 4 * i + 2 * kvd + nh + 7 * lora_rank
    per_token = spec.layers * lora if lora_rank else trainable_layers * full + frozen_layers * frozen
    outside = (0 if lora_rank else 3 * h) + spec.vocab + 4
    return tokens * (per_token + outside) + 2 * seq * spec.head_dim


def zo_transient_bytes(
    spec: ArchSpec, tokens: int, weight_bytes: int, act_bytes: int, threads: int = 2
) -> int:
    """Peak transient of a ZO probe (`core.training.zo`, stream chunked-v2) on top of the inference forward: the
    perturbed copy of one row group (≤ `core.training.zo.GROUP` weights), that group's slice of the LM head's output
    (computed group by group, then copied into the logits the forward holds anyway) and one z block of scratch
    per thread. Masks add nothing here: the magnitude mask is computed per block, R-MeZO's bits are persistent
    (`zo_mask_bytes`)."""
    from core.training.zo import GROUP
    from core.training.zo_stream import BLOCK

    largest = max(spec.vocab * spec.hidden, spec.hidden * spec.intermediate)
    head_rows = max(1, GROUP // spec.hidden)
    return min(GROUP, largest) * weight_bytes + tokens * head_rows * act_bytes + threads * BLOCK * 4


def trainable_params(
    terms, pc: dict, spec: ArchSpec, gamma: int, lora_r: int, block: int, update_frac: float
) -> int:
    """Parameters that get a gradient and optimizer state under `terms`
    (`core.training.methods.MemoryTerms.trainable`)."""
    lora = spec.layers * lora_r * pc["lora_per_layer_per_rank"]
    return {
        "all": pc["embed"] + pc["head"] + pc["norm"] + spec.layers * pc["layer"],
        "lisa": pc["embed"] + pc["head"] + pc["norm"] + gamma * pc["layer"],
        "lora": lora,
        "ist": int(update_frac * spec.layers) * lora_r * pc["lora_per_layer_per_rank"],
        "block": block,
        "none": 0,
    }[terms.trainable]


def saved_floats(
    terms,
    spec: ArchSpec,
    pc: dict,
    tokens: int,
    seq: int,
    gamma: int,
    lora_r: int,
    block: int,
    lowest_layer: int,
) -> float:
    """Floats saved for backward under `terms` (`core.training.methods.MemoryTerms.activations`); forward-only: the
    transient logits + one layer's working set."""
    kind = terms.activations
    if kind == "forward":
        return tokens * (spec.vocab + 2 * spec.hidden + 2 * spec.intermediate)
    if kind == "block":
        share = block / pc["layer"]
        return activation_floats(spec, tokens, seq, share, spec.layers - lowest_layer - share)
    if kind == "lora":  # IST: as LoRA (an upper bound: frozen adapters save less)
        return activation_floats(spec, tokens, seq, 0, 0, lora_r)
    active = spec.layers if kind == "all_layers" else gamma
    return activation_floats(spec, tokens, seq, active, spec.layers - active)


def predict_memory(spec: ArchSpec, setting, *args, **kwargs) -> dict:
    """Itemized peak-memory model of one AdamW training step (bytes); `total` is the predicted peak.

    `setting`: a `MemorySetting` (``MemorySetting("lisa", 1, 1024, gamma=4)``), a run config (`MemorySetting.of`),
    or, as before, the method name followed by `MemorySetting`'s other fields (``predict_memory(spec, "lisa", 1,
    1024, gamma=4)``). A plug-in method is found through ``method_module``, also in a fresh process.

    The method's `MemoryTerms` (`core.training.methods`) say what it trains, what autograd saves and which extra buffers
    it keeps. ``galore`` is counted as full FT unless ``galore_rank`` is given: then the layers' 2-D weights keep
    GaLore's projected state instead of full moments (also for ``full``, as the paper tables compare).
    ``attention_scores`` adds the b·heads·s² attention probabilities that eager attention (LISA §4.1 ran without
    flash-attention) and CUDA's fp32 SDPA fallback save per layer; CPU SDPA does not save them. `master_weights`
    adds an fp32 copy of trainable weights (mixed precision).
    ``misa`` (δ = `budget` of all parameters, or exactly `block_params`, in layer matrices) and ``badam`` (one
    layer; BAdam keeps an fp32 master copy of it) train no embedding, so autograd records only the layers from
    `lowest_layer` (the lowest active one; 0 = worst case) up; the active matrices' share of a layer pays the
    trainable-minus-frozen activation coefficients. ``ist``: LoRA weights everywhere, gradients and AdamW
    state for the adapters of ⌊update_frac·L⌋ layers, activations as LoRA. R-MeZO (an alias with the random
    mask) keeps one mask bit per weight.
    ``ranks`` > 1: per rank under FSDP2 sharding (`core.training.fsdp`, `shard_terms`); `batch` is then per rank.
    """
    if isinstance(setting, str):
        setting = MemorySetting(setting, *args, **kwargs)
    elif not isinstance(setting, MemorySetting):
        setting = MemorySetting.of(setting, **kwargs)
    return predict(spec, setting)


def predict(spec: ArchSpec, s: MemorySetting) -> dict:
    """`predict_memory` of one `MemorySetting`: the itemized terms, then the peak."""
    entry, fixed = resolve(s.method, s.method_module)
    out = step_terms(spec, s, entry.memory, fixed.get("zo", {}).get("mask") == "random")
    # Peak of a step: at the start of backward all activations and the loss temporaries are live; later,
    # activations are freed as gradients appear, so the gradients alone bound the second phase.
    # A tied embedding/head receives two gradient contributions; summing them needs one more V×h buffer.
    transient = max(
        out["activations"] + out["loss_temporaries"] + out["zo_perturbation"] + out["gathered"],
        out["grads"] + out["tied_grad_temporary"] + out["gathered"] + out["unsharded_grads"],
    )
    out["total"] = out["weights"] + out["optimizer"] + out["zo_mask_bytes"] + transient
    return out


def step_terms(spec: ArchSpec, s: MemorySetting, terms, random_mask: bool) -> dict:
    """The bytes of each term of one step under the method's `terms` (`core.training.methods.MemoryTerms`)."""
    pc = param_counts(spec)
    n_total = pc["embed"] + pc["head"] + pc["norm"] + spec.layers * pc["layer"]
    block = s.block_params or (int(s.budget * n_total) if terms.budget_block else pc["layer"])
    lora_per_layer = s.lora_r * pc["lora_per_layer_per_rank"]
    trainable = trainable_params(terms, pc, spec, s.gamma, s.lora_r, block, s.update_frac)
    master_weights = s.master_weights or terms.master_copy
    tokens = s.batch * s.seq
    acts = saved_floats(terms, spec, pc, tokens, s.seq, s.gamma, s.lora_r, block, s.lowest_layer)
    forward_only = terms.activations == "forward"
    if s.attention_scores and not forward_only:
        acts += spec.layers * s.batch * spec.heads * s.seq * s.seq
    out = {
        "weights": (n_total + (spec.layers * lora_per_layer if terms.lora_weights else 0)) * s.weight_bytes,
        "grads": trainable * s.grad_bytes,
        "optimizer": 2 * trainable * s.state_bytes + (trainable * 4 if master_weights else 0),
        "tied_grad_temporary": pc["embed"] * s.grad_bytes if spec.tied and terms.tied_grad else 0,
        "activations": acts * s.act_bytes,
        "loss_temporaries": 0 if forward_only else 2 * tokens * spec.vocab * s.act_bytes,
        "zo_perturbation": zo_transient_bytes(spec, tokens, s.weight_bytes, s.act_bytes)
        if terms.zeroth_order
        else 0,
        "zo_mask_bytes": (n_total + 7) // 8 if random_mask else 0,  # R-MeZO: one bit per entry
        "trainable_params": trainable,
        "embed_bytes": pc["embed"] * s.weight_bytes,
        "blocks_bytes": spec.layers * pc["layer"] * s.weight_bytes,
        "head_bytes": pc["head"] * s.weight_bytes,
        "gathered": 0,  # FSDP2 (`ranks` > 1): all-gathered units, `shard_terms`
        "unsharded_grads": 0,
    }
    if s.galore_rank and terms.low_rank_state:
        low_rank = spec.layers * sum(m * n for m, n in layer_matrices(spec))
        out["optimizer"] = (
            2 * (trainable - low_rank) + spec.layers * galore_state_floats(spec, s.galore_rank)
        ) * s.state_bytes
    if s.ranks > 1:
        out.update(shard_terms(out, pc, spec, terms, s.ranks, s.weight_bytes, s.grad_bytes, lora_per_layer))
    return out


def shard_terms(
    out: dict, pc: dict, spec: ArchSpec, terms, ranks: int, wb: int, gb: int, lora_layer: int
) -> dict:
    """The terms of `predict_memory` per rank under FSDP2 (`torch.distributed.fsdp.fully_shard`, one unit per
    layer and a root unit with embeddings, final norm and head; `core.training.fsdp.shard_model`): weights, gradients
    and optimizer state divided over `ranks`; the all-gathered (full) weights of the root unit, which FSDP2 keeps
    unsharded from its forward to the end of backward, plus one layer unit at a time (``gathered``); and the
    full-size gradients of those units before their reduce-scatter (``unsharded_grads``: the root's when the
    method trains embeddings / head, and one layer's). Activations are per rank, at the per-rank batch."""
    root = pc["embed"] + pc["head"] + pc["norm"]
    layer = pc["layer"] + (lora_layer if terms.lora_weights else 0)
    root_trained = terms.trainable in ("all", "lisa")
    layer_grad = {"all": pc["layer"], "lisa": pc["layer"], "block": pc["layer"]}.get(
        terms.trainable, lora_layer
    )
    return {
        "weights": out["weights"] / ranks,
        "grads": out["grads"] / ranks,
        "optimizer": out["optimizer"] / ranks,
        "gathered": (root + layer) * wb,
        "unsharded_grads": ((root if root_trained else 0) + layer_grad) * gb
        if terms.trainable != "none"
        else 0,
        "ranks": ranks,
    }


def spec_dict(spec: ArchSpec) -> dict:
    return asdict(spec)

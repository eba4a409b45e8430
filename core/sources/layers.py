"""Find the blocks of any HF model: embeddings, the stack of layers, head, and the modules in a layer.

No training logic here. Works for Llama-style (``model.layers``), GPT-2 (``transformer.h``) and BERT
(``bert.encoder.layer``) models, also when wrapped by peft. The layer stack is found structurally (the
longest ``nn.ModuleList`` of same-class children) so new architectures need no table entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

# canonical module name -> suffixes of the module's qualified name inside one layer, per architecture
MODULE_SUFFIXES = {
    "q": ("self_attn.q_proj", "attention.self.query"),
    "k": ("self_attn.k_proj", "attention.self.key"),
    "v": ("self_attn.v_proj", "attention.self.value"),
    "qkv": ("attn.c_attn",),
    "o": ("self_attn.o_proj", "attn.c_proj", "attention.output.dense"),
    "gate": ("mlp.gate_proj",),
    "up": ("mlp.up_proj", "mlp.c_fc", "intermediate.dense"),
    "down": ("mlp.down_proj", "mlp.c_proj", "output.dense"),
}


class NoLayersError(ValueError):
    """The model has no recognisable stack of layers."""


@dataclass
class ModelBlocks:
    """Named parts of a model. `layers[i]` is (qualified name, module); embeddings/head likewise."""

    embeddings: list[tuple[str, nn.Module]]
    layers: list[tuple[str, nn.Module]]
    head: list[tuple[str, nn.Module]]
    others: list[tuple[str, nn.Module]] = field(default_factory=list)
    tied: bool = False

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def layer_params(self, i: int) -> list[nn.Parameter]:
        return list(self.layers[i][1].parameters())


def find_layer_stack(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The longest ModuleList whose children share one class: the transformer layers."""
    best = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            if len({type(m) for m in module}) == 1 and (best is None or len(module) > len(best[1])):
                best = (name, module)
    if best is None:
        raise NoLayersError(
            f"{type(model).__name__} has no stack of identical layers (nn.ModuleList); "
            "core.sources.layers supports Llama-, GPT-2- and BERT-style models"
        )
    return best


def find_blocks(model: nn.Module) -> ModelBlocks:
    """Embeddings, layers, head and the remaining parameterised modules of `model`."""
    stack_name, stack = find_layer_stack(model)
    layers = [(f"{stack_name}.{i}", m) for i, m in enumerate(stack)]
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    out_emb = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    head_modules = [
        m for m in (out_emb, getattr(base, "classifier", None), getattr(base, "score", None)) if m
    ]
    embeddings, head, others = [], [], []
    for name, module in model.named_modules():
        if name == stack_name or name.startswith(stack_name + "."):
            continue
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        name = name.removesuffix(".base_layer")  # peft wraps adapted modules; the wrapper owns the adapter
        if isinstance(module, nn.Embedding):
            embeddings.append((name, module))
        elif any(module is h for h in head_modules) or name.endswith(("lm_head", "classifier", "score")):
            head.append((name, module))
        else:
            others.append((name, module))
    tied = bool(out_emb is not None and any(out_emb.weight is e.weight for _, e in embeddings))
    return ModelBlocks(embeddings=embeddings, layers=layers, head=head, others=others, tied=tied)


def canonical_name(qualified: str) -> str | None:
    """`model.layers.3.self_attn.q_proj` -> `q`; None for modules outside the table."""
    for canon, suffixes in MODULE_SUFFIXES.items():
        if qualified.endswith(suffixes):
            return canon
    return None


def layer_modules(layer: nn.Module) -> dict[str, tuple[str, nn.Module]]:
    """Canonical name (q,k,v,qkv,o,gate,up,down) -> (name inside the layer, module with a 2-D weight).

    For BERT, `output.dense` (down) and `attention.output.dense` (o) share a suffix; the longer match wins.
    """
    found: dict[str, tuple[str, nn.Module]] = {}
    for name, module in layer.named_modules():
        weight = getattr(module, "weight", None)
        if weight is None or weight.dim() != 2 or "lora_" in name:
            continue
        canon = canonical_name(name)
        if canon == "down" and name.endswith("attention.output.dense"):
            canon = "o"
        if canon and canon not in found:
            found[canon] = (name, module)
    return found


def module_blocks(model: nn.Module) -> dict[str, nn.Parameter]:
    """MISA's blocks (papers/misa/REFERENCE.md §2): every 2-D weight inside the layer stack, one block each
    (q, k, v, o, gate, up, down for Llama: 7·L blocks), keyed ``<layer path>.<module path>``."""
    return {
        f"{lname}.{name}": mod.weight
        for lname, layer in find_blocks(model).layers
        for name, mod in layer.named_modules()
        if getattr(mod, "weight", None) is not None and mod.weight.dim() == 2
    }


def param_count(modules) -> int:
    """Distinct parameters of an iterable of modules (tied weights counted once)."""
    seen = {}
    for m in modules:
        for p in m.parameters():
            seen[id(p)] = p.numel()
    return sum(seen.values())

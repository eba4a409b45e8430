"""Real minibatch gradients for the variance lab: per-block squared norms and inner products with the full-batch
gradient, the gradient on the zeroth-order subset, LoRA gradients, and a check that the block arithmetic of
`core.analysis.estimators` equals ‖ĝ − g‖² of the update vector built from the drawn blocks.

Blocks partition *every* parameter exactly once: ``embed_head`` (embeddings and head, one tensor when tied),
``final_norm`` (the rest outside the layers), the 2-D weights of each layer (MISA's blocks, `module_blocks`) and
``layer<i>.norms`` (the layer's remaining parameters). ∇f is the mean of the M minibatch gradients (the lab's
population is those M batches); the M gradients are kept whole (fp32) for ⟨g_{B,b}, ∇f_b⟩.
"""

from __future__ import annotations

import numpy as np
import torch

from core.sources.layers import find_blocks, module_blocks


def partition(model) -> dict:
    """``{"names", "params" (lists of tensors), "kind" ('always'|'matrix'|'norm'|'other'), "layer", "sizes"}``."""
    parts = find_blocks(model)
    seen: set[int] = set()
    names, params, kind, layer = [], [], [], []

    def add(name: str, ps, k: str, i: int) -> None:
        """A block of the parameters in `ps` not yet in a block (a tied head is its embedding: counted once)."""
        fresh = []
        for p in ps:
            if id(p) not in seen:
                seen.add(id(p))
                fresh.append(p)
        names.append(name)
        params.append(fresh)
        kind.append(k)
        layer.append(i)

    add("embed_head", (p for _, m in parts.embeddings + parts.head for p in m.parameters()), "always", -1)
    matrices = module_blocks(model)
    for i, (lname, mod) in enumerate(parts.layers):
        for name, w in matrices.items():
            if name.startswith(lname + "."):
                add(name, [w], "matrix", i)
        add(f"layer{i}.norms", mod.parameters(), "norm", i)
    add("final_norm", model.parameters(), "other", -1)
    total = sum(p.numel() for p in model.parameters())
    sizes = [sum(p.numel() for p in ps) for ps in params]
    if sum(sizes) != total:
        raise AssertionError(f"blocks cover {sum(sizes)} of {total} parameters")
    return {"names": names, "params": params, "kind": kind, "layer": layer, "sizes": sizes, "total": total}


def loss_backward(model, batch) -> float:
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    return float(loss.detach())


@torch.no_grad()
def _block_sq(blocks) -> np.ndarray:
    return np.array(
        [sum(float(p.grad.double().pow(2).sum()) for p in ps if p.grad is not None) for ps in blocks]
    )


def subset_vector(params) -> torch.Tensor:
    return torch.cat([p.grad.detach().reshape(-1).float() for p in params])


@torch.no_grad()
def minibatch_gradients(model, blocks, batches, subset=()) -> dict:
    """Per batch: loss, ‖g_{B,b}‖², the whole gradient (flat fp32, blocks in order) and the gradient on the
    `subset` tensors; then ∇f = mean_B g_B, ⟨g_{B,b}, ∇f_b⟩ and ‖∇f_b‖² (float64 sums)."""
    flat, sq, losses, sub = [], [], [], []
    for batch in batches:
        with torch.enable_grad():
            losses.append(loss_backward(model, batch))
        sq.append(_block_sq(blocks))
        flat.append(torch.cat([p.grad.reshape(-1) for ps in blocks for p in ps]))
        if subset:
            sub.append(subset_vector(subset))
        print(f"  batch {len(losses)}/{len(batches)}: loss {losses[-1]:.4f}", flush=True)
    model.zero_grad(set_to_none=True)
    bounds = np.cumsum([0] + [sum(p.numel() for p in ps) for ps in blocks])
    mean = torch.zeros(int(bounds[-1]), dtype=torch.float64)
    for f in flat:
        mean += f
    mean /= len(flat)
    seg = list(zip(bounds[:-1], bounds[1:]))
    dots = np.array([[float(f[s:e].double() @ mean[s:e]) for s, e in seg] for f in flat])
    sq_full = np.array([float(mean[s:e] @ mean[s:e]) for s, e in seg])
    return {
        "sq": np.array(sq),
        "dots": dots,
        "sq_full": sq_full,
        "loss": losses,
        "flat": flat,
        "mean": mean,
        "bounds": bounds,
        "subset": torch.stack(sub) if subset else None,
    }


@torch.no_grad()
def vector_check(grads: dict, c, batch: int = 0) -> dict:
    """Build ĝ = Σ_b c_b g_b of one batch as one flat vector over every parameter from the blocks' gradients, and
    return ‖ĝ − g‖², ‖ĝ − ∇f‖² computed on the vectors next to the block formula of `core.analysis.estimators`."""
    g, b = grads["flat"][batch], grads["bounds"]
    g_hat = torch.cat([float(c[i]) * g[s:e] for i, (s, e) in enumerate(zip(b[:-1], b[1:]))])
    c = np.asarray(c, dtype=float)
    sq, dots = grads["sq"][batch], grads["dots"][batch]
    return {
        "vector": float((g_hat.double() - g.double()).pow(2).sum()),
        "blocks": float(sq @ (c - 1) ** 2),
        "vector_full": float((g_hat.double() - grads["mean"]).pow(2).sum()),
        "blocks_full": float(sq @ c**2 - 2 * dots @ c + grads["sq_full"].sum()),
    }


def fine_tune(model, params, batches, lr: float, seed: int) -> list[float]:
    """A few seeded AdamW steps on `params` (the lab's fine-tuned point); returns the training losses."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses = []
    for batch in batches:
        losses.append(loss_backward(model, batch))
        opt.step()
        print(f"  fine-tune step {len(losses)}/{len(batches)}: loss {losses[-1]:.4f}", flush=True)
    model.zero_grad(set_to_none=True)
    return losses


def lora_gradients(model, blocks, batches) -> dict:
    """LoRA minibatch gradients, kept whole (a few M entries): per-block ‖g_b‖², ⟨g_{B,b}, ∇f_b⟩ and ‖∇f_b‖²."""
    vecs, losses = [], []
    for batch in batches:
        losses.append(loss_backward(model, batch))
        vecs.append([torch.cat([p.grad.reshape(-1).double() for p in ps]) for ps in blocks])
    mean = [sum(v[b] for v in vecs) / len(vecs) for b in range(len(blocks))]
    sq = np.array([[float(v[b].pow(2).sum()) for b in range(len(blocks))] for v in vecs])
    dots = np.array([[float(v[b] @ mean[b]) for b in range(len(blocks))] for v in vecs])
    return {
        "sq": sq,
        "dots": dots,
        "sq_full": np.array([float(m.pow(2).sum()) for m in mean]),
        "loss": losses,
        "vectors": vecs,
        "mean": mean,
    }


def lora_vector_check(vecs, mean, c) -> dict:
    """As `vector_check`, for the stored LoRA gradient of batch 0."""
    g = torch.cat(vecs)
    g_hat = torch.cat([float(c[b]) * v for b, v in enumerate(vecs)])
    full = torch.cat(mean)
    return {"vector": float((g_hat - g).pow(2).sum()), "vector_full": float((g_hat - full).pow(2).sum())}

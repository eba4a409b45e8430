"""Real minibatch gradients for the variance lab: per-block squared norms and inner products with the full-batch
gradient, the gradient on the zeroth-order subset, LoRA gradients, and a check that the block arithmetic of
`core.estimators` equals ‖ĝ − g‖² of the update vector built from the drawn blocks.

Blocks partition *every* parameter exactly once: ``embed_head`` (embeddings and head, one tensor when tied),
``final_norm`` (the rest outside the layers), the 2-D weights of each layer (MISA's blocks, `module_blocks`) and
``layer<i>.norms`` (the layer's remaining parameters). ∇f is the mean of the M minibatch gradients (the lab's
population is those M batches), computed in a first pass; a second pass recomputes each g_B for ⟨g_{B,b}, ∇f_b⟩.
"""
from __future__ import annotations

import numpy as np
import torch

from core.layers import find_blocks, module_blocks


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
    return np.array([sum(float(p.grad.double().pow(2).sum()) for p in ps if p.grad is not None) for ps in blocks])


@torch.no_grad()
def _block_dot(blocks, mean: dict) -> np.ndarray:
    return np.array([sum(float((p.grad.double() * mean[id(p)].double()).sum()) for p in ps if p.grad is not None)
                     for ps in blocks])


def subset_vector(params) -> torch.Tensor:
    return torch.cat([p.grad.detach().reshape(-1).float() for p in params])


def first_pass(model, blocks, batches, subset=()) -> dict:
    """Per batch ‖g_{B,b}‖², loss, and the gradient on `subset` tensors; the summed gradient for ∇f."""
    params = [p for ps in blocks for p in ps]
    total = {id(p): torch.zeros_like(p, dtype=torch.float64) for p in params}
    sq, losses, sub = [], [], []
    for batch in batches:
        losses.append(loss_backward(model, batch))
        sq.append(_block_sq(blocks))
        with torch.no_grad():
            for p in params:
                total[id(p)] += p.grad.double()
        if subset:
            sub.append(subset_vector(subset))
        print(f"  pass 1 batch {len(losses)}/{len(batches)}: loss {losses[-1]:.4f}", flush=True)
    mean = {k: (v / len(batches)).float() for k, v in total.items()}
    sq_full = np.array([sum(float(mean[id(p)].double().pow(2).sum()) for p in ps) for ps in blocks])
    return {"sq": np.array(sq), "loss": losses, "mean": mean, "sq_full": sq_full,
            "subset": torch.stack(sub) if subset else None}


def second_pass(model, blocks, batches, first: dict, checks: list | None = None) -> dict:
    """⟨g_{B,b}, ∇f_b⟩ per batch and block; the recomputed ‖g_{B,b}‖² must equal the first pass's. On batch 0,
    each coefficient vector c in `checks` is applied to the real gradient (`vector_check`)."""
    dots, done = [], []
    for i, batch in enumerate(batches):
        loss_backward(model, batch)
        sq = _block_sq(blocks)
        if not np.allclose(sq, first["sq"][i], rtol=1e-5, atol=0):
            raise RuntimeError(f"batch {i}: the recomputed gradient differs from the first pass "
                               f"(max rel {np.max(np.abs(sq / first['sq'][i] - 1)):.2e}); backward is not deterministic")
        dots.append(_block_dot(blocks, first["mean"]))
        if i == 0 and checks:
            done = [vector_check(blocks, first["mean"], c) for c in checks]
        print(f"  pass 2 batch {i + 1}/{len(batches)}", flush=True)
    return {"dots": np.array(dots), "vector_checks": done}


@torch.no_grad()
def vector_check(blocks, mean: dict, c) -> dict:
    """Build ĝ = Σ_b c_b g_b as one flat vector over every parameter (from the blocks' .grad), and ∇f, g flat;
    return ‖ĝ − g‖², ‖ĝ − ∇f‖² computed on the vectors next to the block formula of `core.estimators`."""
    params = [(b, p) for b, ps in enumerate(blocks) for p in ps]
    g = torch.cat([p.grad.reshape(-1) for _, p in params])
    g_hat = torch.cat([float(c[b]) * p.grad.reshape(-1) for b, p in params])
    full = torch.cat([mean[id(p)].reshape(-1) for _, p in params])
    err = float((g_hat.double() - g.double()).pow(2).sum())
    err_full = float((g_hat.double() - full.double()).pow(2).sum())
    sq = _block_sq(blocks)
    dots = _block_dot(blocks, mean)
    sq_full = np.array([sum(float(mean[id(p)].double().pow(2).sum()) for p in ps) for ps in blocks])
    c = np.asarray(c, dtype=float)
    return {"vector": err, "blocks": float(sq @ (c - 1) ** 2), "vector_full": err_full,
            "blocks_full": float(sq @ c ** 2 - 2 * dots @ c + sq_full.sum())}


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
    return {"sq": sq, "dots": dots, "sq_full": np.array([float(m.pow(2).sum()) for m in mean]), "loss": losses,
            "vectors": vecs, "mean": mean}


def lora_vector_check(vecs, mean, c) -> dict:
    """As `vector_check`, for the stored LoRA gradient of batch 0."""
    g = torch.cat(vecs)
    g_hat = torch.cat([float(c[b]) * v for b, v in enumerate(vecs)])
    full = torch.cat(mean)
    return {"vector": float((g_hat - g).pow(2).sum()), "vector_full": float((g_hat - full).pow(2).sum())}

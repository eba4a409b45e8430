"""MISA's variance claim on real gradients: per-module ‖g_b‖² of SmolLM2 on real batches, then the
sampling variance of module-wise importance sampling vs layer-wise uniform (LISA) vs module-wise uniform
at equal trainable-parameter budget.

    python -m papers.misa.variance --profile cpu      # writes data/results/misa/variance/<profile>.json

Blocks are disjoint coordinates of the gradient, so for any sampler with inclusion probabilities π_b
the unbiased (Horvitz-Thompson) estimator ĝ = Σ_{b∈S} g_b/π_b has E‖ĝ − g‖² = Σ_b (1/π_b − 1)‖g_b‖²
(`core.analysis.block_variance.inclusion_variance`), whatever the joint law of S. Everything below therefore needs only
the per-block squared norms, which `collect` stores; `analyse` (used by the notebook) does the rest.
"""

from __future__ import annotations

import math

import numpy as np

from core.analysis.block_variance import (
    inclusion_variance,
    monte_carlo_variance,
    optimal_inclusion,
    optimal_probs,
    sampling_variance,
    unreweighted_error,
)
from core.analysis.norms import block_grad_sq_norms
from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main
from core.sources.data import load_task
from core.sources.layers import find_blocks, module_blocks
from core.sources.models import load_model
from core.sources.prompts import tokenize_dataset
from core.training.run import seed_everything
from core.training.sampling import (
    ModuleImportanceSampler,
    UniformLayerSampler,
    importance_probs,
    inclusion_frequencies,
)

PROFILES = {
    "cpu": dict(model="smollm2-135m", task="instruct", batches=16, batch_size=4, max_length=64, seed=0),
    "gpu": dict(model="smollm2-135m", task="instruct", batches=64, batch_size=8, max_length=64, seed=0),
    "tiny": dict(model="tiny-llama", task="instruct", batches=4, batch_size=2, max_length=32, seed=0),
    "paper": dict(
        model="meta-llama/Meta-Llama-3-8B",
        task="vicgalle/alpaca-gpt4",
        batches=16,
        batch_size=2,
        max_length=512,
        seed=0,
    ),
}
GAMMAS = (1, 2, 4, 8)  # LISA layer counts; their parameter budgets set the equal-budget grid


def batches(tok, p: dict):
    """`batches` fixed-seed training batches, padded as the Trainer pads them."""
    from transformers import DataCollatorForSeq2Seq

    data = tokenize_dataset(
        load_task(p["task"], "train", p["batches"] * p["batch_size"]), tok, p["max_length"]
    )
    rows = data.shuffle(seed=p["seed"])
    collate = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    for i in range(p["batches"]):
        yield collate([rows[j] for j in range(i * p["batch_size"], (i + 1) * p["batch_size"])])


STUDY = Study("misa", "variance", PROFILES, lambda profile, args: gradient_norms(PROFILES[profile]))


def collect(profile: str, force: bool = False) -> dict:
    return STUDY.result(profile, force)


def gradient_norms(p: dict) -> dict:
    """Per-batch ‖g_b‖² of every MISA block (and the rest of the model) of the pre-trained model."""
    seed_everything(p["seed"])
    model, tok = load_model(p["model"])
    model.config.use_cache = False
    blocks = {k: [w] for k, w in module_blocks(model).items()}
    in_blocks = {id(w) for ws in blocks.values() for w in ws}
    rest = {"rest": [q for q in model.parameters() if id(q) not in in_blocks]}
    layer_of = {
        name: i
        for i, (lname, _) in enumerate(find_blocks(model).layers)
        for name in blocks
        if name.startswith(lname + ".")
    }
    per_batch, losses = [], []
    for batch in batches(tok, p):
        model.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        losses.append(loss.item())
        sq = block_grad_sq_norms(blocks)
        per_batch.append({"blocks": [sq[k] for k in blocks], "rest": block_grad_sq_norms(rest)["rest"]})
        print(f"batch {len(losses)}/{p['batches']}: loss {losses[-1]:.3f}", flush=True)
    total = sum(q.numel() for q in model.parameters())
    data = {
        "blocks": list(blocks),
        "sizes": [ws[0].numel() for ws in blocks.values()],
        "layer": [layer_of[k] for k in blocks],
        "total_params": total,
        "n_layers": find_blocks(model).n_layers,
        "losses": losses,
        "per_batch": per_batch,
        "setting": p,
        "manifest": manifest({"study": "misa_variance", **p}, p["seed"]),
    }
    return data


# ---------------------------------------------------------------- analysis (pure; used by the notebook)


def block_matrix(data: dict) -> np.ndarray:
    """batches x blocks array of ‖g_b‖²."""
    return np.array([row["blocks"] for row in data["per_batch"]], dtype=float)


def layer_uniform_inclusion(data: dict, gamma: int) -> np.ndarray:
    """LISA: γ of L layers uniformly, so every module of every layer has π = γ/L."""
    return np.full(len(data["sizes"]), gamma / data["n_layers"])


def lisa_budget(data: dict, gamma: int) -> float:
    """Fraction of all parameters in γ layers' 2-D weights (MISA's δ for an equal budget)."""
    per_layer = sum(data["sizes"]) / data["n_layers"]
    return gamma * per_layer / data["total_params"]


def misa_inclusion(data: dict, budget: float, scores, eta: float, draws: int = 300, seed: int = 0) -> tuple:
    """(π, mean used budget) of the reference MISA packing sampler with fixed importance scores G_b."""
    sampler = ModuleImportanceSampler(
        data["sizes"], budget=budget, eta=eta, seed=seed, total=data["total_params"]
    )
    sampler.G = [float(s) for s in scores]
    used = []

    def draw():
        chosen = sampler.sample()
        used.append(sum(data["sizes"][b] for b in chosen) / data["total_params"])
        return chosen

    burn = math.ceil(len(data["sizes"]) * min(data["sizes"]) / data["total_params"] / budget) + 10
    pi = inclusion_frequencies(draw, len(data["sizes"]), draws, burn_in=burn)
    return pi, float(np.mean(used[burn:]))


def single_block_table(sq: np.ndarray, etas=(0.0, 1.0, 10.0, 100.0, 1000.0)) -> dict:
    """One block per step (the setting of MISA's variance comparison): E‖ĝ−g‖²/‖g‖² for uniform p, the paper's
    p ∝ exp(min(5, η‖g_b‖²)) at several η, and the optimum p ∝ ‖g_b‖; one value per batch."""
    out = {}
    for eta in etas:
        out[f"exp_eta{eta:g}"] = [
            sampling_variance(np.sqrt(s)[:, None], importance_probs(np.sqrt(s), eta).numpy()) / s.sum()
            for s in sq
        ]
    out["optimal"] = [
        sampling_variance(np.sqrt(s)[:, None], optimal_probs(np.sqrt(s)[:, None])) / s.sum() for s in sq
    ]
    return out


def closed_vs_monte_carlo(sq_row: np.ndarray, probs: dict, n: int = 20000) -> dict:
    """For one gradient: closed form and Monte-Carlo (mean, 95 % CI) of the single-block estimator."""
    g = np.sqrt(sq_row)[:, None]
    out = {}
    for name, p in probs.items():
        mc, lo, hi = monte_carlo_variance(g, p, n=n, seed=1)
        out[name] = {
            "closed": sampling_variance(g, p) / sq_row.sum(),
            "mc": mc / sq_row.sum(),
            "lo": lo / sq_row.sum(),
            "hi": hi / sq_row.sum(),
        }
    return out


def lisa_monte_carlo(data: dict, sq_row: np.ndarray, gamma: int, n: int = 4000) -> dict:
    """Multi-block check: simulate LISA's γ-subsets, average ‖ĝ_S − g‖² of the 1/π-reweighted estimator."""
    sampler = UniformLayerSampler(data["n_layers"], gamma, seed=2)
    layer = np.asarray(data["layer"])
    pi = gamma / data["n_layers"]
    vals = []
    for _ in range(n):
        active = np.isin(layer, sampler.sample())
        vals.append(float(np.sum((active / pi - 1) ** 2 * sq_row)))
    vals = np.asarray(vals) / sq_row.sum()
    se = vals.std(ddof=1) / math.sqrt(n)
    closed = inclusion_variance(np.sqrt(sq_row)[:, None], np.full(len(sq_row), pi)) / sq_row.sum()
    return {
        "closed": closed,
        "mc": float(vals.mean()),
        "lo": float(vals.mean() - 1.96 * se),
        "hi": float(vals.mean() + 1.96 * se),
    }


def equal_budget_table(data: dict, eta: float = 1.0, draws: int = 300) -> dict:
    """Per LISA γ: δ, ‖g‖² per batch, and per sampler its inclusion π, per-batch E‖ĝ−g‖² of the reweighted
    estimator and the no-reweighting error of MISA's actual update (unnormalized: report ratios of means,
    for which the optimal inclusion, computed from the mean ‖g_b‖², is optimal)."""
    sq = block_matrix(data)
    scores = np.sqrt(sq).mean(axis=0)  # MISA's G_b: mean unsquared block norm
    rows = {}
    for gamma in GAMMAS:
        if gamma > data["n_layers"]:
            continue
        delta = lisa_budget(data, gamma)
        samplers = {"layer_uniform (LISA)": (layer_uniform_inclusion(data, gamma), delta)}
        samplers["module_uniform"] = misa_inclusion(data, delta, scores, 0.0, draws)
        samplers[f"module_importance (MISA, eta={eta:g})"] = misa_inclusion(data, delta, scores, eta, draws)
        samplers["module_optimal (pi ~ |g|/sqrt(n))"] = (
            optimal_inclusion(sq.mean(axis=0), data["sizes"], delta, data["total_params"]),
            delta,
        )
        row = {"budget": delta, "grad_sq": [float(s.sum()) for s in sq]}
        for name, (pi, used) in samplers.items():
            row[name] = {
                "used_budget": used,
                "variance": [inclusion_variance(np.sqrt(s)[:, None], pi) for s in sq],
                "unreweighted_error": [unreweighted_error(s, pi) for s in sq],
                "pi_min": float(pi.min()),
                "pi_max": float(pi.max()),
            }
        rows[f"gamma{gamma}"] = row
    return rows


def main(argv=None) -> int:
    return study_main(STUDY, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Sparse MeZO's key observation, checked on real weights: "the estimation error will hurt more when adding to
large weights instead of small weights" (abstract; §3 motivates the small-magnitude mask with it).

    python -m papers.sparse_mezo.noise --profile cpu   # -> data/results/sparse_mezo/noise/<profile>.json

For each model, one fixed training batch and the pre-trained weights θ: every tensor's entries are split into
magnitude quintiles (per tensor, as the paper's per-layer thresholds; `core.training.zo.MagnitudeBand`). For each of
`draws` SPSA directions z (`core.training.zo.SPSA`, dense, ε = `eps`), per quintile b with mask m_b:
- noise: ΔL = L(θ + σ·m_b⊙z) − L(θ), the loss change of the same random perturbation put on one quintile;
- noise_sym: the antithetic mean (L(θ + σ·m_b⊙z) + L(θ − σ·m_b⊙z))/2 − L(θ). Its expectation over z is the same
  as noise's (the first-order term σ·∇_bᵀz has mean 0 and cancels exactly in the pair), what is left is the
  curvature term σ²/2·(m_b⊙z)ᵀH(m_b⊙z) + O(σ⁴): the harm the paper's argument is about, with far less spread
  per draw, so the large-vs-small comparison has power at a few dozen draws;
- ZO step: ΔL = L(θ − lr·g·m_b⊙z) − L(θ) with g = (L(θ+εz) − L(θ−εz))/2ε, i.e. MeZO's update kept on one
  quintile (what Sparse MeZO does for the small quintiles);
- estimate error against the backprop gradient ∇L restricted to the quintile: ‖ĝ_b − ∇_b‖² / ‖∇_b‖² and the
  cosine of ĝ_b = g·m_b⊙z with ∇_b, plus each quintile's share of ‖∇L‖² and mean |θ|.
Every quintile holds the same number of entries, so the rows are directly comparable.
"""

from __future__ import annotations

import torch

from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main
from core.training.checks import run_config
from core.training.finetune import causal_setup, encoder_setup, is_encoder
from core.training.run import seed_everything
from core.training.zo import SPSA, MagnitudeBand

BANDS = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0)]
CPU = dict(
    models={"smollm2-135m": 1e-5, "minilm-l6": 1e-4},
    task="sentiment",
    batch_size=8,
    max_length=64,
    draws=40,
    eps=1e-3,
    sigma=1e-2,
    seed=0,
)
PROFILES = {
    "cpu": CPU,
    "gpu": {**CPU, "draws": 200},  # the same study with 5x the directions (a SmolLM2 forward takes ms there)
    "tiny": dict(
        models={"tiny-llama": 1e-3, "tiny-bert": 1e-3},
        task="sentiment",
        batch_size=2,
        max_length=32,
        draws=3,
        eps=1e-3,
        sigma=1e-2,
        seed=0,
    ),
    "paper": dict(
        models={"huggyllama/llama-7b": 1e-6, "roberta-large": 1e-6},
        task="super_glue/rte",
        batch_size=16,
        max_length=256,
        draws=16,
        eps=1e-3,
        sigma=1e-3,
        seed=0,
    ),
}


def setup(name: str, p: dict):
    """The model (eval mode) and one fixed training batch, built exactly as a training run builds them."""
    cfg = run_config(
        {
            "model": name,
            "task": p["task"],
            "max_length": p["max_length"],
            "seed": p["seed"],
            "train_examples": p["batch_size"],
        }
    )
    model, _, train, _, collator = (encoder_setup if is_encoder(cfg) else causal_setup)(cfg)
    model.eval()
    return model, collator([train[i] for i in range(p["batch_size"])])


def true_gradient(model, batch) -> dict:
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()
    grads = {n: q.grad.detach().clone() for n, q in model.named_parameters() if q.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def band_statistics(est: SPSA, g: float, grads: dict, bands: list) -> dict:
    """Per band: ‖ĝ_b − ∇_b‖², ‖∇_b‖², ĝ_b·∇_b, ‖ĝ_b‖², Σ|θ| and the entry count, for ĝ = g·z (one z pass)."""
    keys = ("err", "grad_sq", "dot", "est_sq", "abs_sum", "count")
    out = {k: [0.0] * len(bands) for k in keys}
    for i, (name, q) in enumerate(est.params):
        z = est.z(i, q)
        true = grads.get(name, torch.zeros_like(q))
        for b, band in enumerate(bands):
            m = band(name, q)
            gb, tb = g * z[m].double(), true[m].double()
            for key, val in zip(
                keys,
                (
                    (gb - tb).square().sum(),
                    tb.square().sum(),
                    (gb * tb).sum(),
                    gb.square().sum(),
                    q.detach()[m].abs().double().sum(),
                    m.sum(),
                ),
            ):
                out[key][b] += float(val)
    return out


@torch.no_grad()
def perturbed_losses(
    model, est: SPSA, banded: list, batch, g: float, lr: float, sigma: float, base: float
) -> dict:
    """ΔL of the σ-noise and of the ZO step, each confined to one band (same z as `est`'s current step)."""
    noise, noise_sym, step = [], [], []
    for spsa in banded:
        spsa.step_seed = est.step_seed
        with spsa.perturbed(1.0):
            plus = float(model(**batch).loss) - base
        with spsa.perturbed(-1.0):
            minus = float(model(**batch).loss) - base
        noise.append(plus)
        noise_sym.append((plus + minus) / 2)
        with spsa.perturbed(-lr * g / sigma):
            step.append(float(model(**batch).loss) - base)
    return {"noise": noise, "noise_sym": noise_sym, "step": step}


def study_model(name: str, lr: float, p: dict) -> dict:
    seed_everything(p["seed"])
    model, batch = setup(name, p)
    grads = true_gradient(model, batch)
    with torch.no_grad():
        base = float(model(**batch).loss)
    bands = [MagnitudeBand(lo, hi) for lo, hi in BANDS]
    est = SPSA(model, eps=p["eps"], seed=p["seed"])
    banded = [SPSA(model, eps=p["sigma"], mask=band) for band in bands]
    draws = []
    for d in range(p["draws"]):
        g, _ = est.estimate(lambda: model(**batch).loss)
        row = {
            "projected_grad": g,
            **band_statistics(est, g, grads, bands),
            **perturbed_losses(model, est, banded, batch, g, lr, p["sigma"], base),
        }
        draws.append(row)
        print(
            f"{name} draw {d + 1}/{p['draws']}: g {g:+.3f}  noise ΔL {[f'{x:.2e}' for x in row['noise']]}",
            flush=True,
        )
    n_params = sum(q.numel() for _, q in est.params)
    return {
        "lr": lr,
        "base_loss": base,
        "n_params": n_params,
        "draws": draws,
        "grad_sq_total": sum(float(t.double().square().sum()) for t in grads.values()),
    }


def noise_study(profile: str, args=None) -> dict:
    p = PROFILES[profile]
    return {
        "bands": BANDS,
        "setting": p,
        "models": {m: study_model(m, lr, p) for m, lr in p["models"].items()},
        "manifest": manifest({"study": "sparse_mezo_noise", **p}, p["seed"]),
    }


STUDY = Study("sparse_mezo", "noise", PROFILES, noise_study)


def collect(profile: str, force: bool = False) -> dict:
    return STUDY.result(profile, force)


def main(argv=None) -> int:
    return study_main(STUDY, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Variance lab: every paper's gradient-estimator claim checked by a Monte Carlo over the method's own sampler,
on real SmolLM2-135M minibatch gradients at the pre-trained point and after a few seeded full-FT (LoRA) steps.

    python -m papers.variance_lab.lab --profile cpu     # -> data/results/variance_lab/lab/<profile>.json

Estimators (draws from the `core` objects the training uses):
- LISA: `UniformLayerSampler` (γ layers) + embeddings/head and the final norm always (`LisaCallback`);
- MISA: `ModuleImportanceSampler` over the 210 weight matrices, its EMA scores warmed by replaying
  `MisaCallback`'s protocol on the lab's block norms (T steps per period), η = 1 and η = 0 (module-uniform);
  embeddings/head on (equal-memory arm) or off (the paper's default); layer norms never trained;
- IST: `ISTCallback` on a peft LoRA model, scores from its real probe forwards, layers drawn by `ISTScores.select`;
  the random-selection control (`uniform=True`) beside it;
- MeZO / Sparse MeZO: z from `core.training.zo.SPSA.z` (the seed trick; step seeds advanced by `SPSA.estimate`), the
  mask from `MagnitudeMask` (sparsity 0.8, thresholds fixed at the pre-trained weights), on a documented subset
  of tensors (`zo_tensors`), in the ε → 0 form z (zᵀg), plus a check of the finite-ε estimator with real forwards.
Closed forms and the Monte-Carlo machinery: `core.analysis.estimators`; gradients: `papers.variance_lab.gradients`.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from core.analysis.estimators import block_monte_carlo, coefficients, mc_interval, spsa_monte_carlo
from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main
from core.sources.models import eval_mode, load_model
from core.training.callbacks import ISTCallback
from core.training.config import LoraSettings
from core.training.finetune import apply_lora
from core.training.run import seed_everything
from core.training.sampling import ISTScores, ModuleImportanceSampler, UniformLayerSampler, importance_probs
from core.training.zo import SPSA, MagnitudeMask
from papers.misa.variance import batches as lab_batches
from papers.variance_lab import gradients as grads

PROFILES = {
    "cpu": dict(
        model="smollm2-135m",
        task="instruct",
        batches=6,
        batch_size=4,
        max_length=64,
        seed=0,
        ft_steps=5,
        ft_lr=5e-5,
        lora_lr=2e-4,
        lora=dict(r=16, alpha=32, targets="q_proj,k_proj,v_proj,up_proj,down_proj"),
        gammas=[1, 2, 4],
        block_draws=10000,
        misa_draws=400,
        misa_calibration=800,
        misa_period=10,
        misa_periods=20,
        ist_draws=10000,
        ist_probe_rounds=2,
        zo_layers=[2, 26],
        zo_modules=["self_attn.k_proj", "self_attn.v_proj"],
        zo_draws=3000,
        sparsity=0.8,
        eps=1e-3,
        fd_draws=2,
        segments=20,
    ),
    "tiny": dict(
        model="tiny-llama",
        task="instruct",
        batches=3,
        batch_size=2,
        max_length=32,
        seed=0,
        ft_steps=2,
        ft_lr=1e-3,
        lora_lr=1e-3,
        lora=dict(r=4, alpha=8, targets="q_proj,v_proj"),
        gammas=[1, 2],
        block_draws=400,
        misa_draws=100,
        misa_calibration=200,
        misa_period=2,
        misa_periods=4,
        ist_draws=400,
        ist_probe_rounds=1,
        zo_layers=[0, 3],
        zo_modules=["self_attn.q_proj"],
        zo_draws=200,
        sparsity=0.8,
        eps=1e-3,
        fd_draws=2,
        segments=10,
    ),
}


STUDY = Study("variance_lab", "lab", PROFILES, lambda profile, args: run_lab(PROFILES[profile]))


def collect(profile: str, force: bool = False) -> dict:
    return STUDY.result(profile, force)


# ------------------------------------------------------------------ samplers -> draws in block indices


def lisa_arm(part: dict, gamma: int, seed: int):
    """LISA: π = 1 for embeddings/head and the final norm, γ/L for every block of a layer."""
    n_layers = max(part["layer"]) + 1
    layer = np.asarray(part["layer"])
    pi = np.where(layer < 0, 1.0, gamma / n_layers)
    sampler = UniformLayerSampler(n_layers, gamma, seed)
    return pi, lambda: np.flatnonzero(np.isin(layer, sampler.sample()))


def warm_misa(sampler: ModuleImportanceSampler, norms: np.ndarray, period: int, periods: int) -> int:
    """Replay `MisaCallback` at a fixed point: re-select every `period` steps and every step while a block was
    never used, feeding each step the active blocks' ‖g_b‖ of the next lab batch. Returns the steps replayed."""
    step, active = 0, []
    while step < periods * period or -1 in sampler.last_used:
        if step % period == 0 or -1 in sampler.last_used:
            active = sampler.sample()
        sampler.update({b: float(norms[step % len(norms), b]) for b in active})
        step += 1
    return step


def misa_arm(part: dict, sq: np.ndarray, budget: float, eta: float, p: dict):
    """MISA's packing sampler with warmed EMA scores: π̂ over the matrices from a calibration chain (its draws
    returned too, for the closed form's SE), and the draws (block indices) of an independent chain."""
    matrix = np.flatnonzero(np.asarray(part["kind"]) == "matrix")
    sizes = [part["sizes"][b] for b in matrix]
    sampler = ModuleImportanceSampler(
        sizes, budget=budget, eta=eta, seed=p["seed"], total=part["total"], period=p["misa_period"]
    )
    steps = warm_misa(sampler, np.sqrt(sq[:, matrix]), p["misa_period"], p["misa_periods"])
    state = sampler.state_dict()

    def chain(seed):
        s = ModuleImportanceSampler(
            sizes, budget=budget, eta=eta, total=part["total"], period=p["misa_period"]
        )
        s.load_state_dict(state)
        s.generator.manual_seed(seed)
        return lambda: matrix[s.sample()]

    calibrate = chain(p["seed"] + 101)
    calibration = [calibrate() for _ in range(p["misa_calibration"])]
    pi_matrix = np.bincount(np.concatenate(calibration), minlength=len(part["kind"]))[matrix] / len(
        calibration
    )
    draw = chain(p["seed"] + 202)
    draws = [draw() for _ in range(p["misa_draws"])]
    info = {
        "warm_steps": steps,
        "scores": list(sampler.G),
        "probs": sampler.probs().tolist(),
        "pi_matrix_min": float(pi_matrix.min()),
        "pi_matrix_max": float(pi_matrix.max()),
        "never_in_calibration": int(np.sum(pi_matrix == 0)),
    }
    return pi_matrix, draws, calibration, info


def misa_pi(part: dict, pi_matrix: np.ndarray, embed_head: bool) -> np.ndarray:
    """Inclusion over all blocks: the matrices' π̂, embeddings/head 1 (kept on) or 0 (the paper's default),
    layer norms and the final norm 0 (MISA never trains them)."""
    kind = np.asarray(part["kind"])
    pi = np.zeros(len(kind))
    pi[kind == "always"] = 1.0 if embed_head else 0.0
    pi[kind == "matrix"] = pi_matrix
    return pi


def equal_budget(part: dict, gamma: int) -> float:
    """MISA's δ (a fraction of all parameters) for the parameters of γ layers."""
    per_layer = sum(s for s, i in zip(part["sizes"], part["layer"]) if i == 0)
    return gamma * per_layer / part["total"]


def replay(draws: list, pi: np.ndarray):
    """A draw function over pre-drawn sets (so two weightings of π share the same chain); blocks with π̂ = 0 are
    dropped (none in the committed runs: `never_in_calibration`)."""
    it = iter(draws)
    return lambda: [b for b in next(it) if pi[b] > 0]


def block_study(part: dict, g: dict, p: dict) -> dict:
    """Every block arm at every budget of `gammas`: LISA, MISA (η = 1) and module-uniform (η = 0) with
    embeddings/head, and MISA as the paper runs it (embeddings/head frozen; the η = 1 chain's draws)."""
    sizes = np.asarray(part["sizes"], dtype=float)
    args = (g["sq"], g["dots"], g["sq_full"])
    arms = {}
    for gamma in p["gammas"]:
        delta = equal_budget(part, gamma)
        pi, draw = lisa_arm(part, gamma, p["seed"])
        arms[f"lisa_g{gamma}"] = {
            "family": "lisa",
            "gamma": gamma,
            "budget": delta,
            **block_monte_carlo(draw, pi, *args, p["block_draws"], sizes, p["segments"]),
        }
        for eta, name in ((1.0, "misa_eh"), (0.0, "uniform_eh")):
            pi_matrix, draws, calibration, info = misa_arm(part, g["sq"], delta, eta, p)
            variants = ((name, True), ("misa", False)) if eta == 1.0 else ((name, True),)
            for label, embed_head in variants:
                pi = misa_pi(part, pi_matrix, embed_head)
                arms[f"{label}_g{gamma}"] = {
                    "family": label,
                    "gamma": gamma,
                    "budget": delta,
                    "eta": eta,
                    **info,
                    **block_monte_carlo(
                        replay(draws, pi), pi, *args, len(draws), sizes, p["segments"], calibration
                    ),
                }
        print(f"  block arms at γ = {gamma} (δ = {delta:.4f}) done", flush=True)
    return arms


def misa_one_block(part: dict, arms: dict, sq: np.ndarray, n: int, seed: int) -> dict:
    """MISA claim 3 on the paper's own criterion: captured energy Σ_b p_b‖g_b‖² of p ∝ exp(min(5, η G_b²)) (the
    KL-regularised maximiser), relative to uniform p (1 = uniform), summed over batches; closed form and
    `torch.multinomial` draws (the primitive MISA's sampler draws with). G: the warmed η = 1 sampler's scores at
    the smallest budget."""
    blocks = sq[:, np.asarray(part["kind"]) == "matrix"]
    scores = next(a for a in arms.values() if a["family"] == "misa_eh")["scores"]
    gen = torch.Generator().manual_seed(seed)
    scale = blocks.shape[1] / blocks.sum()
    out = {}
    for eta in (0.0, 1.0, 10.0):
        probs = importance_probs(scores, eta)
        drawn = torch.multinomial(probs, n, replacement=True, generator=gen).numpy()
        out[f"eta{eta:g}"] = {
            "theory": float((blocks @ probs.numpy()).sum() * scale),
            "mc": mc_interval(blocks[:, drawn].sum(axis=0) * scale),
        }
    return out


# ------------------------------------------------------------------ IST on LoRA gradients


def ist_study(cb: ISTCallback, lora: dict, p: dict) -> dict:
    """IST's `ISTScores.select` (scores from the callback's probes) vs its random-selection control, on the LoRA
    gradient's layer blocks; π̂ of IST from a calibration run of `select`, exact n/L for the control."""
    n_layers = len(cb.blocks)
    sizes = np.array([sum(q.numel() for q in ps) for ps in cb.blocks.values()], dtype=float)
    args = (lora["sq"], lora["dots"], lora["sq_full"])
    sampler = cb.sampler
    calibration = [sampler.select() for _ in range(p["ist_draws"])]
    pi_ist = np.bincount(np.concatenate(calibration), minlength=n_layers) / len(calibration)
    control = ISTScores(n_layers, update_frac=cb.kw["update_frac"], seed=p["seed"] + 7, uniform=True)
    out = {
        "scores": sampler.scores.tolist(),
        "pi_ist": pi_ist.tolist(),
        "n_update": sampler.n_update,
        "lora_params": int(sizes.sum()),
        "loss": lora["loss"],
    }
    for name, draw, pi, cal in (
        ("ist", sampler.select, pi_ist, calibration),
        ("ist_random", control.select, np.full(n_layers, sampler.n_update / n_layers), None),
    ):
        out[name] = block_monte_carlo(draw, pi, *args, p["ist_draws"], sizes, p["segments"], cal)
    c = np.zeros(n_layers)
    c[sampler.select()] = 1.0
    out["vector_check"] = {
        **grads.lora_vector_check([v for v in lora["vectors"][0]], lora["mean"], c),
        "blocks": float(lora["sq"][0] @ (c - 1) ** 2),
        "blocks_full": float(lora["sq"][0] @ c**2 - 2 * lora["dots"][0] @ c + lora["sq_full"].sum()),
    }
    return out


def ist_points(p: dict, eval_batches, train_batches) -> dict:
    """LoRA (peft) on the pre-trained model: IST at the LoRA initialisation and after `ft_steps` LoRA steps;
    before each, `ist_probe_rounds` rounds of IST's probe forwards update the scores."""
    seed_everything(p["seed"])
    model, _ = load_model(p["model"])
    model.config.use_cache = False
    model = apply_lora(
        model, SimpleNamespace(method="ist", lora=LoraSettings(**p["lora"]))
    )  # IST's LoRA wrap
    probe = iter(train_batches * (2 * p["ist_probe_rounds"]))
    cb = ISTCallback(seed=p["seed"], probe_batch=lambda sampler: next(probe)).attach(model)
    blocks = list(cb.blocks.values())
    out = {}
    for point in ("pretrained", "finetuned"):
        if point == "finetuned":
            out["lora_ft_loss"] = grads.fine_tune(
                model, [q for ps in blocks for q in ps], train_batches, p["lora_lr"], p["seed"]
            )
        probes = [cb.probe(model) for _ in range(p["ist_probe_rounds"])]
        lora = grads.lora_gradients(model, blocks, eval_batches)
        out[point] = {"probe_losses": probes, **ist_study(cb, lora, p)}
        print(f"  IST at the {point} LoRA point done", flush=True)
    return out


# ------------------------------------------------------------------ MeZO / Sparse MeZO


def zo_subset(model, p: dict) -> list:
    """The documented subset of tensors the zeroth-order estimators are measured on."""
    named = dict(model.named_parameters())
    stack = next(n for n in named if ".layers." in n).split(".layers.")[0] + ".layers"
    return [f"{stack}.{i}.{m}.weight" for i in p["zo_layers"] for m in p["zo_modules"]]


def make_spsa(model, names: list, p: dict, mask=None) -> SPSA:
    """`core.training.zo.SPSA` over exactly the subset tensors (requires_grad restored afterwards)."""
    flags = {n: q.requires_grad for n, q in model.named_parameters()}
    try:
        for n, q in model.named_parameters():
            q.requires_grad_(n in names)
        return SPSA(model, eps=p["eps"], mask=mask, seed=p["seed"])
    finally:
        for n, q in model.named_parameters():
            q.requires_grad_(flags[n])


def next_direction(spsa: SPSA) -> torch.Tensor:
    """The z of the next SPSA step: `SPSA.estimate` advances the step seed exactly as a training step does (its
    loss closure runs no forward here), then `SPSA.z` regenerates the direction of every subset tensor."""
    spsa.estimate(lambda: 0.0)
    return torch.cat([spsa.z(i, q).reshape(-1) for i, (_, q) in enumerate(spsa.params)])


def magnitude_mask(spsa_masked: SPSA) -> torch.Tensor:
    """Sparse MeZO's mask at the current weights (thresholds fixed at the first call), flattened over the subset."""
    return torch.cat([spsa_masked.mask(n, q).reshape(-1) for n, q in spsa_masked.params])


def finite_eps_check(model, spsa: SPSA, batch, g: torch.Tensor, n: int) -> list[dict]:
    """Real two-point SPSA estimates (L(θ+εz) − L(θ−εz))/2ε with forwards vs the directional derivative zᵀg."""
    rows = []
    with eval_mode(model):
        for _ in range(n):
            proj, _ = spsa.estimate(lambda: model(**batch).loss)
            z = torch.cat([spsa.z(i, q).reshape(-1) for i, (_, q) in enumerate(spsa.params)])
            exact = float(z.double() @ g.double())
            rows.append(
                {"finite_eps": proj, "directional": exact, "rel_diff": abs(proj - exact) / abs(exact)}
            )
    return rows


def zo_study(spsa: SPSA, spsa_masked: SPSA, points: dict, p: dict) -> dict:
    """MeZO and Sparse MeZO at both points with the same z sequence; first, the masked SPSA's own z must equal
    z ⊙ m of the unmasked one (same seed, m at the model's current weights), bit for bit."""
    z = next_direction(spsa)
    z_masked = next_direction(spsa_masked)
    same = bool(torch.equal(z_masked, z * magnitude_mask(spsa_masked)))
    if not same:
        raise AssertionError("Sparse MeZO's z differs from MeZO's z ⊙ mask at the same step seed")
    cases = {}
    for point, data in points.items():
        cases[f"mezo/{point}"] = {"G": data["G"], "mean": data["G"].mean(0), "mask": None}
        cases[f"smezo/{point}"] = {"G": data["G"], "mean": data["G"].mean(0), "mask": data["mask"]}
    out = spsa_monte_carlo(lambda: next_direction(spsa), cases, p["zo_draws"], p["segments"])
    out["masked_z_equals_z_times_mask"] = same
    out["d"] = int(z.numel())
    out["kept"] = {point: int(data["mask"].sum()) for point, data in points.items()}
    return out


# ------------------------------------------------------------------ one point of the full model


def full_point(model, part: dict, eval_batches, subset_params, p: dict) -> dict:
    """Gradients at the current weights, every block arm's Monte Carlo, and vector checks of a few draws."""
    g = grads.minibatch_gradients(model, part["params"], eval_batches, subset_params)
    checks = []
    for gamma in p["gammas"][:2]:
        pi, draw = lisa_arm(part, gamma, p["seed"] + 999)
        drawn = draw()
        checks += [grads.vector_check(g, coefficients(pi, drawn, rw)) for rw in (True, False)]
    subset = g.pop("subset")
    for key in ("flat", "mean"):
        del g[key]
    arms = block_study(part, g, p)
    kind = np.asarray(part["kind"])
    sq = g["sq"]
    share = {k: float(sq[:, kind == k].sum() / sq.sum()) for k in ("always", "matrix", "norm", "other")}
    grad_sq = sq.sum(axis=1)
    return {
        "loss": g["loss"],
        "grad_sq": grad_sq.tolist(),
        "full_grad_sq": float(g["sq_full"].sum()),
        "minibatch_noise": float((grad_sq.sum() - len(grad_sq) * g["sq_full"].sum()) / grad_sq.sum()),
        "share": share,
        "vector_checks": checks,
        "arms": arms,
        "misa_one_block": misa_one_block(part, arms, sq, p["block_draws"], p["seed"]),
        "_subset": subset,
    }


def run_lab(p: dict) -> dict:
    seed_everything(p["seed"])
    model, tok = load_model(p["model"])
    model.config.use_cache = False
    all_batches = list(lab_batches(tok, {**p, "batches": p["batches"] + p["ft_steps"]}))
    eval_batches, train_batches = all_batches[: p["batches"]], all_batches[p["batches"] :]
    part = grads.partition(model)
    names = zo_subset(model, p)
    named = dict(model.named_parameters())
    subset_params = [named[n] for n in names]
    spsa = make_spsa(model, names, p)
    spsa_masked = make_spsa(model, names, p, MagnitudeMask(p["sparsity"]))
    points, zo_points, fd, ft_loss = {}, {}, {}, []
    for point in ("pretrained", "finetuned"):
        if point == "finetuned":
            ft_loss = grads.fine_tune(model, list(model.parameters()), train_batches, p["ft_lr"], p["seed"])
        print(f"{point} point", flush=True)
        res = full_point(model, part, eval_batches, subset_params, p)
        G = res.pop("_subset")
        zo_points[point] = {"G": G, "mask": magnitude_mask(spsa_masked).float()}
        if point == "pretrained":
            fd = {
                "mezo": finite_eps_check(
                    model,
                    make_spsa(model, names, {**p, "seed": p["seed"] + 5}),
                    eval_batches[0],
                    G[0],
                    p["fd_draws"],
                ),
                "smezo": finite_eps_check(
                    model,
                    make_spsa(model, names, {**p, "seed": p["seed"] + 6}, spsa_masked.mask),
                    eval_batches[0],
                    G[0],
                    p["fd_draws"],
                ),
            }
        points[point] = res
    print("zeroth-order Monte Carlo", flush=True)
    zo = zo_study(spsa, spsa_masked, zo_points, p)
    zo["finite_eps"] = fd
    zo["tensors"] = names
    del model
    print("IST (LoRA)", flush=True)
    ist = ist_points(p, eval_batches, train_batches)
    layer0 = sum(s for s, i in zip(part["sizes"], part["layer"]) if i == 0)
    model_info = {
        "total_params": part["total"],
        "n_blocks": len(part["names"]),
        "layer_params": layer0,
        "embed_head_params": sum(s for s, k in zip(part["sizes"], part["kind"]) if k == "always"),
        "n_layers": max(part["layer"]) + 1,
        "blocks": part["names"],
        "sizes": part["sizes"],
        "kind": part["kind"],
    }
    return {
        "setting": p,
        "model": model_info,
        "points": points,
        "ft_loss": ft_loss,
        "zo": zo,
        "ist": ist,
        "manifest": manifest({"study": "variance_lab", **p}, p["seed"]),
    }


def main(argv=None) -> int:
    return study_main(STUDY, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Gradient estimators as update vectors: closed-form errors and a Monte Carlo over the estimator's own draws.

Block estimators (LISA, MISA, IST, BAdam-like): the parameters are cut into disjoint blocks b with gradient
g_b; a sampler draws a set S and the update is ĝ = Σ_b c_b g_b with c_b = w_b·1[b ∈ S] (w_b = 1 as the methods
apply it, w_b = 1/π_b for the Horvitz-Thompson reweighting, c_b = 1 for blocks always trained). Because the
blocks are disjoint coordinates, ‖ĝ − g‖² = Σ_b (c_b − 1)²‖g_b‖² for *each draw*, and in expectation

    E‖ĝ − g‖² = Σ_b (E[c_b²] − 2E[c_b] + 1)‖g_b‖²,    bias² = Σ_b (E[c_b] − 1)²‖g_b‖²,    Var = Σ_b Var(c_b)‖g_b‖²

whatever the joint law of S. With inclusion probability π_b: reweighted (E c = 1, E c² = 1/π) gives the
Horvitz-Thompson variance Σ_b (1/π_b − 1)‖g_b‖²; applied (E c = E c² = π) gives Σ_b (1 − π_b)‖g_b‖², of which
Σ_b (1 − π_b)²‖g_b‖² is bias and Σ_b π_b(1 − π_b)‖g_b‖² variance. Against the full-batch gradient ∇f (mean of
the minibatch gradients g_B) the same algebra needs the per-block inner products ⟨g_{B,b}, ∇f_b⟩.

SPSA (MeZO, Malladi et al. 2023 Alg. 1, ε → 0): ĝ = z zᵀg with z ~ N(0, I_d): E ĝ = g and
E‖ĝ − g‖² = E[(zᵀg)²‖z‖²] − ‖g‖² = (d + 2)‖g‖² − ‖g‖² = (d + 1)‖g‖² (Isserlis). Masked (Sparse MeZO, Liu et al.
2024): z ← m ⊙ z with a fixed mask keeping d_m coordinates, so E ĝ = m ⊙ g (bias ‖(1 − m) ⊙ g‖²) and
E‖ĝ − m ⊙ g‖² = (d_m + 1)‖m ⊙ g‖². Per draw, ‖ĝ − g‖² = ‖z‖²(zᵀg)² − 2(zᵀg)² + ‖g‖² exactly (`spsa_error`).

Intervals: Monte-Carlo means with a Student-t interval over `segments` consecutive groups of draws (batch means,
valid also for the Markov-chain samplers such as MISA's packing sampler); uses scipy.stats directly.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

# ------------------------------------------------------------------ closed forms


def weights(pi, reweighted: bool) -> np.ndarray:
    """w_b: 1/π_b for the reweighted (Horvitz-Thompson) update, 1 as the methods apply it (0 where π = 0)."""
    pi = np.asarray(pi, dtype=float)
    on = pi > 0
    return np.where(on, 1.0 / np.where(on, pi, 1.0), 0.0) if reweighted else on.astype(float)


def moments(pi, w) -> tuple[np.ndarray, np.ndarray]:
    """(E c, E c²) of c_b = w_b·1[b ∈ S] with inclusion probabilities π: (π w, π w²). Reweighted w = 1/π gives
    (1, 1/π), applied w = 1 gives (π, π); π = 1 (always trained) gives (1, 1), π = 0 (never) (0, 0)."""
    pi, w = np.asarray(pi, dtype=float), np.asarray(w, dtype=float)
    return pi * w, pi * w**2


def coefficients(pi, drawn, reweighted: bool) -> np.ndarray:
    """c_b for one draw: blocks with π = 1 always 1; drawn blocks 1 (applied) or 1/π_b (reweighted); else 0."""
    pi = np.asarray(pi, dtype=float)
    c = (pi >= 1).astype(float)
    drawn = np.asarray(sorted(drawn), dtype=int)
    if drawn.size:
        c[drawn] = weights(pi[drawn], reweighted)
    return c


def spsa_error(d: int, sq) -> np.ndarray:
    """E‖z zᵀg − g‖² = (d + 1)‖g‖² for Gaussian z in d coordinates."""
    return (d + 1) * np.asarray(sq, dtype=float)


def masked_spsa_error(d_kept: int, sq_kept, sq_out) -> tuple[np.ndarray, np.ndarray]:
    """(variance, bias²) of the masked SPSA update m⊙z (m⊙z)ᵀg: (d_m + 1)‖m⊙g‖² and ‖(1 − m)⊙g‖²."""
    return (d_kept + 1) * np.asarray(sq_kept, dtype=float), np.asarray(sq_out, dtype=float)


# ------------------------------------------------------------------ per-draw errors (from the drawn update)


def block_draw_errors(c, sq, dots=None, sq_full=None) -> dict:
    """For the update ĝ_B = Σ_b c_b g_{B,b} of one draw, per batch B: ‖ĝ_B − g_B‖², ⟨ĝ_B, g_B⟩ and (with `dots`,
    `sq_full`) ‖ĝ_B − ∇f‖²; exact for disjoint blocks (`check_block_vector` verifies it on real vectors)."""
    c = np.asarray(c, dtype=float)
    sq = np.asarray(sq, dtype=float)
    out = {"err": sq @ (c - 1) ** 2, "proj": sq @ c}
    if dots is not None:
        out["err_full"] = sq @ c**2 - 2 * np.asarray(dots, dtype=float) @ c + float(np.sum(sq_full))
    return out


def spsa_draw_errors(zz: float, zg, g_sq, targets: dict | None = None) -> dict:
    """One SPSA draw ĝ_B = z (zᵀg_B) for every batch B (``zg`` = zᵀg_B, ``zz`` = ‖z‖²): ‖ĝ − g‖² =
    ‖z‖²(zᵀg)² − 2(zᵀg)² + ‖g‖² and ⟨ĝ, g⟩ = (zᵀg)²; for each target t (name -> (zᵀt, ‖t‖²), e.g. m⊙g or ∇f)
    also ‖ĝ − t‖² = ‖z‖²(zᵀg)² − 2(zᵀg)(zᵀt) + ‖t‖²."""
    zg = np.asarray(zg, dtype=float)
    out = {"err": zz * zg**2 - 2 * zg**2 + np.asarray(g_sq, dtype=float), "proj": zg**2}
    for name, (zt, t_sq) in (targets or {}).items():
        out[f"err_{name}"] = zz * zg**2 - 2 * zg * np.asarray(zt, dtype=float) + np.asarray(t_sq, dtype=float)
    return out


# ------------------------------------------------------------------ Monte-Carlo intervals


def mc_interval(values, segments: int = 20, alpha: float = 0.05) -> dict:
    """Mean of per-draw values with a Student-t interval over `segments` consecutive batch means."""
    x = np.asarray(values, dtype=float)
    k = min(segments, x.size)
    if k < 2:
        raise ValueError(f"a Monte-Carlo interval needs at least 2 draws, got {x.size}")
    means = np.array([part.mean() for part in np.array_split(x, k)])
    se = float(means.std(ddof=1) / np.sqrt(k))
    half = float(stats.t.ppf(1 - alpha / 2, k - 1) * se)
    mean = float(x.mean())
    return {
        "mean": mean,
        "lo": mean - half,
        "hi": mean + half,
        "se": se,
        "dof": k - 1,
        "rel_half_width": half / abs(mean) if mean else float("inf"),
        "draws": int(x.size),
    }


def verdict_vs_theory(
    interval: dict, theory: float, theory_se: float = 0.0, wrong_factor: float = 1.1, alpha: float = 0.05
) -> dict:
    """Is the closed form inside the MC interval, and would a closed form off by `wrong_factor` be caught?
    A closed form that is itself estimated (π̂ from a calibration chain) passes its standard error `theory_se`,
    which widens the interval of the difference MC − closed form."""
    se = float(np.hypot(interval["se"], theory_se))
    half = max(float(stats.t.ppf(1 - alpha / 2, interval["dof"]) * se), 1e-9 * abs(theory))  # float rounding
    diff = interval["mean"] - theory
    wrong = interval["mean"] - theory * wrong_factor
    return {
        "theory": float(theory),
        "theory_se": float(theory_se),
        "inside": bool(abs(diff) <= half),
        "wrong_caught": bool(abs(wrong) > half),
        "mc_over_theory": interval["mean"] / theory if theory else float("nan"),
        "diff_half_width": half,
    }


class DrawLog:
    """Accumulates per-draw ratios Σ_B e_B(draw) / Σ_B ‖g_B‖² (one draw applied to every batch) and the mean
    coefficient vector (the mean of ĝ in block coordinates)."""

    def __init__(self, norm: float, n_blocks: int | None = None):
        self.norm, self.values = float(norm), {}
        self.c_sum = np.zeros(n_blocks) if n_blocks else None
        self.c_sq = np.zeros(n_blocks) if n_blocks else None
        self.n = 0

    def add(self, errors: dict, c=None) -> None:
        for key, val in errors.items():
            self.values.setdefault(key, []).append(float(np.sum(val)) / self.norm)
        if c is not None and self.c_sum is not None:
            self.c_sum += c
            self.c_sq += np.asarray(c, dtype=float) ** 2
        self.n += 1

    def intervals(self, segments: int = 20) -> dict:
        return {k: mc_interval(v, segments) for k, v in self.values.items()}

    def mean_coefficients(self) -> np.ndarray:
        return self.c_sum / self.n

    def bias_sq(self, sq) -> float:
        """Σ_B‖mean ĝ_B − g_B‖² / Σ‖g_B‖² from the draws, minus the (iid) sampling noise of the mean."""
        mean = self.mean_coefficients()
        var = self.c_sq / self.n - mean**2
        per_block = (mean - 1) ** 2 - var / max(self.n - 1, 1)
        return float(np.asarray(sq, dtype=float).sum(axis=0) @ per_block / self.norm)


# ------------------------------------------------------------------ Monte Carlo vs closed form


def block_closed_forms(sq, dots, sq_full, pi, w) -> dict:
    """Per-block closed-form contributions for inclusion π and weights w, summed over batches and divided by
    Σ_B‖g_B‖²: 'err' E‖ĝ − g_B‖², 'err_full' E‖ĝ − ∇f‖², 'proj' E⟨ĝ, g_B⟩, 'bias_sq', 'variance' (sum them)."""
    sq, dots = np.atleast_2d(np.asarray(sq, dtype=float)), np.atleast_2d(np.asarray(dots, dtype=float))
    col, dot_col, norm = sq.sum(axis=0), dots.sum(axis=0), float(sq.sum())
    ec, ec2 = moments(pi, w)
    return {
        "err": col * (ec2 - 2 * ec + 1) / norm,
        "err_full": (col * ec2 - 2 * dot_col * ec + len(sq) * np.asarray(sq_full, dtype=float)) / norm,
        "proj": col * ec / norm,
        "bias_sq": col * (ec - 1) ** 2 / norm,
        "variance": col * (ec2 - ec**2) / norm,
    }


def closed_form_se(calibration: list, pi, w, sq, dots, sq_full, segments: int = 20) -> dict:
    """Standard error of closed forms evaluated at an estimated π̂ (the inclusion share of the `calibration`
    draws, an independent chain), for the MC target whose weights w are fixed (1/π̂ or 1) and whose true
    inclusion is π. Every closed form is linear in the inclusion, Q(π̂) − Q(π) = Σ_b ∂Q/∂π_b (π̂_b − π_b), the
    mean over calibration draws of Σ_{b∈S} ∂Q/∂π_b (plus a constant): its SE from batch means. Blocks with
    π̂ ∈ {0, 1} are fixed by the method, not estimated."""
    pi = np.asarray(pi, dtype=float)
    free = (pi > 0) & (pi < 1)
    at1, at0 = (block_closed_forms(sq, dots, sq_full, np.where(free, v, pi), w) for v in (1.0, 0.0))
    out = {}
    for key in at1:
        slope = np.where(free, at1[key] - at0[key], 0.0)
        out[key] = mc_interval([slope[list(d)].sum() for d in calibration], segments)["se"]
    return out


def block_monte_carlo(
    draw, pi, sq, dots, sq_full, n: int, sizes=None, segments: int = 20, calibration: list | None = None
) -> dict:
    """Draw `n` sets with ``draw()`` (block indices), build each draw's update for both weightings and compare
    the Monte-Carlo means with the closed forms under inclusion probabilities `pi`.

    Per weighting ('reweighted' 1/π, 'applied' 1): MC intervals and closed forms of ‖ĝ − g_B‖² ('err'),
    ‖ĝ − ∇f‖² ('err_full') and ⟨ĝ, g_B⟩ ('proj'), each summed over batches and divided by Σ_B‖g_B‖²; the
    closed-form bias² and variance; the MC bias² from the mean coefficients; and per quantity whether the closed
    form lies in the interval and whether a closed form 10 % off would be caught. When π is itself estimated
    from `calibration` draws (an independent chain), the closed form's SE enters the check."""
    sq = np.atleast_2d(np.asarray(sq, dtype=float))
    norm = float(sq.sum())
    logs = {w: DrawLog(norm, sq.shape[1]) for w in ("reweighted", "applied")}
    used = []
    for _ in range(n):
        drawn = draw()
        for w, log in logs.items():
            c = coefficients(pi, drawn, w == "reweighted")
            log.add(block_draw_errors(c, sq, dots, sq_full), c)
        if sizes is not None:
            used.append(float(np.dot(sizes, coefficients(pi, drawn, False))))
    out = {"trainable_mean": float(np.mean(used)) if used else None}
    for w, log in logs.items():
        wts = weights(pi, w == "reweighted")
        theory = {k: float(v.sum()) for k, v in block_closed_forms(sq, dots, sq_full, pi, wts).items()}
        se = closed_form_se(calibration, pi, wts, sq, dots, sq_full, segments) if calibration else {}
        mc = log.intervals(segments)
        out[w] = {
            "mc": mc,
            "theory": theory,
            "theory_se": se,
            "bias_sq_mc": log.bias_sq(sq),
            "check": {k: verdict_vs_theory(mc[k], theory[k], se.get(k, 0.0)) for k in mc},
        }
    return out


def spsa_theory(G, mean, mask=None) -> dict:
    """Closed forms for ĝ_B = m⊙z (m⊙z)ᵀg_B (no mask: m = 1), summed over batches / Σ_B‖g_B‖²: 'err' ‖ĝ − g_B‖²,
    'err_kept' ‖ĝ − m⊙g_B‖² (the variance), 'err_full' ‖ĝ − ∇f‖², 'proj' ⟨ĝ, g_B⟩, 'bias_sq' ‖(1 − m)⊙g_B‖²."""
    G = torch.as_tensor(G, dtype=torch.float64)
    mean = torch.as_tensor(mean, dtype=torch.float64)
    m = (
        torch.ones(G.shape[1], dtype=torch.float64)
        if mask is None
        else torch.as_tensor(mask, dtype=torch.float64)
    )
    g_sq, kept_sq = G.pow(2).sum(1), (G * m).pow(2).sum(1)
    d = float(m.sum())
    variance, bias = masked_spsa_error(d, kept_sq.numpy(), (g_sq - kept_sq).numpy())
    to_full = kept_sq - 2 * (G * m) @ mean + mean.pow(2).sum()  # ‖m⊙g_B − ∇f‖²
    norm = float(g_sq.sum())
    return {
        "err": float((variance + bias).sum() / norm),
        "err_kept": float(variance.sum() / norm),
        "err_full": float((variance + to_full.numpy()).sum() / norm),
        "proj": float(kept_sq.sum() / norm),
        "bias_sq": float(bias.sum() / norm),
        "variance": float(variance.sum() / norm),
        "d": d,
    }


def spsa_monte_carlo(next_z, points: dict, n: int, segments: int = 20) -> dict:
    """For `n` directions z = ``next_z()`` (one z shared by every point, batch and mask, as one SPSA step would
    draw it), the exact per-draw errors of ĝ_B = m⊙z (m⊙z)ᵀg_B at each point (name -> {"G": batches x d
    gradients, "mean": ∇f, "mask": bool d or None}); MC intervals next to `spsa_theory`."""
    prepared = {}
    for name, pt in points.items():
        G = torch.as_tensor(pt["G"], dtype=torch.float32)
        m = None if pt.get("mask") is None else torch.as_tensor(pt["mask"]).float()
        g_sq = G.double().pow(2).sum(1).numpy()
        kept = G if m is None else G * m
        mean = torch.as_tensor(pt["mean"], dtype=torch.float32)
        prepared[name] = (
            G,
            mean,
            m,
            g_sq,
            kept.double().pow(2).sum(1).numpy(),
            float(mean.double().pow(2).sum()),
            DrawLog(float(g_sq.sum())),
        )
    for _ in range(n):
        z = torch.as_tensor(next_z(), dtype=torch.float32)
        for G, mean, m, g_sq, kept_sq, full_sq, log in prepared.values():
            zm = z if m is None else z * m
            zg, zf = (G @ zm).double().numpy(), float(mean @ zm)
            log.add(
                spsa_draw_errors(
                    float(zm.double().pow(2).sum()), zg, g_sq, {"kept": (zg, kept_sq), "full": (zf, full_sq)}
                )
            )
    out = {}
    for name, (G, mean, m, *_, log) in prepared.items():
        theory = spsa_theory(G, mean, m)
        mc = log.intervals(segments)
        out[name] = {
            "mc": mc,
            "theory": theory,
            "check": {k: verdict_vs_theory(mc[k], theory[k]) for k in mc},
        }
    return out

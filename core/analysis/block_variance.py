"""The variance of block-sampled gradient estimators, closed form and Monte Carlo: one block drawn with
probability p_b (importance sampling, p ∝ ‖g_b‖ optimal), independent inclusions π_b under a trainable-parameter
budget (Horvitz-Thompson, MISA §3-4 with δ), and the bias of MISA's code, which applies the sampled gradient
without the 1/π reweighting. Pure numpy; papers/misa/variance.py and the variance lab compose these.
"""

from __future__ import annotations

import numpy as np


def _block_sq_norms(block_grads) -> np.ndarray:
    return np.array([float(np.sum(np.asarray(g, dtype=float) ** 2)) for g in block_grads])


def sampling_variance(block_grads, probs) -> float:
    """Closed-form E‖ĝ − g‖² of the importance-sampled block estimator ĝ = g_b / p_b (one block b ~ p).

    ĝ is unbiased (E ĝ = Σ_b p_b g_b / p_b = g) and E‖ĝ‖² = Σ_b ‖g_b‖² / p_b, so the variance is
    Σ_b ‖g_b‖²/p_b − ‖g‖² (MISA's variance comparison; cf. Needell et al. importance sampling for SGD).
    """
    sq = _block_sq_norms(block_grads)
    p = np.asarray(probs, dtype=float)
    if p.shape != sq.shape or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("probs must be a probability vector with one entry per block")
    if np.any((p == 0) & (sq > 0)):
        return float("inf")
    keep = p > 0
    return float(np.sum(sq[keep] / p[keep]) - sq.sum())


def optimal_probs(block_grads) -> np.ndarray:
    """The variance-minimizing p_b ∝ ‖g_b‖ (variance then (Σ‖g_b‖)² − ‖g‖²)."""
    norms = np.sqrt(_block_sq_norms(block_grads))
    return norms / norms.sum()


def inclusion_variance(block_grads, inclusion) -> float:
    """E‖ĝ − g‖² of the Horvitz-Thompson estimator ĝ = Σ_b 1[b∈S] g_b / π_b for independent inclusions π_b.

    Var = Σ_b (1 − π_b)/π_b · ‖g_b‖²: the multi-block (budgeted) generalisation used to compare samplers
    that activate several blocks at once at an equal expected parameter budget.
    """
    sq = _block_sq_norms(block_grads)
    pi = np.asarray(inclusion, dtype=float)
    if np.any((pi <= 0) & (sq > 0)):
        return float("inf")
    keep = pi > 0
    return float(np.sum((1 - pi[keep]) / pi[keep] * sq[keep]))


def unreweighted_error(block_sq, inclusion) -> float:
    """E‖ĝ − g‖² of the update MISA's code actually applies, ĝ = Σ_b 1[b∈S] g_b (no 1/π reweighting).

    Blocks are disjoint coordinates, so ‖ĝ − g‖² = Σ_b (1 − 1[b∈S]) ‖g_b‖² and the expectation is
    Σ_b (1 − π_b) ‖g_b‖²: all of it bias (E ĝ = Σ π_b g_b ≠ g), none of it variance from reweighting.
    """
    sq = np.asarray(block_sq, dtype=float)
    return float(np.sum((1 - np.asarray(inclusion, dtype=float)) * sq))


def optimal_inclusion(block_sq, sizes, budget: float, total: int | None = None) -> np.ndarray:
    """Inclusion probabilities π minimizing Σ_b (1−π_b)/π_b ‖g_b‖² subject to an expected trainable-parameter
    budget Σ_b π_b n_b = budget·total (total defaults to Σ_b n_b; MISA's δ counts all parameters) and 0 < π_b ≤ 1.

    Lagrange: π_b = min(1, c·‖g_b‖/√n_b), with c found by bisection (the budgeted analogue of p ∝ ‖g_b‖).
    """
    norms = np.sqrt(np.asarray(block_sq, dtype=float))
    n = np.asarray(sizes, dtype=float)
    target = budget * (total or n.sum())
    if not 0 < target <= n.sum():
        raise ValueError(
            f"budget {budget} of {total or n.sum()} parameters must be in (0, {n.sum()}] (the blocks)"
        )
    ratio = np.maximum(norms / np.sqrt(n), 1e-300)
    lo, hi = 0.0, 1.0 / ratio.min()
    for _ in range(200):
        c = (lo + hi) / 2
        lo, hi = (c, hi) if np.sum(np.minimum(1.0, c * ratio) * n) < target else (lo, c)
    return np.minimum(1.0, hi * ratio)


def monte_carlo_variance(block_grads, probs, n: int = 20000, seed: int = 0) -> tuple:
    """(estimate, lower, upper) of E‖ĝ − g‖² by drawing n blocks ~ p; 95% normal CI of the mean."""
    sq = _block_sq_norms(block_grads)
    p = np.asarray(probs, dtype=float)
    rng = np.random.default_rng(seed)
    draws = rng.choice(len(p), size=n, p=p)
    flat = [np.asarray(g, dtype=float).ravel() for g in block_grads]
    g = np.concatenate(flat)
    offsets = np.cumsum([0] + [f.size for f in flat])
    cross = np.array([float(flat[b] @ g[offsets[b] : offsets[b + 1]]) for b in range(len(p))])
    # ‖g_b/p_b − g‖² = ‖g_b‖²/p_b² − 2 g_b·g/p_b + ‖g‖²  (the estimator is g_b/p_b on block b, 0 elsewhere)
    samples = sq[draws] / p[draws] ** 2 - 2 * cross[draws] / p[draws] + sq.sum()
    mean, se = samples.mean(), samples.std(ddof=1) / np.sqrt(n)
    return float(mean), float(mean - 1.96 * se), float(mean + 1.96 * se)

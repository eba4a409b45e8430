"""Accuracy on shared test items: every seed scores both methods on the same items, so a difference of accuracies
is a seeds × items crossed design (`accuracy_diff`, its MDE `mde_accuracy`), item-level evidence per seed is
McNemar's test (`mcnemar`), and `balanced_accuracy` is the class-balanced score. Seed-level intervals and MDEs are
`core.analysis.stats`."""

from __future__ import annotations

import numpy as np
import scipy.stats as sps

from core.analysis.stats import Interval, _t_p, mde_se


def mcnemar(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers on the same examples: of the discordant examples (right for one,
    wrong for the other), is a's share 1/2? (scipy.stats.binomtest on a_only of a_only + b_only).
    diff = (a_only − b_only)/n is accuracy(a) − accuracy(b)."""
    a, b = np.asarray(correct_a, dtype=bool).ravel(), np.asarray(correct_b, dtype=bool).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError("mcnemar needs two equally long, non-empty vectors of per-example correctness")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = a_only + b_only
    p = sps.binomtest(a_only, discordant, 0.5).pvalue if discordant else 1.0
    return {
        "n": int(a.size),
        "a_only": a_only,
        "b_only": b_only,
        "diff": (a_only - b_only) / a.size,
        "pvalue": float(p),
    }


def _crossed(per_seed_correct_a, per_seed_correct_b, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean difference, standard error, df) of accuracy(a) − accuracy(b) when every seed scores both methods on
    the same items. D[s, i] = a_si − b_si is a seeds × items crossed design with random seed and item effects:
    Var(D̄) = σ²_seed/S + σ²_item/I + σ²_resid/(S·I) = (MS_seed + MS_item − MS_resid)/(S·I) (two-way ANOVA without
    replication, e.g. McGraw & Wong 1996) with Satterthwaite's df. Satterthwaite is liberal at S = 3, so of this
    and the two one-way designs (t over the per-seed differences, df S−1; paired t over the items' seed-mean
    differences, df I−1) the one with the widest interval is used."""
    a, b = np.asarray(per_seed_correct_a, dtype=float), np.asarray(per_seed_correct_b, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"need seeds x items correctness for both methods on the same items, got {a.shape}, {b.shape}"
        )
    d = a - b
    s, i = d.shape
    if i < 2:
        raise ValueError("need at least 2 items")
    ms_item = s * np.var(d.mean(axis=0), ddof=1)
    designs = [(ms_item, i - 1.0)]
    if s > 1:
        ms_seed = i * np.var(d.mean(axis=1), ddof=1)
        resid = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
        ms_resid = np.sum(resid**2) / ((s - 1) * (i - 1))
        combined = ms_seed + ms_item - ms_resid
        if (
            combined > 0
        ):  # Satterthwaite's df, kept >= the smallest component's (it collapses when MS_resid ≈ sum)
            satterthwaite = combined**2 / (
                ms_seed**2 / (s - 1) + ms_item**2 / (i - 1) + ms_resid**2 / ((s - 1) * (i - 1))
            )
            designs.append((combined, max(satterthwaite, s - 1.0)))
        designs.append((ms_seed, s - 1.0))
    ms, df = max(designs, key=lambda m_df: sps.t.ppf(0.5 + confidence / 2, m_df[1]) * np.sqrt(m_df[0]))
    return float(d.mean()), float(np.sqrt(ms / (s * i))), float(df)


def accuracy_diff(per_seed_correct_a, per_seed_correct_b, confidence: float = 0.95) -> Interval:
    """Accuracy(a) − accuracy(b), each seed scoring both methods on the same test items (seeds x items 0/1).

    Seeds × items are not pooled as independent units: the items are one test set shared by every seed, so
    pooling counts each item once per seed; and a t over the seeds alone ignores which items were drawn (three
    seeds that all differ by one item of 20 give a zero-width interval). The interval is mean ± t_df · se of the
    crossed seeds × items design (`_crossed`): it covers the difference on the task's item population averaged
    over training seeds. Simulated coverage (tests/test_stats.py, 3 seeds × 40 items): 0.98 when item variance
    dominates, 0.97 when seed variance does (conservative by the widest-design rule), where the pooled t covers
    0.85 / 0.65 and the t over seeds 0.89 / 0.93.
    Item-level evidence per seed is `mcnemar`.
    """
    est, se, df = _crossed(per_seed_correct_a, per_seed_correct_b, confidence)
    n = len(per_seed_correct_a)
    if se == 0:  # the two methods' answers never differ in a way that varies: no spread to size an interval
        return Interval(est, est, est, n, "crossed seeds x items", 0.0, df, _t_p(est, 0.0, df))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    return Interval(est, est - half, est + half, n, "crossed seeds x items", se, df, _t_p(est, se, df))


def mde_accuracy(per_seed_correct_a, per_seed_correct_b, alpha: float = 0.05, power: float = 0.8) -> float:
    """MDE of accuracy_diff's design (its se and df); inf when the differences have no spread to size it from."""
    _, se, df = _crossed(per_seed_correct_a, per_seed_correct_b, 1 - alpha)
    return mde_se(se, df, alpha, power) if se > 0 else float("inf")


def balanced_accuracy(correct, labels) -> float:
    """Mean over classes of the per-class recall (accuracy on the items of each label): a classifier that
    predicts one class for everything scores 1 / n_classes, whatever the class balance."""
    c, y = np.asarray(correct, dtype=float), np.asarray(labels)
    if c.shape != y.shape or c.size == 0:
        raise ValueError("balanced_accuracy needs one correctness flag per label")
    return float(np.mean([c[y == k].mean() for k in np.unique(y)]))

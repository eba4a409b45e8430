"""One verdict vocabulary for every claims table, figure and manifest, and the one rule that picks a verdict.

A claim is phrased as: "the difference quantity(ours) − quantity(comparator) has the paper's sign `direction`
(+1 or −1) and a size about `paper_effect`". Given the 95 % interval of that difference (core.analysis.stats), the
p-value of "the difference is 0" after Holm's adjustment within the paper's table (`holm`; unadjusted for a row outside
the family) and the design's minimum detectable effect (core.analysis.stats.mde_interval, noncentral t):

- the sign is *decided* when the interval excludes 0 and the adjusted p is below α = 0.05;
- holds                            — decided on the paper's side, and not entirely short of the paper's effect;
- holds, smaller than the paper's  — decided on the paper's side, but the whole interval lies short of the
                                     paper's effect size (the direction reproduces, the size does not);
- does not hold                    — decided on the other side of 0; or, undecided, the interval lies entirely
                                     short of the paper's effect (the paper's size is excluded);
- inconclusive (MDE = x)           — otherwise: x is the smallest true difference the design detects with 80 %
                                     power at α = 0.05;
- not testable offline (reason)    — the claim needs what this machine has not (a judge, a GPU, a data set);
- not testable at this budget (reason) — the claim's metric fails the learnability gate at our budget.

An equality claim ("Monte Carlo / closed form = 1") is decided by `decide_within` (two one-sided tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.analysis.item_stats import accuracy_diff, mde_accuracy
from core.analysis.stats import Interval, mde_of, paired_interval

ALPHA = 0.05
HOLDS = "holds"
HOLDS_SMALLER = "holds, smaller than the paper's"
DOES_NOT_HOLD = "does not hold"
VOCABULARY = re.compile(
    r"^(holds|holds, smaller than the paper's|does not hold|inconclusive \(MDE = [^)]+\)"
    r"|not testable offline \(.+\)|not testable at this budget \(.+\))$"
)


def is_verdict(text: str) -> bool:
    """True when text is a word of the vocabulary (the module docstring), nothing added."""
    return bool(VOCABULARY.match(text))


def inconclusive(mde: float) -> str:
    """'inconclusive (MDE = 0.12)': the interval decides nothing; mde is the smallest detectable difference."""
    return f"inconclusive (MDE = {mde:.2g})"


def not_testable(reason: str) -> str:
    """'not testable offline (reason)'."""
    return f"not testable offline ({reason})"


def not_testable_budget(reason: str) -> str:
    """'not testable at this budget (reason)': e.g. the learnability gate fails on the claim's metric."""
    return f"not testable at this budget ({reason})"


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979): sorted ascending, p_(i) · (m − i + 1), made monotone by
    a running maximum and capped at 1; returned in the input order. Controls the family-wise error at α."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(a) for a in adjusted]


def decide(
    interval: Interval,
    paper_effect: float | None,
    mde: float,
    direction: int = +1,
    p_adjusted: float | None = None,
    alpha: float = ALPHA,
) -> str:
    """The verdict of a claim on the difference (ours − comparator) from its interval (see the module rule).

    direction: +1 when the paper says ours is larger, −1 when smaller. paper_effect: the paper's difference in
    the same units (its sign must agree with direction), or None when only the sign is claimed. p_adjusted: the
    Holm-adjusted p of the row's test of 0 (None: the row is outside the family and the interval decides)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if paper_effect is not None and paper_effect * direction < 0:
        raise ValueError(f"paper_effect {paper_effect} has the sign opposite to direction {direction}")
    lo, hi = sorted((direction * interval.lo, direction * interval.hi))  # along the paper's direction
    significant = p_adjusted is None or p_adjusted < alpha
    short = paper_effect is not None and hi < abs(paper_effect)
    if lo > 0 and significant:
        return HOLDS_SMALLER if short else HOLDS
    if hi < 0 and significant:
        return DOES_NOT_HOLD
    if short:
        return DOES_NOT_HOLD
    return inconclusive(mde)


def decide_within(interval: Interval, target: float, margin: float, mde: float) -> str:
    """Verdict on an equality claim ("the quantity equals target", e.g. Monte Carlo / closed form = 1) as two
    one-sided decisions (equivalence, TOST-style): `holds` when the interval lies inside target ± margin,
    `does not hold` when it excludes target, else inconclusive (MDE = mde)."""

    def shifted(c: float) -> Interval:
        return Interval(interval.estimate - c, interval.lo - c, interval.hi - c, interval.n, interval.kind)

    above, below = (
        decide(shifted(target - margin), None, mde, +1),
        decide(shifted(target + margin), None, mde, -1),
    )
    if above == HOLDS and below == HOLDS:
        return HOLDS
    if interval.lo > target or interval.hi < target:
        return DOES_NOT_HOLD
    return inconclusive(mde)


@dataclass(frozen=True)
class Comparison:
    """A claim's paired interval (ours − comparator), the design's MDE and the verdict they give."""

    interval: Interval
    mde: float
    verdict: str
    unit: str = "seeds"

    def __str__(self) -> str:
        return f"{self.interval} ({self.interval.n} {self.unit}, MDE {self.mde:.2g}): {self.verdict}"


def compare(
    ours, comparator, paper_effect: float | None = None, direction: int = +1, unit: str = "seeds"
) -> Comparison:
    """Verdict on paired per-seed values (same seed = same data order): a scalar per seed (paired t), or a
    vector of per-example correctness per seed on the same items (core.analysis.item_stats.accuracy_diff, crossed
    design)."""
    if np.ndim(ours[0]) == 1:
        iv, m = accuracy_diff(ours, comparator), mde_accuracy(ours, comparator)
    else:
        iv, m = paired_interval(ours, comparator), mde_of(ours, comparator)
    return Comparison(iv, m, decide(iv, paper_effect, m, direction), unit)


def compare_runs(
    runs, ours: str, comparator: str, metric, paper_effect: float | None = None, direction: int = +1
) -> Comparison:
    """compare() on finished runs (objects with .name, .seed, .result, as core.infra.results.load_runs gives),
    paired by seed over the seeds both methods have. metric: a result key ("eval_loss", "test_correct") or a
    function of the run."""
    value = metric if callable(metric) else (lambda r: r.result[metric])
    by = {name: {r.seed: value(r) for r in runs if r.name == name} for name in (ours, comparator)}
    seeds = sorted(set(by[ours]) & set(by[comparator]))
    if len(seeds) < 2:
        raise ValueError(f"{ours} vs {comparator}: {len(seeds)} common seeds, a paired interval needs 2")
    return compare([by[ours][s] for s in seeds], [by[comparator][s] for s in seeds], paper_effect, direction)


def lm_eval_metric(task: str, key: str = "acc_norm"):
    """Metric function reading an lm-eval score from a run's result (for compare_runs)."""
    return lambda run: run.result["lm_eval"][task][key]


def comparisons(runs, ours: str, comparators, metrics: dict) -> dict:
    """{(comparator, metric name): Comparison} of `ours` against each comparator on each metric;
    metrics maps a name to (metric for compare_runs, paper's direction)."""
    return {
        (c, name): compare_runs(runs, ours, c, metric, None, direction)
        for c in comparators
        for name, (metric, direction) in metrics.items()
    }

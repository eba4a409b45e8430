"""One verdict vocabulary for every claims table, and the rule that picks a verdict from a paired interval.

A claim is phrased as: "the difference quantity(ours) − quantity(comparator) has the paper's sign `direction`
(+1 or −1) and a size about `paper_effect`". Given the interval of that difference (core.stats.paired_interval,
accuracy_diff) and the design's minimum detectable effect (core.stats.mde_of):

- holds            — the interval excludes 0 on the paper's side (the sign is decided in the paper's favour);
- does not hold    — the interval excludes the paper's effect: it lies entirely on the other side of 0, or, when
                     the paper's effect size is given, entirely short of it (the effect is shown to be smaller);
- inconclusive     — otherwise; the MDE says how large a difference the design could have detected.

A sign in the paper's favour is reported as `holds` even if the interval is short of the paper's size (the
scale differs from the paper's): the size comparison only turns an undecided sign into `does not hold`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.stats import Interval, accuracy_diff, mde_accuracy, mde_of, paired_interval

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"


def inconclusive(mde: float) -> str:
    """'inconclusive (MDE = 0.12)': the interval decides nothing; mde is the smallest detectable difference."""
    return f"inconclusive (MDE = {mde:.2g})"


def not_testable(reason: str) -> str:
    """'not testable offline (reason)'."""
    return f"not testable offline ({reason})"


def decide(interval: Interval, paper_effect: float | None, mde: float, direction: int = +1) -> str:
    """The verdict of a claim on the difference (ours − comparator) from its interval (see the module rule).

    direction: +1 when the paper says ours is larger, −1 when smaller. paper_effect: the paper's difference in
    the same units (its sign must agree with direction), or None when only the sign is claimed."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if paper_effect is not None and paper_effect * direction < 0:
        raise ValueError(f"paper_effect {paper_effect} has the sign opposite to direction {direction}")
    lo, hi = sorted((direction * interval.lo, direction * interval.hi))  # along the paper's direction
    if lo > 0:
        return HOLDS
    if hi < 0 or (paper_effect is not None and hi < abs(paper_effect)):
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
    vector of per-example correctness per seed on the same items (core.stats.accuracy_diff, crossed design)."""
    if np.ndim(ours[0]) == 1:
        iv, m = accuracy_diff(ours, comparator), mde_accuracy(ours, comparator)
    else:
        iv, m = paired_interval(ours, comparator), mde_of(ours, comparator)
    return Comparison(iv, m, decide(iv, paper_effect, m, direction), unit)


def compare_runs(
    runs, ours: str, comparator: str, metric, paper_effect: float | None = None, direction: int = +1
) -> Comparison:
    """compare() on finished runs (objects with .name, .seed, .result, as core.results.load_runs gives),
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

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

from core.stats import Interval

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

import pytest

from core.stats import Interval
from core.verdicts import DOES_NOT_HOLD, HOLDS, decide, inconclusive, not_testable


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 3, "paired-t")


def test_wording():
    assert inconclusive(0.1234) == "inconclusive (MDE = 0.12)"
    assert not_testable("needs GPT-4 as judge") == "not testable offline (needs GPT-4 as judge)"
    assert (HOLDS, DOES_NOT_HOLD) == ("holds", "does not hold")


@pytest.mark.parametrize("lo, hi, effect, direction, verdict", [
    (0.1, 0.3, None, +1, HOLDS),                     # excludes 0 on the paper's (positive) side
    (-0.3, -0.1, None, -1, HOLDS),                   # paper says smaller, interval below 0
    (0.1, 0.3, 2.0, +1, HOLDS),                      # sign decided for the paper, size short: the sign holds
    (-0.3, -0.1, None, +1, DOES_NOT_HOLD),           # entirely on the other side of 0
    (0.1, 0.3, None, -1, DOES_NOT_HOLD),
    (-0.1, 0.2, 0.5, +1, DOES_NOT_HOLD),             # sign undecided, but entirely short of the paper's effect
    (-0.2, 0.1, -0.5, -1, DOES_NOT_HOLD),
    (-0.1, 0.6, 0.5, +1, "inconclusive (MDE = 0.4)"),  # covers both 0 and the paper's effect
    (-0.1, 0.2, None, +1, "inconclusive (MDE = 0.4)"),  # covers 0, no size claimed
])
def test_decide_branches(lo, hi, effect, direction, verdict):
    assert decide(iv(lo, hi), effect, 0.4, direction) == verdict


def test_decide_rejects_inconsistent_inputs():
    with pytest.raises(ValueError):
        decide(iv(0.1, 0.2), -0.5, 0.1, +1)
    with pytest.raises(ValueError):
        decide(iv(0.1, 0.2), None, 0.1, 2)

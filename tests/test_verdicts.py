import pytest

from core.analysis.stats import Interval
from core.analysis.verdicts import DOES_NOT_HOLD, HOLDS, HOLDS_SMALLER, decide, inconclusive, not_testable


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 3, "paired-t")


def test_wording():
    assert inconclusive(0.1234) == "inconclusive (MDE = 0.12)"
    assert not_testable("needs GPT-4 as judge") == "not testable offline (needs GPT-4 as judge)"
    assert (HOLDS, DOES_NOT_HOLD) == ("holds", "does not hold")


@pytest.mark.parametrize(
    "lo, hi, effect, direction, verdict",
    [
        (0.1, 0.3, None, +1, HOLDS),  # excludes 0 on the paper's (positive) side
        (-0.3, -0.1, None, -1, HOLDS),  # paper says smaller, interval below 0
        (0.1, 0.3, 2.0, +1, HOLDS_SMALLER),  # sign decided for the paper, entirely short of its size
        (-0.3, -0.1, None, +1, DOES_NOT_HOLD),  # entirely on the other side of 0
        (0.1, 0.3, None, -1, DOES_NOT_HOLD),
        (-0.1, 0.2, 0.5, +1, DOES_NOT_HOLD),  # sign undecided, but entirely short of the paper's effect
        (-0.2, 0.1, -0.5, -1, DOES_NOT_HOLD),
        (-0.1, 0.6, 0.5, +1, "inconclusive (MDE = 0.4)"),  # covers both 0 and the paper's effect
        (-0.1, 0.2, None, +1, "inconclusive (MDE = 0.4)"),  # covers 0, no size claimed
    ],
)
def test_decide_branches(lo, hi, effect, direction, verdict):
    assert decide(iv(lo, hi), effect, 0.4, direction) == verdict


def test_decide_rejects_inconsistent_inputs():
    with pytest.raises(ValueError):
        decide(iv(0.1, 0.2), -0.5, 0.1, +1)
    with pytest.raises(ValueError):
        decide(iv(0.1, 0.2), None, 0.1, 2)


from types import SimpleNamespace  # noqa: E402

from core.analysis.stats import mde, t_interval  # noqa: E402
from core.analysis.verdicts import compare, compare_runs  # noqa: E402


def test_compare_scalar_is_the_paired_t_and_its_mde():
    c = compare([2.0, 2.5, 3.0], [1.67, 2.16, 2.68], direction=-1)  # ours higher, paper says lower
    assert c.interval.estimate == pytest.approx(0.33) and c.verdict == DOES_NOT_HOLD
    assert c.mde == pytest.approx(mde(0.01, 3), rel=1e-6)
    assert str(c).endswith("(3 seeds, MDE 0.033): does not hold")


def test_compare_runs_pairs_by_seed_and_reads_accuracy_vectors():
    def run(name, seed, correct):
        return SimpleNamespace(name=name, seed=seed, result={"test_correct": correct})

    runs = [
        run("a", 1, [1, 1, 0, 1]),
        run("a", 0, [1, 1, 0, 1]),
        run("b", 0, [1, 0, 0, 1]),
        run("b", 1, [0, 0, 0, 1]),
        run("a", 2, [1, 1, 1, 1]),
        run("b", 2, [1, 1, 0, 0]),
        run("b", 3, [0] * 4),
    ]
    c = compare_runs(runs, "a", "b", "test_correct")
    ref = t_interval([0.25, 0.5, 0.5])  # seed 3 has no partner
    assert (c.interval.lo, c.interval.hi, c.interval.n) == pytest.approx((ref.lo, ref.hi, 3))
    assert c.verdict == HOLDS
    with pytest.raises(ValueError):
        compare_runs(runs[:3], "a", "b", "test_correct")


def test_decide_within_is_two_one_sided_decisions():
    from core.analysis.verdicts import decide_within

    iv = lambda lo, hi: Interval((lo + hi) / 2, lo, hi, 20, "t")  # noqa: E731
    assert decide_within(iv(0.97, 1.04), 1.0, 0.1, 0.05) == HOLDS  # inside 1 ± 0.1
    assert decide_within(iv(0.85, 1.04), 1.0, 0.1, 0.2) == inconclusive(0.2)  # reaches below 0.9
    assert decide_within(iv(1.02, 1.3), 1.0, 0.1, 0.2) == DOES_NOT_HOLD  # excludes 1

import itertools
import math

import pytest
from scipy import stats

from core.training.sampling import UniformLayerSampler


def test_exactly_gamma_distinct_layers():
    s = UniformLayerSampler(10, 3, seed=0)
    for _ in range(200):
        draw = s.sample()
        assert len(draw) == 3 and len(set(draw)) == 3 and all(0 <= i < 10 for i in draw)


def test_subsets_are_uniform_chi_square():
    """All C(5,2)=10 subsets equally likely: chi-square goodness of fit over 5000 draws."""
    s = UniformLayerSampler(5, 2, seed=1)
    subsets = list(itertools.combinations(range(5), 2))
    counts = dict.fromkeys(subsets, 0)
    for _ in range(5000):
        counts[tuple(s.sample())] += 1
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3
    # and a biased sampler would be caught: pretend one subset took 10% extra mass
    biased = list(counts.values())
    biased[0] += 150
    biased[1] -= 150
    assert stats.chisquare(biased).pvalue < 1e-3


def test_marginal_inclusion_is_gamma_over_n():
    s = UniformLayerSampler(8, 2, seed=2)
    hits = [0] * 8
    n = 8000
    for _ in range(n):
        for i in s.sample():
            hits[i] += 1
    sd = math.sqrt(n * 0.25 * 0.75)
    assert all(abs(h - n * 0.25) < 5 * sd for h in hits)


def test_same_seed_same_sequence_and_private_generator():
    import torch

    a, b = UniformLayerSampler(30, 2, seed=7), UniformLayerSampler(30, 2, seed=7)
    torch.manual_seed(0)
    seq_a = [a.sample() for _ in range(20)]
    torch.manual_seed(123)  # the global RNG must not matter
    seq_b = [b.sample() for _ in range(20)]
    assert seq_a == seq_b
    assert seq_a != [UniformLayerSampler(30, 2, seed=8).sample() for _ in range(20)]


def test_resume_continues_the_sequence():
    a = UniformLayerSampler(12, 3, seed=5)
    full = [a.sample() for _ in range(10)]
    b = UniformLayerSampler(12, 3, seed=5)
    first = [b.sample() for _ in range(4)]
    state = b.state_dict()
    c = UniformLayerSampler(12, 3, seed=999)
    c.load_state_dict(state)
    assert first + [c.sample() for _ in range(6)] == full
    assert c.draws == 10


@pytest.mark.parametrize("n,gamma", [(4, 5), (4, -1), (0, 0)])
def test_invalid_arguments(n, gamma):
    with pytest.raises(ValueError):
        UniformLayerSampler(n, gamma)


# --- MISA -------------------------------------------------------------------------------------------
import torch  # noqa: E402

from core.training.sampling import ModuleImportanceSampler, importance_probs  # noqa: E402


def test_importance_probs_closed_form_and_clip():
    p = importance_probs([0.0, 1.0, 2.0], eta=1.0, clip=5.0)
    w = torch.exp(torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64))
    assert torch.allclose(p, w / w.sum())
    clipped = importance_probs([0.0, 10.0, 20.0], eta=1.0, clip=5.0)
    assert clipped[1] == pytest.approx(clipped[2]) and clipped[1] / clipped[0] == pytest.approx(math.exp(5))


def test_misa_respects_budget_and_sweeps_unused_blocks_first():
    sizes = [10, 20, 30, 40, 50, 60]
    s = ModuleImportanceSampler(sizes, budget=0.3, seed=0, sample_last=0)
    seen = set()
    for _ in range(6):
        chosen = s.sample()
        assert sum(sizes[b] for b in chosen) <= 0.3 * sum(sizes)
        seen |= set(chosen)
    assert seen == set(range(6))  # every block visited before weighted sampling dominates
    assert s.sample() != []


def test_misa_prefers_high_gradient_blocks():
    sizes = [10] * 10
    s = ModuleImportanceSampler(sizes, budget=0.1, eta=1.0, clip=5.0, seed=1, period=1, sample_last=0)
    for _ in range(10):  # warm-up sweep: one block per selection
        for b in s.sample():
            s.update({b: 3.0 if b == 7 else 0.1})
    hits = 0
    for _ in range(300):
        chosen = s.sample()
        hits += 7 in chosen
        s.update({b: 3.0 if b == 7 else 0.1 for b in chosen})
    assert hits / 300 > 0.5  # e^5 / (e^5 + 9·e^0.01) ≈ 0.94 in the limit


def test_misa_ema_matches_reference_quirk():
    """Constant norm 1: the stored bias-corrected EMA goes 1, 2.78, 4.96 (papers/misa/REFERENCE.md §2)."""
    s = ModuleImportanceSampler([10, 10], budget=1.0, beta=0.8, period=1, sample_last=0)
    values = []
    for _ in range(3):
        s.update({0: 1.0})
        s._fold_period()
        values.append(s.G[0])
    assert values == pytest.approx([1.0, 2.7778, 4.9587], rel=1e-3)


def test_misa_resume_continues_sequence():
    sizes = [5, 7, 9, 11, 13, 15, 17]
    a = ModuleImportanceSampler(sizes, budget=0.3, seed=4)
    seq = []
    for _ in range(12):
        seq.append(a.sample())
        a.update({b: 0.1 * (b + 1) for b in seq[-1]})
    b = ModuleImportanceSampler(sizes, budget=0.3, seed=4)
    for _ in range(5):
        b.update({x: 0.1 * (x + 1) for x in b.sample()})
    c = ModuleImportanceSampler(sizes, budget=0.3, seed=99)
    c.load_state_dict(b.state_dict())
    rest = []
    for _ in range(7):
        rest.append(c.sample())
        c.update({x: 0.1 * (x + 1) for x in rest[-1]})
    assert rest == seq[5:]

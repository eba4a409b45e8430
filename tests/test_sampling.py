import itertools
import math

import pytest
from scipy import stats

from core.sampling import UniformLayerSampler


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

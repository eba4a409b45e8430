import numpy as np
import pytest

from core.stats import bootstrap_ci, curve_band, smooth


def test_bootstrap_of_constant_is_degenerate():
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)


def test_bootstrap_mean_ci_covers_and_matches_normal_theory():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 2.0, size=400)
    m, lo, hi = bootstrap_ci(x, n_boot=4000)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert lo < m < hi
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_curve_band_shapes_and_order():
    band = curve_band([[1, 2, 3], [3, 2, 1], [2, 2, 2]], n_boot=500)
    assert np.allclose(band["mean"], [2, 2, 2])
    assert np.all(band["lo"] <= band["mean"]) and np.all(band["mean"] <= band["hi"])
    assert band["hi"][1] == band["lo"][1] == 2


def test_smooth_trailing_average():
    assert np.allclose(smooth([1, 2, 3, 4], window=2), [1, 1.5, 2.5, 3.5])


from core.stats import inclusion_variance, monte_carlo_variance, optimal_probs, sampling_variance  # noqa: E402


def blocks():
    rng = np.random.default_rng(3)
    return [rng.normal(size=s) * scale for s, scale in [((5,), 1.0), ((3, 2), 4.0), ((7,), 0.3), ((2,), 2.0)]]


def test_variance_one_block_is_zero():
    assert sampling_variance([np.ones(4)], [1.0]) == pytest.approx(0.0)


def test_variance_uniform_closed_form():
    g = blocks()
    sq = [float(np.sum(b ** 2)) for b in g]
    assert sampling_variance(g, [0.25] * 4) == pytest.approx(4 * sum(sq) - sum(sq))


def test_variance_at_optimal_probs_and_it_is_minimal():
    g = blocks()
    norms = [float(np.linalg.norm(b)) for b in g]
    total = sum(float(np.sum(b ** 2)) for b in g)
    assert sampling_variance(g, optimal_probs(g)) == pytest.approx(sum(norms) ** 2 - total)
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.dirichlet(np.ones(4))
        assert sampling_variance(g, p) >= sampling_variance(g, optimal_probs(g)) - 1e-9


def test_monte_carlo_agrees_with_closed_form():
    g = blocks()
    p = np.array([0.1, 0.5, 0.2, 0.2])
    est, lo, hi = monte_carlo_variance(g, p, n=40000)
    assert lo <= sampling_variance(g, p) <= hi


def test_inclusion_variance_limits():
    g = blocks()
    assert inclusion_variance(g, [1, 1, 1, 1]) == 0
    sq = np.array([float(np.sum(b ** 2)) for b in g])
    assert inclusion_variance(g, [0.5] * 4) == pytest.approx(sq.sum())


def test_invalid_probs_rejected():
    with pytest.raises(ValueError):
        sampling_variance(blocks(), [0.5, 0.5, 0.5, 0.5])

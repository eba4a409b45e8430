"""papers.misa.convergence_fit: per-seed power-law exponents, their seed-level interval, and the horizon."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from core.analysis.stats import mde_se
from papers.misa.convergence_fit import (
    exponent_interval,
    fitted_curves,
    horizon,
    power_law_fit,
    summarize,
    sxx,
)

STEPS = np.arange(0, 201, 20)


def test_summaries_and_exact_power_law():
    assert summarize([4, 2, 0], "mean").tolist() == [4, 3, 2]
    assert summarize([3, 1, 2], "min").tolist() == [3, 1, 1]
    fit = power_law_fit(STEPS, 3.0 * np.maximum(STEPS, 1) ** -0.37)  # step 0 is left out of the fit
    assert fit["exponent"] == pytest.approx(-0.37, abs=1e-12) and fit["n"] == 10
    assert math.exp(fit["log_c"]) == pytest.approx(3.0) and fit["resid_sd"] < 1e-12


def synthetic(rng, b, seeds=3, rho=0.9, noise=0.15, tau=0.05):
    """Per seed: its own exponent b + N(0, tau), AR(1) noise in log space (dependent points within a run)."""
    out = []
    for _ in range(seeds):
        e = np.zeros(STEPS.size)
        e[0] = rng.normal(0, noise)
        for i in range(1, STEPS.size):
            e[i] = rho * e[i - 1] + rng.normal(0, noise * math.sqrt(1 - rho**2))
        out.append((STEPS, 50.0 * np.maximum(STEPS, 1) ** (b + rng.normal(0, tau)) * np.exp(e)))
    return out


def test_seed_level_interval_covers_the_true_exponent_and_one_run_ols_does_not():
    """400 synthetic 3-seed experiments with a known mean exponent -0.3 (seeds differ by N(0, 0.05), AR(1) noise
    within a run): the t interval over per-seed exponents covers it ~95 % of the time; the OLS interval over the
    points of one run (v002's method, points taken as independent) covers it about half of the time."""
    rng = np.random.default_rng(0)
    seed_cover = one_run_cover = 0
    reps = 400
    for _ in range(reps):
        series = synthetic(rng, -0.3)
        iv = exponent_interval(series, "raw")
        seed_cover += iv.lo <= -0.3 <= iv.hi
        k, y = series[0][0][1:], series[0][1][1:]
        fit = sps.linregress(np.log(k), np.log(y))
        half = sps.t.ppf(0.975, k.size - 2) * fit.stderr
        one_run_cover += fit.slope - half <= -0.3 <= fit.slope + half
    assert 0.92 <= seed_cover / reps <= 0.98
    assert one_run_cover / reps < 0.7


def test_horizon_is_the_first_probe_grid_length_with_enough_power():
    b = [-0.10, -0.14, -0.06]  # mean -0.10, gap 0.40 to -1/2, se 0.023
    steps = list(range(0, 201, 20))
    h = horizon(b, steps)
    se = np.std(b, ddof=1) / math.sqrt(3)
    assert h["gap"] == pytest.approx(0.40) and h["se_now"] == pytest.approx(se)
    assert h["mde_now"] == pytest.approx(mde_se(se, 2))
    assert h["mde_now"] <= h["gap"] and h["K"] == 200  # already detectable at 200 steps
    wide = [-0.9, 0.1, -0.1]  # mean -0.3333, gap 0.167, se 0.29: not yet
    h = horizon(wide, steps)
    assert h["mde_now"] > h["gap"] and h["K"] > 200 and (h["K"] - 20) % 20 == 0

    def mde_at(k):
        return mde_se(h["se_now"] * math.sqrt(sxx(steps) / sxx(np.arange(20, k + 1, 20))), 2)

    assert mde_at(h["K"]) <= h["gap"] < mde_at(h["K"] - 20)
    assert horizon([-0.4, -0.6, -0.5], steps)["K"] == math.inf  # mean exactly -1/2: no gap to detect


def test_fitted_curves_for_the_figure():
    """Exact power laws with exponents -0.2, -0.3, -0.4 (3 seeds): the drawn fit has the mean exponent -0.3 through
    the mean intercept, the band's exponents are the t interval, and the reference has slope -1/2 through the fit's
    first point."""
    k = np.arange(0, 201, 25)
    series = [(k, 4.0 * np.maximum(k, 1) ** b) for b in (-0.2, -0.3, -0.4)]
    out = fitted_curves(series, "raw")
    grid, fit, ref = np.array(out["K"]), np.array(out["fit"]), np.array(out["reference"])
    assert grid[0] == 25 and grid[-1] == pytest.approx(200)
    assert fit == pytest.approx(4.0 * grid**-0.3)
    assert out["exponent"] == pytest.approx(-0.3) and out["n_seeds"] == 3
    half = sps.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert out["interval"] == pytest.approx([-0.3 - half, -0.3 + half])
    assert np.log(ref[-1] / ref[0]) / np.log(grid[-1] / grid[0]) == pytest.approx(-0.5)
    assert ref[0] == pytest.approx(fit[0]) and out["lo"][0] == pytest.approx(fit[0])

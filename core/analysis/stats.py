"""Statistics as pure functions on scipy.stats: seed-level t intervals, paired differences, the minimum detectable
effect, example-level accuracy comparisons; plus bootstrap helpers (the block-sampling variance formulas are in
core.analysis.block_variance).

Why t and not the bootstrap over seeds: with 3 seeds a percentile bootstrap of the mean can never leave the range
of the 3 values (every resample's mean lies between their min and max), so its "95 %" interval is at most the seed
range, whose coverage of the true mean is 1 - 2·(1/2)^3 = 75 % for any continuous symmetric distribution. The
Student t interval is exact for normal seeds at any n (tests/test_stats.py simulates both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval over `n` units; `kind` says how it was made ("t", "paired-t",
    "seed-range", ...). Where the interval comes from a t test, `se` and `df` are its standard error and degrees
    of freedom (on the log scale for ratios) and `p` the two-sided p-value of "the difference is 0" (ratio: 1):
    the claims engine adjusts p for multiplicity and computes the MDE from se and df (`mde_interval`)."""

    estimate: float
    lo: float
    hi: float
    n: int
    kind: str
    se: float | None = None
    df: float | None = None
    p: float | None = None

    def excludes(self, x: float) -> bool:
        """True when x lies outside [lo, hi] (e.g. excludes(0): the difference has a decided sign)."""
        return bool(x < self.lo or x > self.hi)

    def __str__(self) -> str:
        scale = max(abs(self.estimate), abs(self.lo), abs(self.hi))
        e, lo, hi = (
            0.0 if abs(v) < 1e-9 * scale else v for v in (self.estimate, self.lo, self.hi)
        )  # float dust
        return f"{e:.3g} [{lo:.3g}, {hi:.3g}]"


def _sample(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"an interval needs at least 2 units, got {x.size}")
    return x


def _t_result(test, x: np.ndarray, confidence: float, kind: str) -> Interval:
    """Interval from the scipy test `test()` of the units x (their mean is the estimate)."""
    mean = float(x.mean())
    if np.ptp(x) <= 1e-12 * max(
        1.0, abs(mean)
    ):  # no spread: scipy's bounds are nan; the interval is the point
        return Interval(mean, mean, mean, x.size, kind, 0.0, x.size - 1.0, _t_p(mean, 0.0, x.size - 1.0))
    result = test()
    ci = result.confidence_interval(confidence)
    se = float(np.std(x, ddof=1) / np.sqrt(x.size))
    return Interval(
        mean, float(ci.low), float(ci.high), x.size, kind, se, float(result.df), float(result.pvalue)
    )


def t_interval(values, confidence: float = 0.95) -> Interval:
    """Student t interval of the mean over independent units (seeds): mean ± t_{n-1} · sd/√n
    (scipy.stats.ttest_1samp(...).confidence_interval)."""
    x = _sample(values)
    return _t_result(lambda: sps.ttest_1samp(x, 0.0), x, confidence, "t")


def paired_interval(a, b, confidence: float = 0.95) -> Interval:
    """t interval of mean(a − b) over paired units (same seed = same data order for both methods), i.e. the
    one-sample t interval of the differences (scipy.stats.ttest_rel)."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples must have equal lengths, got {x.size} and {y.size}")
    d = _sample(x - y)
    return _t_result(lambda: sps.ttest_rel(x, y), d, confidence, "paired-t")


def welch_interval(a, b, confidence: float = 0.95) -> Interval:
    """Welch t interval of mean(a) − mean(b) over independent units of unequal number and spread (e.g. 8 LISA
    seeds against 3 LoRA seeds): se = √(s_a²/n_a + s_b²/n_b), Welch-Satterthwaite df
    (scipy.stats.ttest_ind(equal_var=False)). n is the smaller arm's."""
    x, y = _sample(a), _sample(b)
    se = welch_se_df(x.var(ddof=1), x.size, y.var(ddof=1), y.size)[0]
    diff, n = float(x.mean() - y.mean()), min(x.size, y.size)
    if se == 0:
        return Interval(diff, diff, diff, n, "welch-t", 0.0, x.size + y.size - 2.0, _t_p(diff, 0.0, 1.0))
    test = sps.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(confidence)
    return Interval(diff, float(ci.low), float(ci.high), n, "welch-t", se, float(test.df), float(test.pvalue))


def welch_se_df(var_a: float, n_a: int, var_b: float, n_b: int) -> tuple[float, float]:
    """Standard error of mean(a) − mean(b) from the arms' variances (ddof 1) and sizes, se² = v_a/n_a + v_b/n_b, and
    its Welch-Satterthwaite df = se⁴ / ((v_a/n_a)²/(n_a − 1) + (v_b/n_b)²/(n_b − 1)) (n_a + n_b − 2 when both
    variances are 0). One formula for intervals (`welch_interval`) and planned MDEs (`core.reporting.power`)."""
    va, vb = float(var_a) / n_a, float(var_b) / n_b
    spread = va**2 / (n_a - 1) + vb**2 / (n_b - 1)
    df = (va + vb) ** 2 / spread if spread > 0 else n_a + n_b - 2.0
    return float(np.sqrt(va + vb)), float(df)


def same_seeds(a: dict, b: dict) -> bool:
    """Both arms ran the same seeds ({seed: value} each), so they pair by seed (same seed = same data order)."""
    return set(a) == set(b)


def seed_interval(a: dict, b: dict, confidence: float = 0.95) -> Interval:
    """ours − comparator over seeds ({seed: value} each), the design read from the seeds: paired t when both arms
    ran the same seeds (same seed = same data order), else Welch over every seed of each arm."""
    if same_seeds(a, b):
        seeds = sorted(a)
        return paired_interval([a[s] for s in seeds], [b[s] for s in seeds], confidence)
    return welch_interval(list(a.values()), list(b.values()), confidence)


def seed_design(a: dict, b: dict) -> str:
    """The words for seed_interval's design: 'paired t over 3 seeds (same seed = same data order)' or
    'Welch t, 8 vs 3 seeds (unequal seeds)'."""
    if same_seeds(a, b):
        return f"paired t over {len(a)} seeds (same seed = same data order)"
    return f"Welch t, {len(a)} vs {len(b)} seeds (unequal seeds)"


def _t_p(estimate: float, se: float, df: float) -> float:
    """Two-sided p of estimate / se against Student t with df degrees of freedom (H0: the difference is 0)."""
    return float(2 * sps.t.sf(abs(estimate) / se, df)) if se > 0 else (0.0 if estimate else 1.0)


def _power_se(delta: float, se: float, df: float, alpha: float) -> float:
    """Power of the two-sided t test of a true difference delta whose estimate has standard error se and df
    degrees of freedom: P(|T| > t_{1-α/2}) with T noncentral t of ncp δ/se (scipy.stats.nct)."""
    crit = sps.t.ppf(1 - alpha / 2, df)
    ncp = abs(delta) / se
    upper = sps.nct.sf(crit, df, ncp)
    upper = 1 - sps.nct.cdf(crit, df, ncp) if np.isnan(upper) else upper
    lower = sps.nct.cdf(
        -crit, df, ncp
    )  # wrong-side rejections; scipy returns nan for some large ncp where it is ~0
    return float(upper + (0.0 if np.isnan(lower) else lower))


def _design(sd: float, n: int, paired: bool) -> tuple[float, int]:
    """(standard error, df) of the t test: paired/one-sample on n differences of sd `sd`, or two independent
    groups of n units each with common sd."""
    return (sd / np.sqrt(n), n - 1) if paired else (sd * np.sqrt(2.0 / n), 2 * n - 2)


def t_power(delta: float, sd: float, n: int, alpha: float = 0.05, paired: bool = True) -> float:
    """Power of the two-sided t test of a true mean difference `delta` (noncentral t). paired=True: one-sample /
    paired test on n differences of sd `sd` (df n−1, ncp δ√n/sd); paired=False: two independent groups of n
    units each with common sd (df 2n−2, ncp δ/(sd·√(2/n)))."""
    se, df = _design(sd, n, paired)
    return _power_se(delta, se, df, alpha)


def mde_se(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect of a t test whose estimate has standard error se with df degrees of freedom:
    the smallest true difference rejected with probability `power` at level `alpha` (scipy.optimize.brentq on
    the noncentral-t power). 0 when se is 0; inf when df < 1."""
    if df < 1:
        return float("inf")
    if se == 0:
        return 0.0
    hi = 3 * se  # the z-test MDE is 2.8 standard errors; small df need more
    while _power_se(hi, se, df, alpha) < power:
        hi *= 2
    return float(optimize.brentq(lambda d: _power_se(d, se, df, alpha) - power, 0.0, hi, xtol=1e-12 * se))


def mde(sd: float, n: int, alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> float:
    """Minimum detectable effect: the smallest true mean difference that the two-sided t test with n units and
    the observed sd rejects with probability `power` at level `alpha` (see t_power for the two designs).
    0 when sd is 0; inf when n < 2 (no test is possible)."""
    if n < 2:
        return float("inf")
    return mde_se(*_design(sd, n, paired), alpha, power)


def reference_sd_interval(a: float, b: float, reference, confidence: float = 0.95) -> Interval:
    """a − b of one run each (e.g. two ablation settings at seed 0), with the seed-to-seed sd taken from
    `reference`: several seeds of one comparable configuration (df = len(reference) − 1). The two runs are
    treated as independent (se = sd·√2), which overstates the se when a shared seed correlates them."""
    ref = _sample(reference)
    se, df = float(np.std(ref, ddof=1)) * np.sqrt(2.0), ref.size - 1
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    kind = f"t (sd of {ref.size} reference seeds)"
    return Interval(a - b, a - b - half, a - b + half, 1, kind, se, float(df), _t_p(a - b, se, df))


def mde_reference(reference, alpha: float = 0.05, power: float = 0.8) -> float:
    """MDE of reference_sd_interval's design: one run per setting, sd from the reference seeds."""
    ref = _sample(reference)
    return mde_se(float(np.std(ref, ddof=1)) * np.sqrt(2.0), ref.size - 1, alpha, power)


def mde_of(a, b=None, alpha: float = 0.05, power: float = 0.8) -> float:
    """MDE from data: of the paired differences a − b when b is given, else of the one-sample mean of a
    (sd with ddof=1 over the units)."""
    x = np.asarray(a, dtype=float).ravel()
    if b is not None:
        x = x - np.asarray(b, dtype=float).ravel()
    if x.size < 2:
        return float("inf")
    return mde(float(np.std(x, ddof=1)), x.size, alpha, power, paired=True)


def paired_ratio_interval(a, b, confidence: float = 0.95) -> Interval:
    """Geometric mean of the paired ratios a_i / b_i (e.g. steps to a target, per seed) with the t interval of
    the mean log ratio over the pairs, exponentiated; 'measured' (no interval) with fewer than 2 pairs."""
    la, lb = np.log(np.asarray(a, dtype=float)), np.log(np.asarray(b, dtype=float))
    d = la - lb
    if d.size < 2:
        est = float(np.exp(d.mean()))
        return Interval(est, est, est, int(d.size), "measured")
    iv = t_interval(d, confidence)
    return Interval(
        float(np.exp(iv.estimate)),
        float(np.exp(iv.lo)),
        float(np.exp(iv.hi)),
        iv.n,
        "paired ratio",
        iv.se,
        iv.df,
        iv.p,
    )


def seed_range(values) -> Interval:
    """Mean with the min and max of the values: what a percentile bootstrap over 3 seeds actually returns; not a
    confidence interval (coverage 75 % for 3 seeds, see the module docstring)."""
    x = np.asarray(values, dtype=float).ravel()
    return Interval(float(x.mean()), float(x.min()), float(x.max()), x.size, "seed-range")


def bootstrap_ci(values, stat=np.mean, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple:
    """(statistic, lower, upper): percentile bootstrap over many exchangeable samples (examples, batches).

    Not for a handful of seeds: over 3 values it returns their min and max (≈75 % coverage); use t_interval or
    paired_interval there."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    boots = np.apply_along_axis(stat, 1, x[idx])
    return float(stat(x)), float(np.quantile(boots, alpha / 2)), float(np.quantile(boots, 1 - alpha / 2))


def bootstrap_ratio_ci(num, den, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple:
    """(Σnum/Σden, lower, upper): paired percentile bootstrap of a ratio of means (e.g. E[variance]/E‖g‖²
    over batches, resampling batches)."""
    x, y = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if x.shape != y.shape or x.size == 0:
        raise ValueError("bootstrap_ratio_ci needs two equally long, non-empty samples")
    idx = np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))
    boots = x[idx].sum(axis=1) / y[idx].sum(axis=1)
    return (
        float(x.sum() / y.sum()),
        float(np.quantile(boots, alpha / 2)),
        float(np.quantile(boots, 1 - alpha / 2)),
    )


# ---- intervals for designs without paired seeds (figures and claims) ----


def trend(x, y) -> tuple[Interval, float]:
    """Least-squares slope of y on x with its 95 % t-interval (df = n − 2, scipy.stats.linregress) and the MDE of
    the slope ((t_{0.975} + t_{0.8}) · SE, the normal-theory approximation at 80 % power). For ablations with one
    run per setting: the spread of the settings around the line is the noise the slope is judged against."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    fit = sps.linregress(x, y)
    df = x.size - 2
    if df < 1:
        return Interval(float(fit.slope), -np.inf, np.inf, x.size, "fit"), float("inf")
    half = sps.t.ppf(0.975, df) * fit.stderr
    slope, se = float(fit.slope), float(fit.stderr)
    iv = Interval(slope, slope - half, slope + half, x.size, "fit", se, float(df), float(fit.pvalue))
    return iv, mde_se(se, df)


RATIO_KINDS = ("ratio", "paired ratio")


def mde_interval(iv: Interval, alpha: float = 0.05, power: float = 0.8) -> float:
    """The MDE of the design behind an interval, by the one formula used everywhere (`mde_se`, noncentral t),
    in the interval's own units: for a ratio (its t test is on log ratios) the ratio excess exp(MDE_log) − 1.
    An interval without se/df (a bootstrap) gets se = half-width / t_{0.975, n−1} and df = n − 1."""
    se, df = iv.se, iv.df
    if se is None or df is None:
        df = max(iv.n - 1.0, 1.0)
        half = (np.log(iv.hi) - np.log(iv.lo) if iv.kind in RATIO_KINDS else iv.hi - iv.lo) / 2
        se = half / float(sps.t.ppf(0.975, df))
    m = mde_se(se, df, alpha, power)
    return float(np.expm1(m)) if iv.kind in RATIO_KINDS else m


mde_from = mde_interval  # the figures' old name: the same noncentral-t formula now


def ratio_interval(a, b) -> Interval:
    """Ratio of the geometric means of a and b (e.g. step times of two methods, unpaired repeats) with the 95 %
    Welch t-interval of the difference of mean logs, exponentiated (scipy.stats.ttest_ind, equal_var=False)."""
    la, lb = np.log(np.asarray(a, dtype=float)), np.log(np.asarray(b, dtype=float))
    est = float(np.exp(la.mean() - lb.mean()))
    if min(la.size, lb.size) < 2:
        return Interval(est, est, est, min(la.size, lb.size), "measured")
    test = sps.ttest_ind(la, lb, equal_var=False)
    ci = test.confidence_interval(0.95)
    se = float(np.sqrt(la.var(ddof=1) / la.size + lb.var(ddof=1) / lb.size))
    n = min(la.size, lb.size)
    return Interval(
        est, float(np.exp(ci.low)), float(np.exp(ci.high)), n, "ratio", se, float(test.df), float(test.pvalue)
    )

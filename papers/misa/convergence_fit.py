"""The convergence exponent of MISA Thm. 2 (min_k E‖∇f(θ_k)‖² = O(K^-1/2), K block updates), fitted with an
interval that respects the dependence between the points of one run.

The runs log ‖∇f(θ_K)‖² of all parameters on a fixed probe batch every `probe_every` steps (probes.jsonl,
`core.training.metric_callbacks.FullGradNormCallback`). The points of one run are strongly dependent (a running mean or
minimum shares all earlier points; neighbouring iterates are close), so an OLS standard error over the points of one run
is far too small (the v002 table reported ±0.005). Here each seed gives one exponent: the OLS slope of
log y against log K over its probes; the seeds are independent, so the t interval over the per-seed exponents
(`core.analysis.stats.t_interval`) is valid whatever the dependence inside a run. Three summaries y of the probe series:
``raw`` (‖∇f(θ_K)‖² itself), ``mean`` (the running mean, the average-iterate form of the bound) and ``min`` (the
running minimum, the best-iterate form, min_k of the theorem).

`horizon` answers "how long would a run have to be to tell K^-1/2 from the measured rate": with probes at the
same spacing continued to K, the per-seed slope's standard error shrinks as 1/√S_xx(K) (S_xx the spread of
log k over the probe grid; the between-seed spread is taken to shrink the same way, which is optimistic when
seeds differ in their true rates); the horizon is the smallest K at which the minimum detectable effect of the
seed-level t test (80 % power, α = 0.05, `core.analysis.stats.mde_se`) is at most |b̂ − (−1/2)|. A bound with an unknown
constant is never contradicted by a finite run; the horizon is about the measured rate, not the bound.

    python -m papers.misa.convergence_fit --profile cpu    # -> data/results/misa/convergence_fit/<profile>.json
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats as sps

from core.analysis.stats import Interval, mde_se, t_interval
from core.infra.io import RESULTS, read_jsonl
from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main

SUMMARIES = ("raw", "mean", "min")
TARGET = -0.5  # the theorem's exponent


def summarize(values, how: str) -> np.ndarray:
    """The series itself, its running mean, or its running minimum."""
    y = np.asarray(values, dtype=float)
    if how == "raw":
        return y
    if how == "mean":
        return np.cumsum(y) / np.arange(1, y.size + 1)
    if how == "min":
        return np.minimum.accumulate(y)
    raise ValueError(f"summary {how!r} is not one of {SUMMARIES}")


def power_law_fit(steps, values) -> dict:
    """OLS of log y on log K (scipy.stats.linregress) over points with K > 0 and y > 0: y ≈ c·K^b.
    Returns {"exponent": b, "log_c", "resid_sd" (of log y), "n"}."""
    k, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = (k > 0) & (y > 0)
    if keep.sum() < 3:
        raise ValueError(f"a power-law fit needs >= 3 points with K > 0, got {int(keep.sum())}")
    x, z = np.log(k[keep]), np.log(y[keep])
    fit = sps.linregress(x, z)
    resid = z - (fit.intercept + fit.slope * x)
    return {
        "exponent": float(fit.slope),
        "log_c": float(fit.intercept),
        "resid_sd": float(np.std(resid, ddof=2)) if keep.sum() > 2 else 0.0,
        "n": int(keep.sum()),
    }


def seed_exponents(series: list[tuple], how: str = "mean", fit_from: int = 1) -> list[float]:
    """One exponent per seed: `series` is [(steps, values), ...]; the summary is taken over the whole series
    (step 0 included), the fit over steps >= fit_from."""
    out = []
    for steps, values in series:
        k = np.asarray(steps, dtype=float)
        y = summarize(values, how)
        keep = k >= fit_from
        out.append(power_law_fit(k[keep], y[keep])["exponent"])
    return out


def exponent_interval(
    series: list[tuple], how: str = "mean", fit_from: int = 1, confidence: float = 0.95
) -> Interval:
    """t interval over seeds of the per-seed exponents (the seed is the independent unit)."""
    return t_interval(seed_exponents(series, how, fit_from), confidence)


def fitted_curves(series: list[tuple], how: str = "mean", fit_from: int = 1, points: int = 50) -> dict:
    """What the convergence figure draws for one arm: on a log grid of K over the probed range, the fitted
    exp(mean log c)·K^b̂ with b̂ the mean exponent over seeds, the same curve at the ends of its t interval ("lo",
    "hi" exponents, through the same point at the first probe), and K^−1/2 through the fit's value at the first
    probe (the theorem's rate, its constant unknown)."""
    fits = []
    for steps, values in series:
        k = np.asarray(steps, dtype=float)
        keep = k >= max(fit_from, 1)
        fits.append(power_law_fit(k[keep], summarize(values, how)[keep]))
    b = [f["exponent"] for f in fits]
    iv = t_interval(b)
    k_all = np.asarray(series[0][0], dtype=float)
    k0, k1 = k_all[k_all >= max(fit_from, 1)].min(), k_all.max()
    grid = np.geomspace(k0, k1, points)
    y0 = math.exp(float(np.mean([f["log_c"] for f in fits]))) * k0**iv.estimate

    def through(expo: float) -> np.ndarray:
        return y0 * (grid / k0) ** expo

    return {
        "K": grid.tolist(),
        "fit": through(iv.estimate).tolist(),
        "lo": through(iv.lo).tolist(),
        "hi": through(iv.hi).tolist(),
        "reference": through(TARGET).tolist(),
        "exponent": iv.estimate,
        "interval": [iv.lo, iv.hi],
        "n_seeds": iv.n,
    }


def sxx(steps) -> float:
    """Σ (log k − mean log k)² over a probe grid (K > 0)."""
    x = np.log(np.asarray([k for k in steps if k > 0], dtype=float))
    return float(np.sum((x - x.mean()) ** 2))


def horizon(exponents, steps, target: float = TARGET, every: int | None = None, limit: int = 10**8) -> dict:
    """The smallest K (probes every `every` steps from the first probe, as in `steps`) at which the seed-level
    t test of the mean exponent against `target` reaches 80 % power, scaling the observed standard error by
    √(S_xx(now) / S_xx(K)). Returns {"K", "mde_now", "gap", "se_now"}; K = the current horizon when the gap is
    already detectable, inf when the gap is 0 or K would pass `limit`."""
    b = np.asarray(exponents, dtype=float)
    n, gap = b.size, abs(float(b.mean()) - target)
    se_now = float(np.std(b, ddof=1) / math.sqrt(n))
    steps = sorted(k for k in steps if k > 0)
    every = every or (steps[1] - steps[0] if len(steps) > 1 else steps[0])
    s_now, k_now = sxx(steps), steps[-1]
    mde_now = mde_se(se_now, n - 1)
    out = {"gap": gap, "se_now": se_now, "mde_now": mde_now, "K_now": k_now, "n_seeds": n}
    if mde_now <= gap:
        return {**out, "K": k_now}
    if gap == 0:
        return {**out, "K": math.inf}

    def detectable(k_max: int) -> bool:
        grid = np.arange(steps[0], k_max + 1, every)
        return mde_se(se_now * math.sqrt(s_now / sxx(grid)), n - 1) <= gap

    lo, hi = k_now, k_now
    while not detectable(hi):  # S_xx grows like log² K: double until detectable, then bisect
        lo, hi = hi, hi * 2
        if hi > limit:
            return {**out, "K": math.inf}
    while hi - lo > every:
        mid = lo + max(1, (hi - lo) // (2 * every)) * every
        lo, hi = (mid, hi) if not detectable(mid) else (lo, mid)
    return {**out, "K": int(steps[0] + (hi - steps[0]) // every * every)}


def load_series(
    profile: str, arm: str, experiment: str = "accuracy_math", root: Path = RESULTS
) -> list[tuple]:
    """[(steps, ‖∇f‖²), ...] per finished seed of `arm` (its probes.jsonl)."""
    base = Path(root) / "misa" / experiment / profile
    out = []
    for d in sorted(base.glob(f"{arm}-s*")):
        rows = read_jsonl(d / "probes.jsonl") if (d / "probes.jsonl").exists() else []
        if rows and (d / "result.json").exists():
            out.append(([r["step"] for r in rows], [r["full_grad_sq"] for r in rows]))
    return out


def arm_report(series: list[tuple], fit_from: int) -> dict:
    """Per summary: per-seed exponents, their t interval, whether it excludes −1/2, and the horizon."""
    out = {}
    for how in SUMMARIES:
        b = seed_exponents(series, how, fit_from)
        iv = t_interval(b) if len(b) > 1 else None
        out[how] = {
            "per_seed": b,
            "estimate": float(np.mean(b)),
            "interval": [iv.lo, iv.hi] if iv else None,
            "n_seeds": len(b),
            "excludes_target": iv.excludes(TARGET) if iv else None,
            "horizon": horizon(b, series[0][0]) if len(b) > 1 else None,
            "curves": fitted_curves(series, how, fit_from) if len(b) > 1 else None,
        }
    return out


ARMS = ["misa", "misa_uniform", "lisa", "badam", "lora", "full"]


def options(parser) -> None:
    parser.add_argument("--experiment", default="accuracy_math")
    parser.add_argument("--arms", nargs="*", default=ARMS)
    parser.add_argument(
        "--fit-from", type=int, default=1, help="first step used in the fit (0 is never used)"
    )


def convergence_study(profile: str, args) -> dict:
    """The fit of every arm with >= 2 finished seeds of `profile`'s runs."""
    experiment = getattr(args, "experiment", "accuracy_math")
    arm_names, fit_from = getattr(args, "arms", ARMS), getattr(args, "fit_from", 1)
    arms = {arm: load_series(profile, arm, experiment) for arm in arm_names}
    report = {arm: arm_report(s, fit_from) for arm, s in arms.items() if len(s) >= 2}
    for arm, rep in report.items():
        m = rep["mean"]
        print(
            f"{arm}: exponent of the running mean {m['estimate']:.3f} {m['interval']} over {m['n_seeds']} seeds; "
            f"horizon to tell it from -1/2: K = {m['horizon']['K']}"
        )
    inputs = [f"misa/{experiment}/{profile}/{a}-s*/probes.jsonl" for a in report]
    settings = {"profile": profile, "experiment": experiment, "arms": arm_names, "fit_from": fit_from}
    return {
        "profile": profile,
        "experiment": experiment,
        "fit_from": fit_from,
        "target": TARGET,
        "arms": report,
        "inputs": inputs,
        "manifest": manifest(settings),
    }


def main(argv=None) -> int:
    return study_main(Study("misa", "convergence_fit", None, convergence_study, options), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

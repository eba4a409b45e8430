"""IST's comparisons, computed once here: what `papers.ist.claims` turns into claims rows and the notebooks draw.

- The deciding comparison (`configs/compare_math.yaml`, issue #23): every arm against its comparator (`PAIRS`) on
  validation loss (paired t over seeds; the same seed = the same data order) and test accuracy (the same 64
  items in every seed: crossed seeds × items interval, `core.analysis.item_stats.accuracy_diff`), both by
  `core.analysis.verdicts.compare_runs`.
- Layer selection against uniform (claim `scores`): IST draws k of the L layers every step ∝ σ(−s) without
  replacement (`ist.py` semantics, REFERENCE.md §2). With flat scores that is a uniform k-subset each step, and
  the per-layer selection counts over T steps then have mean T·k/L and covariance T·p(1 − p)·L/(L − 1)·(I − J/L),
  p = k/L. Pearson's χ² against uniform (`scipy.stats.chisquare`, which assumes one draw per step) therefore has
  expectation L − k, not L − 1, under that null: scaled by (L − 1)/(L − k) it is χ²(L − 1)
  (`uniform_selection_chi2`; tests/test_ist_selection.py simulates the null). The seeds' statistics are summed
  with their df, and the dispersion φ = χ²/df (1 = uniform selection, > 1 = the counts spread more than uniform
  draws make them) gets the interval of a variance ratio (`dispersion_interval`).
- Memory (claim `memory`): the one-step peaks of `papers/ist/memory.py` and the AdamW state of
  `configs/adapter_state.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import optimize
from scipy import stats as sps

from core.analysis.stats import Interval, paired_interval
from core.analysis.verdicts import compare_runs
from core.infra.io import REPO, RESULTS
from core.infra.paths import gate_path
from core.infra.results import load_json, load_runs

EXPERIMENT = "compare_math"
ARMS = ["lora", "ist_random", "ist", "ist_slr100", "ist_keep"]
LABELS = {
    "lora": "LoRA",
    "ist": "IST",
    "ist_random": "random layers",
    "ist_slr100": "IST score lr 100",
    "ist_keep": "IST state kept",
}
# metric -> (the result key compare_runs reads, the direction in which it is better, words)
METRICS = {
    "eval_loss": ("eval_loss", -1, "validation loss"),
    "test_accuracy": ("test_correct", +1, "test accuracy"),
}
# The design was sized on validation loss (README "Predicted MDE"); test accuracy is its second metric (LOG.md 14).
PRIMARY_METRIC = "eval_loss"
# (ours, comparator, claim id, primary): IST at the reference's score lr 10 decides; our score-lr-100 variant is
# shown beside it and never decides (LOG.md 14)
PAIRS = [
    ("ist", "lora", "accuracy", True),
    ("ist_slr100", "lora", "accuracy", False),
    ("ist", "ist_random", "ist_vs_random", True),
    ("ist_slr100", "ist_random", "ist_vs_random", False),
    ("ist", "ist_keep", "adapter_state", True),
]
# claim `scores`: the arms whose selection counts are tested against uniform (IST decides; random selection is
# the control that shows the test's calibration on real runs; the variant is shown)
SELECTION = {"ist": True, "ist_slr100": False, "ist_random": False}


def comparison(ours: str, comparator: str) -> str:
    """'IST − LoRA': the words of a comparison in the claims table and the figures."""
    return f"{LABELS[ours]} − {LABELS[comparator]}"


def repo_relative(path: Path) -> str:
    """A result path as the claims file records it (relative to the repository when it lies inside)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


class Comparison:
    """The finished runs of the deciding comparison of one profile, with its learnability gate."""

    def __init__(self, profile: str = "cpu", root: Path | str = RESULTS):
        self.runs = [r for r in load_runs("ist", EXPERIMENT, profile, root) if r.status == "done"]
        self.present = {r.name for r in self.runs}
        self.profile, self.root = profile, root

    @property
    def gate(self) -> dict:
        """The learnability gate record of the comparison (core.running.learnability), read when a verdict needs it."""
        return load_json(gate_path("ist", EXPERIMENT, self.profile, self.root))

    def pairs(self):
        """PAIRS whose two arms both ran."""
        return [p for p in PAIRS if {p[0], p[1]} <= self.present]

    def folders(self, *arms: str) -> list[str]:
        return [repo_relative(r.path) for r in self.runs if r.name in arms]

    def compared(self, ours: str, comparator: str, metric: str):
        """core.analysis.verdicts.compare_runs of ours − comparator on `metric` (its .interval and .mde; never its
        verdict)."""
        key, direction, _ = METRICS[metric]
        return compare_runs(self.runs, ours, comparator, key, None, direction)

    def per_seed_differences(self, ours: str, comparator: str, metric: str) -> dict[int, float]:
        """{seed: ours − comparator}: the points the figures draw (accuracy: the seed's accuracy difference over
        the same items, whose mean is accuracy_diff's estimate)."""
        key = METRICS[metric][0]
        value = {(r.name, r.seed): float(np.mean(r.result[key])) for r in self.runs}
        seeds = sorted(s for n, s in value if n == ours and (comparator, s) in value)
        return {s: value[(ours, s)] - value[(comparator, s)] for s in seeds}

    def selection_counts(self, arm: str) -> dict[int, tuple[np.ndarray, int]]:
        """{seed: (per-layer selection counts over the run, layers drawn per step)} from `ist_scores.jsonl`."""
        out = {}
        for r in sorted((r for r in self.runs if r.name == arm), key=lambda r: r.seed):
            rows = r.read("ist_scores.jsonl")
            n_layers = len(rows[0]["scores"])
            counts = np.bincount([i for row in rows for i in row["selected"]], minlength=n_layers)
            out[r.seed] = (counts, len(rows[0]["selected"]))
        return out


# ---- selection against uniform (claim `scores`) ------------------------------------------------------------------


def uniform_selection_chi2(counts, k: int = 1) -> tuple[float, int]:
    """(χ², df) of per-layer selection counts against uniform selection of k of the L layers per step without
    replacement: Pearson's statistic (scipy.stats.chisquare) scaled by (L − 1)/(L − k), which makes it χ²(L − 1)
    under that null (module docstring); k = 1 is scipy's multinomial test unchanged."""
    c = np.asarray(counts, dtype=float)
    n_layers = c.size
    if not 1 <= k < n_layers:
        raise ValueError(f"k = {k} layers per step of {n_layers}: need 1 <= k < L")
    pearson = float(sps.chisquare(c).statistic)
    return pearson * (n_layers - 1) / (n_layers - k), n_layers - 1


def dispersion_interval(tests, confidence: float = 0.95) -> Interval:
    """Pooled dispersion φ = Σχ² / Σdf of independent runs' selection tests (uniform_selection_chi2), with the
    interval of a variance ratio: Σχ² ~ φ·χ²(Σdf) gives φ ∈ [X / χ²_{0.975}, X / χ²_{0.025}]. p: two-sided
    p of φ = 1 (uniform selection), so the interval excludes 1 exactly when p < 1 − confidence. se: the standard
    error of log φ̂ (√(2/Σdf)), on the log scale as for other ratios."""
    x = float(sum(t[0] for t in tests))
    df = int(sum(t[1] for t in tests))
    tail = (1 - confidence) / 2
    p = float(min(1.0, 2 * min(sps.chi2.cdf(x, df), sps.chi2.sf(x, df))))
    lo, hi = x / sps.chi2.ppf(1 - tail, df), x / sps.chi2.ppf(tail, df)
    return Interval(
        x / df, float(lo), float(hi), len(tests), "chi2 dispersion", float(np.sqrt(2 / df)), df, p
    )


def dispersion_mde(df: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest excess dispersion φ − 1 that the two-sided χ²(df) test rejects with probability `power`:
    P(φ·χ²_df > χ²_{1−α/2}) + P(φ·χ²_df < χ²_{α/2}) = power (scipy.optimize.brentq)."""
    upper, lower = sps.chi2.ppf(1 - alpha / 2, df), sps.chi2.ppf(alpha / 2, df)

    def excess_power(phi: float) -> float:
        return sps.chi2.sf(upper / phi, df) + sps.chi2.cdf(lower / phi, df) - power

    return float(optimize.brentq(excess_power, 1.0, 1e3) - 1.0)


def selection_tests(counts: dict[int, tuple[np.ndarray, int]]) -> dict[int, tuple[float, int]]:
    """{seed: (χ², df)} of one arm's selection counts against uniform."""
    return {seed: uniform_selection_chi2(c, k) for seed, (c, k) in counts.items()}


def dispersion_difference(
    ours: dict[int, tuple[float, int]], control: dict[int, tuple[float, int]]
) -> Interval:
    """Paired t interval over seeds of the dispersion χ²/df of ours − the control (same seed = same data order)."""
    seeds = sorted(set(ours) & set(control))
    return paired_interval(
        [ours[s][0] / ours[s][1] for s in seeds], [control[s][0] / control[s][1] for s in seeds]
    )


# ---- memory (claim `memory`) and the AdamW state (configs/adapter_state.yaml) ------------------------------------


def memory_path(profile: str, root: Path | str = RESULTS) -> Path:
    """The memory study of a run profile: its own file where the study has that profile, else cpu's (quick)."""
    from core.costs.bench import memory_study
    from papers.ist.memory import VARIANTS

    study = memory_study("ist", VARIANTS)
    return study.path(profile if profile in study.profiles else "cpu", root)


def memory_peaks(profile: str, root: Path | str = RESULTS) -> dict[str, float]:
    """{variant: measured peak MB of one step} (variants the study skipped are left out)."""
    memory = load_json(memory_path(profile, root))
    return {r["label"]: r["peak_mb"] for r in memory["rows"] if "skipped" not in r}


def ist_variant(peaks: dict[str, float]) -> str:
    """The IST variant compared with LoRA: the reference's fraction, a quarter of the layers (`ist_25`)."""
    return next(k for k in peaks if k.startswith("ist"))


def adamw_state(root: Path | str = RESULTS) -> tuple[dict[str, list[float]], list[str]]:
    """({free | keep: AdamW state in MB at every step}, run folders) of configs/adapter_state.yaml (cpu)."""
    runs = load_runs("ist", "adapter_state", "cpu", root)
    state = {r.name: [row["optimizer_state_bytes"] / 1e6 for row in r.read("ist_scores.jsonl")] for r in runs}
    return state, [repo_relative(r.path) for r in runs]


# ---- the v002 importance run (claim `importance`; configs/importance.yaml, one 40-step run) -----------------------


def spearman_fisher(x, y) -> Interval:
    """Spearman ρ of x and y over the layers with the 95 % Fisher-z interval, se 1.06/√(n − 3) (Fieller et al.
    1957). No p: the layers of one run are not the seed-level units the claims' tests use."""
    n = len(x)
    rho = float(sps.spearmanr(x, y).statistic)
    se = 1.06 / np.sqrt(n - 3)
    z = np.arctanh(rho)
    return Interval(rho, float(np.tanh(z - 1.96 * se)), float(np.tanh(z + 1.96 * se)), n, "Fisher-z")


def importance_v002(profile: str = "cpu", root: Path | str = RESULTS) -> dict:
    """The 40-step IST run's final scores, selection counts and per-layer LoRA update norms, LISA's LoRA run's
    norms, and ρ(final score, update norm) with its Fisher-z interval over layers (IST expects ρ < 0)."""
    from core.analysis.norms import mean_block_norms, norm_skew

    run = load_runs("ist", "importance", profile, root)[0]
    scores = np.array(run.result["score_history"])  # updates x layers
    n_layers = scores.shape[1]
    counts = np.zeros(n_layers)
    for h in run.result["switch_history"]:
        counts[[int(b[5:]) for b in h["active"]]] += 1
    blocks, norms = mean_block_norms(run.weight_norms, "update")
    lisa = next(r for r in load_runs("lisa", "weight_norms", profile, root) if r.name == "smollm2_lora")
    lisa_blocks, lisa_norms = mean_block_norms(lisa.weight_norms, "update")
    layer_norm = np.array([dict(zip(blocks, norms))[f"layer{i}"] for i in range(n_layers)])
    return {
        "run": run,
        "lisa_run": lisa,
        "scores": scores,
        "counts": counts,
        "layer_norm": layer_norm,
        "lisa_blocks": lisa_blocks,
        "lisa_norms": lisa_norms,
        "rho": spearman_fisher(scores[-1], layer_norm),
        "lisa_lora_update_skew": norm_skew(lisa_blocks, lisa_norms),
        "folders": [repo_relative(run.path), repo_relative(lisa.path)],
    }

"""MISA's comparisons, defined once: the arms and pairs of the deciding design (`configs/accuracy_math.yaml`,
`configs/pretrain.yaml`, README "Scale"), their paired intervals, and the measured quantities behind the
variance, memory and convergence claims. `papers.misa.claims` turns them into claims rows; the notebooks draw them.

- Accuracy: MISA − arm on test accuracy (every seed scores the same items: crossed seeds × items interval,
  `core.analysis.item_stats.accuracy_diff`) and validation loss (paired t over seeds; same seed = same data order).
- Pre-training stand-in: MISA − Adam / GaLore on validation loss (paired t over seeds).
- Convergence: the per-seed exponent b of the running mean of ‖∇f‖² (`convergence_fit.py`) minus −1/2, t over seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.item_stats import accuracy_diff, mde_accuracy
from core.analysis.stats import Interval, mde_of, paired_interval, t_interval
from core.infra.io import REPO, RESULTS
from core.infra.paths import gate_path, study_path
from core.infra.results import Run, load_json, load_runs

EXPERIMENT = "accuracy_math"
ARMS = ["zero_shot", "full", "lora", "lisa", "badam", "misa_uniform", "misa"]  # dora: gpu profile only
# metric name -> (result key, gate key, the paper's direction for MISA − arm: +1 higher is better)
METRICS = {
    "test accuracy": ("test_correct", "test_accuracy", +1),
    "validation loss": ("eval_loss", "eval_loss", -1),
}
# (comparator, claim id, primary metric or None): MISA − comparator. The accuracy claim's pre-registered test is
# test accuracy (the paper's metric; the design's test items were added for it, LOG.md 14, 16, 17); "close to full FT"
# has no margin in the paper, so MISA − full FT is shown, not tested. misa_uniform isolates the scores (claim
# importance_scores).
PAIRS = [
    ("lisa", "accuracy", "test accuracy"),
    ("badam", "accuracy", "test accuracy"),
    ("lora", "accuracy", "test accuracy"),
    ("full", "accuracy", None),
    ("misa_uniform", "importance_scores", "test accuracy"),
]
PRETRAIN = "pretrain"
PRETRAIN_PAIRS = [
    ("adam", "c4_pretraining", "validation loss"),
    ("galore", "c4_pretraining", "validation loss"),
]
THEOREM_RATE = -0.5  # O(1/sqrt(K)) (claims.yaml `convergence`: paper_value)


def present(experiment: str, profile: str, root: Path | str = RESULTS) -> list[Run]:
    """The experiment's finished runs, or [] when the profile has none."""
    try:
        return load_runs("misa", experiment, profile, root)
    except FileNotFoundError:
        return []


def gate(profile: str, root: Path | str = RESULTS) -> dict:
    """The learnability gate of the accuracy experiment (core.running.learnability)."""
    return load_json(gate_path("misa", EXPERIMENT, profile, root))


def repo_path(path: Path) -> str:
    return str(Path(path).resolve().relative_to(REPO))


def per_seed(runs: list[Run], arm: str, key: str) -> dict[int, object]:
    """{seed: the run's result[key]} of one arm."""
    return {r.seed: r.result[key] for r in runs if r.name == arm}


def paired_seeds(runs: list[Run], ours: str, comparator: str, key: str) -> tuple[list, list, list[int]]:
    """The two arms' values on their common seeds, aligned seed by seed."""
    a, b = per_seed(runs, ours, key), per_seed(runs, comparator, key)
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds], seeds


def difference(runs: list[Run], comparator: str, metric: str, ours: str = "misa") -> tuple[Interval, float]:
    """(interval, MDE) of ours − comparator on `metric`: crossed seeds × items for test accuracy (per-item
    correctness), paired t over seeds otherwise (noncentral-t MDE of the same design)."""
    a, b, _ = paired_seeds(runs, ours, comparator, METRICS[metric][0])
    if np.ndim(a[0]) == 1:
        return accuracy_diff(a, b), mde_accuracy(a, b)
    return paired_interval(a, b), mde_of(a, b)


def seed_differences(runs: list[Run], comparator: str, metric: str, ours: str = "misa") -> list[float]:
    """The per-seed differences ours − comparator (accuracy: per-seed mean over the items), for the figures' dots."""
    a, b, _ = paired_seeds(runs, ours, comparator, METRICS[metric][0])
    return [float(np.mean(x) - np.mean(y)) for x, y in zip(a, b)]


def run_folders(runs: list[Run], arms, seeds=None) -> list[str]:
    """The folders of `arms`' runs (on `seeds` only, when given: the seeds a paired comparison used)."""
    return [repo_path(r.path) for r in runs if r.name in arms and (seeds is None or r.seed in seeds)]


# ---- convergence --------------------------------------------------------------------------------------------------


def convergence_fit(profile: str, root: Path | str | None = None) -> dict:
    return load_json(study_path("misa", "convergence_fit", profile, root))


def rate_gap(fit: dict, arm: str) -> Interval:
    """The arm's exponent b minus the theorem's −1/2: t interval over the per-seed exponents (LOG.md 13)."""
    return t_interval(np.asarray(fit["arms"][arm]["mean"]["per_seed"]) - THEOREM_RATE)

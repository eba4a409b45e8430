"""The analysis of the deciding comparison (`configs/compare_sentiment.yaml`, issue #24): what the accuracy
notebook draws and `papers.sparse_mezo.claims` prints, computed once here.

- Accuracy: S-MeZO − MeZO, S-MeZO − R-MeZO and each sweep sparsity − MeZO on test accuracy (the same 500 items in
  every seed: crossed seeds × items interval, `core.analysis.item_stats.accuracy_diff`), balanced accuracy and
  validation loss (paired t over seeds; the same seed = the same data order for every arm).
- Steps to MeZO's accuracy (the paper's convergence figure: S-MeZO reaches MeZO's RTE accuracy 3.5× sooner): per
  seed s, the target is MeZO seed s's validation accuracy at its last evaluation; each arm's count is its first
  evaluation at or above the target, MeZO's own count likewise. Speed-up = MeZO steps / arm steps, paired per seed
  (t interval of the log ratios, `core.analysis.stats.paired_ratio_interval`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.analysis.item_stats import balanced_accuracy
from core.analysis.stats import paired_ratio_interval
from core.analysis.verdicts import compare_runs
from core.infra.io import REPO, RESULTS
from core.infra.paths import gate_path
from core.infra.results import first_step_reaching, load_json, load_runs
from core.sources.data import load_task

EXPERIMENT = "compare_sentiment"
ZO = ["mezo", "s-mezo-0.8", "r-mezo-0.8", "r-mezo-0.8-lr1e-4"]  # the last: R-MeZO at its probe's runner-up lr
SWEEP = {0.0: "mezo", 0.5: "s-mezo-0.5", 0.7: "s-mezo-0.7", 0.8: "s-mezo-0.8", 0.9: "s-mezo-0.9"}
SST2_GAIN = 0.004  # the paper's SST-2 column, MeZO 94.6 -> S-MeZO 95.0 (claims.yaml `superglue_average`)
# the same column, R-MeZO 94.6 -> S-MeZO 95.0 (claims.yaml `random_mask`; the average gain is +0.034)
SST2_MASK_GAIN = 0.004
# The metric the design was built and powered for (LOG.md 18, 23): test accuracy on the same 500 items in every
# seed (crossed seeds × items interval). It is each pair's pre-registered primary test (claims.yaml `primary`);
# balanced accuracy and validation loss are secondary (shown, never deciding).
PRIMARY_METRIC = "test_accuracy"
# (ours, comparator, claim id, the paper's test-accuracy difference where it gives one, primary). The claim
# random_mask holds only if both random-mask comparisons do (LOG.md 21); sparsity 0.9 lies outside the paper's
# claimed 0.5-0.8 and is secondary (LOG.md 23); 0.8 − MeZO is superglue_average's test, not repeated here.
PAIRS = [
    ("s-mezo-0.8", "mezo", "superglue_average", SST2_GAIN, True),
    ("s-mezo-0.8", "r-mezo-0.8", "random_mask", SST2_MASK_GAIN, True),
    ("s-mezo-0.8", "r-mezo-0.8-lr1e-4", "random_mask", SST2_MASK_GAIN, True),
    *[(arm, "mezo", "sparsity_ablation", None, s <= 0.8) for s, arm in SWEEP.items() if s not in (0.0, 0.8)],
]
# claim zo_between_zero_shot_and_ft: (ours, comparator, direction): MeZO above zero-shot, below full FT
BETWEEN = [("mezo", "zero_shot", +1), ("mezo", "full", -1)]
SPEED_ARM = "s-mezo-0.8"  # convergence_speed: the arm of the paper's convergence figure
POST_HOC_ARMS = [a for a in SWEEP.values() if a.startswith("s-mezo")]  # LOG.md 22: S-MeZO arms only


def with_fixed(runs, name: str, seeds) -> list:
    """Runs plus copies of the single run `name` (deterministic, e.g. zero-shot) under every seed in `seeds`, so
    it pairs with each seed of a trained method on the same items."""
    base = next(r for r in runs if r.name == name)
    return [r for r in runs if r.name != name] + [replace(base, seed=s) for s in seeds]


class SentimentComparison:
    """Runs, test labels and the learnability gate of one profile of the comparison."""

    def __init__(self, profile: str = "cpu", root: Path | str = RESULTS):
        self.runs = load_runs("sparse_mezo", EXPERIMENT, profile, root)
        self.present = {r.name for r in self.runs}
        # MeZO's config (the ZO arms' steps, not full FT's); any trained arm where MeZO has not run
        reference = [r for r in self.runs if r.name == "mezo"] or [
            r for r in self.runs if r.name != "zero_shot"
        ]
        self.config = reference[0].config
        limit = self.config.get("test_examples") or self.config["eval_examples"]
        self.labels = load_task(self.config["task"], "test", limit)["label"]
        self.gate = load_json(gate_path("sparse_mezo", EXPERIMENT, profile, root))

    def balanced(self, run) -> float:
        return balanced_accuracy(run.result["test_correct"], self.labels)

    @staticmethod
    def final_val_accuracy(run) -> float:
        curve = run.curve()
        return curve[max(curve)]

    @staticmethod
    def mean_val_accuracy(run) -> float:
        """Mean validation accuracy over all evaluations (the area under the accuracy curve / its length): a
        post-hoc speed measure added after the runs (LOG.md 22), not part of the fixed design."""
        curve = run.curve()
        return sum(curve.values()) / len(curve)

    def metrics(self) -> dict:
        """name -> (function of a run, the direction in which it is better)."""
        return {
            "test_accuracy": (lambda r: r.result["test_accuracy"], +1),
            "balanced_accuracy": (self.balanced, +1),
            "eval_accuracy": (self.final_val_accuracy, +1),
            "eval_loss": (lambda r: r.result["eval_loss"], -1),
        }

    def common_seeds(self, ours: str, comparator: str) -> list[int]:
        """Seeds both arms have finished: a paired comparison needs 2 (an arm still running has fewer)."""
        runs = self.runs_for(comparator)
        seeds = [{r.seed for r in runs if r.name == n} for n in (ours, comparator)]
        return sorted(seeds[0] & seeds[1])

    def comparable(self, ours: str, comparator: str) -> bool:
        return len(self.common_seeds(ours, comparator)) >= 2

    def paired(
        self, ours: str, comparator: str, paper_effect: float | None = None, direction: int = +1
    ) -> dict:
        """{metric: core.analysis.verdicts.Comparison} of ours − comparator on test accuracy (per item, crossed seeds ×
        items; against the paper's difference `paper_effect` where given), balanced accuracy and validation loss (per
        seed). direction: +1 when the paper says ours is the better arm (higher accuracy, lower loss)."""
        keys = {
            "test_accuracy": ("test_correct", direction, paper_effect),
            "balanced_accuracy": (self.balanced, direction, None),
            "eval_loss": ("eval_loss", -direction, None),
        }
        runs = self.runs_for(comparator)
        return {m: compare_runs(runs, ours, comparator, k, e, d) for m, (k, d, e) in keys.items()}

    def steps_to_mezo_final(self, arm: str) -> dict:
        """{seed: {target, mezo_steps, steps}} (steps None: the arm never reached the target in the run)."""
        mezo = {r.seed: r for r in self.runs if r.name == "mezo"}
        rows = {}
        for r in (r for r in self.runs if r.name == arm and r.seed in mezo):
            target = self.final_val_accuracy(mezo[r.seed])
            rows[r.seed] = {
                "target": target,
                "mezo_steps": first_step_reaching(mezo[r.seed].curve(), target),
                "steps": first_step_reaching(r.curve(), target),
            }
        return rows

    @staticmethod
    def speedup(rows: dict):
        """MeZO steps / arm steps with its paired interval over seeds, or None when a seed never reached the
        target (the ratio is then only bounded) or fewer than 2 seeds exist."""
        seeds = sorted(rows)
        if len(seeds) < 2 or any(rows[s]["steps"] is None for s in seeds):
            return None
        return paired_ratio_interval(
            [rows[s]["mezo_steps"] for s in seeds], [rows[s]["steps"] for s in seeds]
        )

    def runs_for(self, comparator: str) -> list:
        """The runs a comparison with `comparator` pairs: zero-shot's one deterministic run is copied under every
        MeZO seed (it scores the same items), every other arm pairs by seed."""
        if comparator != "zero_shot" or "zero_shot" not in self.present:
            return self.runs
        return with_fixed(self.runs, "zero_shot", sorted({r.seed for r in self.runs if r.name == "mezo"}))

    def folders(self, *arms: str) -> list[str]:
        """The run folders of the arms (repository-relative where they lie in it): the claims file hashes them."""
        out = []
        for r in self.runs:
            if r.name in arms:
                path = Path(r.path)
                out.append(str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path))
        return sorted(out)

    def seed_values(self, arm: str, metric: str, comparator: str | None = None) -> dict:
        """{seed: metric of `arm`} (metric: a key of `metrics()`), paired with `comparator`'s seeds when given."""
        fn = self.metrics()[metric][0]
        runs = self.runs_for(comparator) if comparator else self.runs
        return {r.seed: fn(r) for r in runs if r.name == arm}

    def seed_differences(self, ours: str, comparator: str, metric: str) -> dict:
        """{seed: ours − comparator} on the seeds both have: the per-seed dots of a paired figure."""
        a, b = self.seed_values(ours, metric, comparator), self.seed_values(comparator, metric, comparator)
        return {s: a[s] - b[s] for s in sorted(set(a) & set(b))}

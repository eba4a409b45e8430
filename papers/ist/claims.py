"""Paired intervals, MDEs and verdicts behind the IST claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.ist.claims [profile]` prints one line per comparison: ours − comparator, estimate
[95 % t interval] over the paired seeds, the MDE (80 % power, α = 0.05) and the verdict of core.verdicts.decide
(better = higher test accuracy, lower validation loss). The default profile's experiment `compare_math` compares
IST (reference score lr) and our variant `ist_slr100` with random selection (claim 2) and plain LoRA (claim 1);
the v002 experiments are printed when their runs exist.
"""

from __future__ import annotations

import sys

from core.results import load_runs
from core.verdicts import comparisons

METRICS = {"test accuracy": ("test_correct", +1), "validation loss": ("eval_loss", -1)}
V002 = ("accuracy_math", "accuracy_sentiment")  # lm-eval scores: one scalar per seed, no per-item data
DEFAULT = {
    "compare_math": {
        "ist": ("lora", "ist_random"),
        "ist_slr100": ("lora", "ist_random"),
        "ist_keep": ("ist",),
    }
}


def claim_of(comparator: str) -> int:
    return {"ist_random": 2, "lora": 1, "lisa": 1}.get(comparator, 3)


def print_table(exp: str, runs, ours: str, comparators, metrics) -> None:
    present = {r.name for r in runs}
    for (comparator, name), c in comparisons(
        runs, ours, [k for k in comparators if k in present], metrics
    ).items():
        print(f"claim {claim_of(comparator)}, {exp}, {ours} − {comparator}, {name}:", c)


def main(profile: str = "cpu") -> None:
    for exp, arms in DEFAULT.items():
        try:
            runs = load_runs("ist", exp, profile)
        except FileNotFoundError as err:
            print(f"{exp}: {err}")
            continue
        for ours, comparators in arms.items():
            if ours in {r.name for r in runs}:
                print_table(exp, runs, ours, comparators, METRICS)
    for exp in V002:
        try:
            runs = load_runs("ist", exp, profile)
        except FileNotFoundError:
            continue
        print_table(exp, runs, "ist", ("lora", "ist_random", "lisa"), METRICS)


if __name__ == "__main__":
    main(*sys.argv[1:])

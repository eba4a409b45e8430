"""Paired intervals, MDEs and verdicts behind the IST claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.ist.claims [profile]` prints one line per comparison: IST − comparator, estimate
[95 % t interval] over the paired seeds, the MDE (80 % power, α = 0.05) and the verdict of core.verdicts.decide
(IST better = higher test accuracy, lower validation loss).
"""
from __future__ import annotations

import sys

from core.results import load_runs
from core.verdicts import comparisons

METRICS = {"test accuracy": ("test_correct", +1), "validation loss": ("eval_loss", -1)}
EXPERIMENTS = ("accuracy_math", "accuracy_sentiment")  # lm-eval scores: one scalar per seed, no per-item data


def main(profile: str = "cpu") -> None:
    for exp in EXPERIMENTS:
        table = comparisons(load_runs("ist", exp, profile), "ist", ("lora", "ist_random", "lisa"), METRICS)
        for (comparator, name), c in table.items():
            claim = 2 if comparator == "ist_random" else 1
            print(f"claim {claim}, {exp}, IST − {comparator}, {name}:", c)


if __name__ == "__main__":
    main(*sys.argv[1:])

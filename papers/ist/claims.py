"""Paired intervals, MDEs and verdicts behind the IST claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.ist.claims [profile]` prints one line per comparison: IST − comparator, estimate
[95 % t interval] over the paired seeds, the MDE (80 % power, α = 0.05) and the verdict of core.verdicts.decide
(IST better = higher test accuracy, lower validation loss).
"""
from __future__ import annotations

import sys

from core.results import load_runs
from core.verdicts import comparisons, lm_eval_metric

METRICS = {"test accuracy": ("test_correct", +1), "validation loss": ("eval_loss", -1)}
EXTRA = {"accuracy_math": {"lm-eval sft_math_mc acc_norm": (lm_eval_metric("sft_math_mc"), +1)}, "accuracy_sentiment": {}}


def main(profile: str = "cpu") -> None:
    for exp, extra in EXTRA.items():
        table = comparisons(load_runs("ist", exp, profile), "ist", ("lora", "ist_random", "lisa"), METRICS | extra)
        for (comparator, name), c in table.items():
            claim = 2 if comparator == "ist_random" else 1
            print(f"claim {claim}, {exp}, IST − {comparator}, {name}:", c)


if __name__ == "__main__":
    main(*sys.argv[1:])

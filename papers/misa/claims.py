"""Paired intervals, MDEs and verdicts behind the MISA claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.misa.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % t interval] over the paired units (seeds; batches for the variance study), the MDE (80 % power,
α = 0.05) and the verdict of core.verdicts.decide.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.results import load_json, load_runs
from core.run import RESULTS
from core.verdicts import compare, comparisons, not_testable
from papers.misa.variance import block_matrix, single_block_table

# MISA better = higher test accuracy (per-example correctness, paired per seed), lower validation loss
METRICS = {"test accuracy": ("test_correct", +1), "validation loss": ("eval_loss", -1)}
EXPERIMENTS = ("accuracy_math", "accuracy_sentiment")  # lm-eval scores: one scalar per seed, no per-item data


def main(profile: str = "cpu") -> None:
    for exp in EXPERIMENTS:
        table = comparisons(load_runs("misa", exp, profile), "misa", ("lora", "lisa", "badam", "full"), METRICS)
        for (comparator, name), c in table.items():
            print(f"claim 6, {exp}, MISA − {comparator}, {name}:", c)
    sq = block_matrix(load_json(Path(RESULTS) / "misa" / "variance" / profile / "grad_norms.json"))
    single = single_block_table(sq)
    for eta in ("1", "10", "100"):
        c = compare(single[f"exp_eta{eta}"], single["exp_eta0"], None, -1, unit="batches")
        print(f"claim 3, one block, E‖ĝ−g‖²/‖g‖², η = {eta} − uniform (η = 0), paired over batches:", c)
    print("claim 4:", not_testable("a rate bound with an unknown constant; no finite run can contradict it"))


if __name__ == "__main__":
    main(*sys.argv[1:])

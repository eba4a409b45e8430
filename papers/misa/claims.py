"""Paired intervals, MDEs and verdicts behind the MISA claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.misa.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % t interval] over the paired units (seeds; batches for the variance study), the MDE (80 % power,
α = 0.05) and the verdict of core.verdicts.decide.
"""

from __future__ import annotations

import sys

from core.results import load_json, load_runs
from core.study import study_path
from core.verdicts import compare, comparisons, not_testable
from papers.misa.variance import block_matrix, single_block_table

# MISA better = higher test accuracy (per-example correctness, paired per seed), lower validation loss
METRICS = {"test accuracy": ("test_correct", +1), "validation loss": ("eval_loss", -1)}
EXPERIMENTS = ("accuracy_math", "accuracy_sentiment")  # lm-eval scores: one scalar per seed, no per-item data
# misa_uniform (eta = 0) isolates the importance scores; dora runs in the gpu profile only
COMPARATORS = ("misa_uniform", "lisa", "badam", "lora", "dora", "full")
PRETRAIN = {"validation loss": ("eval_loss", -1)}


def present(paper: str, experiment: str, profile: str):
    """The experiment's finished runs, or [] when the profile has none."""
    try:
        return load_runs(paper, experiment, profile)
    except FileNotFoundError:
        return []


def accuracy_lines(profile: str):
    for exp in EXPERIMENTS:
        runs = present("misa", exp, profile)
        names = {r.name for r in runs}
        table = comparisons(runs, "misa", [c for c in COMPARATORS if c in names], METRICS) if runs else {}
        for (comparator, name), c in table.items():
            yield f"claim 6, {exp}, MISA − {comparator}, {name}: {c}"


def pretrain_lines(profile: str):
    runs = present("misa", "pretrain", profile)
    names = {r.name for r in runs}
    if runs:
        for (comparator, name), c in comparisons(
            runs, "misa", [n for n in ("adam", "galore") if n in names], PRETRAIN
        ).items():
            yield f"claim c4_pretraining (stand-in), MISA − {comparator}, {name}: {c}"


def convergence_line(profile: str) -> str:
    path = study_path("misa", "convergence_fit", profile)
    if not path.exists():
        return "claim 4: " + not_testable(
            "a rate bound with an unknown constant; no finite run can contradict it"
        )
    arms = load_json(path)["arms"]
    parts = [
        f"{arm} {r['mean']['estimate']:.3f} {[round(v, 3) for v in r['mean']['interval']]} "
        f"(horizon K = {r['mean']['horizon']['K']})"
        for arm, r in arms.items()
    ]
    return "claim 4, exponent of the running mean of ‖∇f‖² over seeds [95 % t]: " + "; ".join(parts)


def main(profile: str = "cpu") -> None:
    for line in accuracy_lines(profile):
        print(line)
    for line in pretrain_lines(profile):
        print(line)
    grads = study_path("misa", "variance", profile)
    if grads.exists():
        single = single_block_table(block_matrix(load_json(grads)))
        for eta in ("1", "10", "100"):
            c = compare(single[f"exp_eta{eta}"], single["exp_eta0"], None, -1, unit="batches")
            print(f"claim 3, one block, E‖ĝ−g‖²/‖g‖², η = {eta} − uniform (η = 0), paired over batches:", c)
    print(convergence_line(profile))


if __name__ == "__main__":
    main(*sys.argv[1:])

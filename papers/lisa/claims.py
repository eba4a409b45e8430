"""Paired intervals, MDEs and verdicts behind the LISA claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.lisa.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % t interval] over the paired seeds, the design's MDE (80 % power, α = 0.05) and the verdict of
core.verdicts.decide. Losses: the paper says LISA's is lower (direction −1).
"""
from __future__ import annotations

import sys

import numpy as np

from core.norms import block_order, norm_skew
from core.results import load_runs
from core.stats import mde_reference, reference_sd_interval
from core.verdicts import decide, not_testable


def final_train_loss(run) -> float:
    """Mean training loss of the last 5 steps (the loss-curve notebook's 'final train loss')."""
    return float(np.mean(run.losses[-5:]))


def step1_skew(run, kind: str) -> float:
    """Skew (embedding or head / median middle layer) of the first logged step: what the init already gives."""
    row = run.weight_norms[0]
    blocks = sorted((k.split("/", 1)[1] for k in row if k.startswith(kind + "/")), key=block_order)
    return norm_skew(blocks, [row[f"{kind}/{b}"] for b in blocks])


def ablation(runs, reference, ours: str, comparator: str, direction: int = -1) -> str:
    """One run per setting (seed 0): eval-loss difference with the seed sd of the γ = 2, K = 4 runs."""
    value = {r.name: r.result["eval_loss"] for r in runs}
    iv = reference_sd_interval(value[ours], value[comparator], reference)
    m = mde_reference(reference)
    return f"{iv} (MDE {m:.2g}): {decide(iv, None, m, direction)}"


def main(profile: str = "cpu") -> None:
    from core.verdicts import compare_runs
    curves = load_runs("lisa", "loss_curves", profile)
    for comparator in ("full", "lora", "galore"):
        for label, metric in (("final train loss", final_train_loss), ("validation loss", "eval_loss")):
            print(f"claim 2, LISA − {comparator}, {label}:", compare_runs(curves, "lisa", comparator, metric, None, -1))
    for task, metric in (("sft_math_mc", "acc_norm"), ("sft_instruct_ll", "acc")):
        for comparator in ("lora", "full"):
            c = compare_runs(curves, "lisa", comparator, lambda r: r.result["lm_eval"][task][metric], None, +1)
            print(f"claim 8 proxy, LISA − {comparator}, {task} {metric}:", c)
    lisa = [r for r in curves if r.name == "lisa"]
    reference = [r.result["eval_loss"] for r in lisa]
    base = {"gamma2": lisa[0].result["eval_loss"]}
    gamma = load_runs("lisa", "layers_ablation", profile) + [_renamed(lisa[0], "gamma2")]
    k_runs = load_runs("lisa", "K_ablation", profile) + [_renamed(lisa[0], "K4")]
    print(f"claim 5, γ = 8 − γ = 1 validation loss (seed 0, sd of 3 γ = 2 seeds, γ = 2 s0 {base['gamma2']:.3f}):",
          ablation(gamma, reference, "gamma8", "gamma1"))
    print("claim 5, γ = 4 − γ = 2:", ablation(gamma, reference, "gamma4", "gamma2"))
    print("claim 6, K = 10 − K = 1 validation loss:", ablation(k_runs, reference, "K10", "K1"))
    print("claim 6, K = 10 − K = 4:", ablation(k_runs, reference, "K10", "K4"))
    print("claim 7:", not_testable("MT-Bench needs a GPT-4 judge"))
    norms = {r.name: r for r in load_runs("lisa", "weight_norms", profile)}
    full = [r for r in curves if r.name == "full" and r.seed == 0][0]
    for kind in ("update", "weight"):
        print(f"claim 1, step-1 {kind} skew: LoRA {step1_skew(norms['smollm2_lora'], kind):.1f}×, "
              f"FT {step1_skew(full, kind):.1f}× (one run each: no interval)")


def _renamed(run, name: str):
    from dataclasses import replace
    return replace(run, name=name)


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Paired intervals, MDEs and verdicts behind the LISA claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.lisa.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % t interval] over the paired seeds, the design's MDE (80 % power, α = 0.05) and the verdict of
core.verdicts.decide. Losses: the paper says LISA's is lower (direction −1). Loss intervals are over training
seeds on the fixed validation examples every run shares.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np

from core.norms import block_order, norm_skew
from core.results import load_runs
from core.run import REPO
from core.stats import mde_of, mde_reference, reference_sd_interval, t_interval
from core.verdicts import compare_runs, decide, lm_eval_metric, not_testable


def final_train_loss(run) -> float:
    """Mean training loss of the last 5 steps (the loss-curve notebook's 'final train loss')."""
    return float(np.mean(run.losses[-5:]))


def step1_skew(run, kind: str) -> float:
    """Skew (embedding or head / median middle layer) at the first logged step: what the init already gives."""
    row = run.weight_norms[0]
    blocks = sorted((k.split("/", 1)[1] for k in row if k.startswith(kind + "/")), key=block_order)
    return norm_skew(blocks, [row[f"{kind}/{b}"] for b in blocks])


def ablation(runs, reference, ours: str, comparator: str, direction: int = -1) -> str:
    """One run per setting (seed 0): validation-loss difference, seed sd from the reference (γ = 2, K = 4) runs."""
    value = {r.name: r.result["eval_loss"] for r in runs}
    iv, m = reference_sd_interval(value[ours], value[comparator], reference), mde_reference(reference)
    return f"{iv} (MDE {m:.2g}): {decide(iv, None, m, direction)}"


BENCH_COMMITS = ("1a0d913", "a063983", "b0dfe7f")  # every committed CPU bench of the 4x64 setting


def bench_ratios(commits=BENCH_COMMITS) -> dict:
    """{'full', 'lora'}: that method's median step time / LISA's, one value per committed CPU bench run."""
    out = {"full": [], "lora": []}
    for sha in commits:
        text = subprocess.run(["git", "show", f"{sha}:data/results/bench/cpu-cpu.json"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout
        median = {r["method"]: r["step_s_median"] for r in json.loads(text)["rows"]}
        for m in out:
            out[m].append(median[m] / median["lisa"])
    return out


def main(profile: str = "cpu") -> None:
    curves = load_runs("lisa", "loss_curves", profile)
    for comparator in ("full", "lora", "galore"):
        for label, metric in (("final train loss", final_train_loss), ("validation loss", "eval_loss")):
            print(f"claim 2, LISA − {comparator}, {label}:", compare_runs(curves, "lisa", comparator, metric, None, -1))
    for task, key in (("sft_math_mc", "acc_norm"), ("sft_instruct_ll", "acc")):
        for comparator in ("lora", "full"):
            c = compare_runs(curves, "lisa", comparator, lm_eval_metric(task, key), None, +1)
            print(f"claim 8 proxy (24 fixed items, not a verdict), LISA − {comparator}, {task} {key}:", c.interval,
                  f"MDE {c.mde:.2g}")
    lisa_s0 = next(r for r in curves if r.name == "lisa" and r.seed == 0)  # γ = 2, K = 4 of both ablations
    reference = [r.result["eval_loss"] for r in curves if r.name == "lisa"]
    gamma = load_runs("lisa", "layers_ablation", profile) + [replace(lisa_s0, name="gamma2")]
    k_runs = load_runs("lisa", "K_ablation", profile) + [replace(lisa_s0, name="K4")]
    for ours, comparator in (("gamma8", "gamma1"), ("gamma4", "gamma2"), ("gamma2", "gamma1")):
        print(f"claim 5, {ours} − {comparator} validation loss (seed 0; sd of the 3 γ = 2 seeds):",
              ablation(gamma, reference, ours, comparator))
    for ours, comparator in (("K10", "K1"), ("K10", "K4")):
        print(f"claim 6, {ours} − {comparator} validation loss:", ablation(k_runs, reference, ours, comparator))
    paper_speedup = {"full": 2.9, "lora": 1.5}
    for method, ratios in bench_ratios().items():  # claim 4: LISA faster means ratio − 1 > 0
        excess = [r - 1 for r in ratios]
        iv, m = t_interval(excess), mde_of(excess)
        print(f"claim 4, {method}/LISA step time − 1 over the CPU benches {BENCH_COMMITS}: {iv} (MDE {m:.2g}):",
              decide(iv, paper_speedup[method] - 1, m, +1))
    print("claims 7, 8:", not_testable("MT-Bench needs a GPT-4 judge; GSM8K is not in the offline data"))
    lora = next(r for r in load_runs("lisa", "weight_norms", profile) if r.name == "smollm2_lora")
    full = next(r for r in curves if r.name == "full" and r.seed == 0)
    for kind in ("update", "weight"):
        print(f"claim 1, step-1 {kind} skew: LoRA {step1_skew(lora, kind):.1f}×, FT {step1_skew(full, kind):.1f}× "
              "(one run each: no interval)")


if __name__ == "__main__":
    main(*sys.argv[1:])

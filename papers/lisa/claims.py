"""Paired intervals, MDEs and verdicts behind the LISA claims table (README "Claims"), from the committed runs.

`.venv/bin/python -m papers.lisa.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % t interval] over the paired seeds, the design's MDE (80 % power, α = 0.05) and the verdict of
core.verdicts.decide. Losses: the paper says LISA's is lower (direction −1). Loss intervals are over training
seeds on the fixed validation examples every run shares. A metric enters a method comparison only when the
learnability gate (core.learnability, written by `make lisa-runs`) passes it; otherwise it is reported as not
testable at this budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np

from core.io import REPO, read_json
from core.learnability import gate_path
from core.norms import mean_block_norms, norm_skew, skew_by_step
from core.results import load_runs
from core.stats import mde_of, mde_reference, reference_sd_interval, seed_range, t_interval
from core.verdicts import compare_runs, decide, lm_eval_metric, not_testable

PROXIES = {
    "lm_eval.sft_math_mc.acc_norm": ("sft_math_mc", "acc_norm"),
    "lm_eval.sft_instruct_ll.acc": ("sft_instruct_ll", "acc"),
}


def final_train_loss(run) -> float:
    """Mean training loss of the last 5 steps (the loss-curve notebook's 'final train loss')."""
    return float(np.mean(run.losses[-5:]))


def update_skew(run, step: str = "mean") -> float:
    """LISA §3.1 skew of the effective weight change (`update/`: LoRA ΔW = s·B·A, FT W − W0): the mean over the
    logged steps of each block's norm ('mean', as the figure), or the skew at the first / last logged step."""
    if step == "mean":
        return norm_skew(*mean_block_norms(run.weight_norms, "update"))
    return skew_by_step(run.weight_norms, "update")[0 if step == "first" else -1][1]


def ablation(runs, reference, ours: str, comparator: str, direction: int = -1) -> str:
    """One run per setting (seed 0): validation-loss difference, seed sd from the 3 main LISA seeds."""
    value = {r.name: r.result["eval_loss"] for r in runs}
    iv, m = reference_sd_interval(value[ours], value[comparator], reference), mde_reference(reference)
    return f"{iv} (MDE {m:.2g}): {decide(iv, None, m, direction)}"


BENCH_COMMITS = ("1a0d913", "a063983", "b0dfe7f")  # every committed CPU bench of the 4x64 setting


def bench_ratios(commits=BENCH_COMMITS) -> dict:
    """{'full', 'lora'}: that method's median step time / LISA's, one value per committed CPU bench run."""
    out = {"full": [], "lora": []}
    for sha in commits:
        text = subprocess.run(
            ["git", "show", f"{sha}:data/results/bench/cpu-cpu.json"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        median = {r["method"]: r["step_s_median"] for r in json.loads(text)["rows"]}
        for m in out:
            out[m].append(median[m] / median["lisa"])
    return out


def print_gate(profile: str) -> dict:
    """The learnability gate's numbers per metric; returns {metric: passes}."""
    gate = read_json(gate_path("lisa", "loss_curves", profile))
    for metric, g in gate["metrics"].items():
        refs = ", ".join(
            f"FT − {k} {r['diff']:+.3f} [{r['lo']:.3f}, {r['hi']:.3f}] ({k} {r['reference']:.3f})"
            for k, r in g["references"].items()
        )
        print(f"learnability gate, {metric}: {'passes' if g['passes'] else 'fails'}: {refs}")
    return gate["passes"]


def loss_claims(curves) -> None:
    """Claim 2 (Fig. 1): LISA's loss at or below FT's, below LoRA's; paired by seed."""
    for comparator in sorted({r.name for r in curves} - {"lisa", "zero_shot"}):
        for label, metric in (("final train loss", final_train_loss), ("validation loss", "eval_loss")):
            print(
                f"claim 2, LISA − {comparator}, {label}:",
                compare_runs(curves, "lisa", comparator, metric, None, -1),
            )


def proxy_claims(curves, passes: dict) -> None:
    """Claim 8 proxies (lm-eval on local held-out items): compared only where the gate passes."""
    for metric, (task, key) in PROXIES.items():
        for comparator in ("lora", "full"):
            c = compare_runs(curves, "lisa", comparator, lm_eval_metric(task, key), None, +1)
            gate = "gate passes" if passes.get(metric) else "gate FAILS: not testable at this budget"
            print(
                f"claim 8 proxy ({gate}), LISA − {comparator}, {task} {key}:", c.interval, f"MDE {c.mde:.2g}"
            )


def ablation_claims(curves, profile: str) -> None:
    """Claims 5-6 (Figs. 8-9): γ and K settings at one seed against the main LISA run's seed 0."""
    lisa = [r for r in curves if r.name == "lisa"]
    s0, reference = next(r for r in lisa if r.seed == 0), [r.result["eval_loss"] for r in lisa]
    main_gamma, main_k = s0.config["lisa"]["gamma"], s0.config["lisa"]["interval"]
    gamma = load_runs("lisa", "layers_ablation", profile) + [replace(s0, name=f"gamma{main_gamma}")]
    k_runs = load_runs("lisa", "K_ablation", profile) + [replace(s0, name=f"K{main_k}")]
    gammas = sorted(int(r.name[5:]) for r in gamma)
    for hi in gammas[1:]:
        for lo in [g for g in gammas if g < hi]:
            print(
                f"claim 5, gamma{hi} − gamma{lo} validation loss (seed 0; sd of the {len(reference)} main seeds):",
                ablation(gamma, reference, f"gamma{hi}", f"gamma{lo}"),
            )
    ks = sorted(int(r.name[1:]) for r in k_runs)
    for k in ks:
        print(
            f"claim 6, validation loss K = {k}: {next(r for r in k_runs if r.name == f'K{k}').result['eval_loss']:.3f}"
        )
    middle = ks[len(ks) // 2]  # the paper's best K is a middle one (13 of {13, 25, 122})
    for other in (k for k in ks if k != middle):
        print(
            f"claim 6, K{middle} − K{other} validation loss:",
            ablation(k_runs, reference, f"K{middle}", f"K{other}"),
        )


def speed_claims() -> None:
    """Claim 4 (Fig. 4): step-time ratios over the committed CPU benches (runs as units, t)."""
    paper_speedup = {"full": 2.9, "lora": 1.5}
    for method, ratios in bench_ratios().items():  # LISA faster means ratio − 1 > 0
        excess = [r - 1 for r in ratios]
        iv, m = t_interval(excess), mde_of(excess)
        print(
            f"claim 4, {method}/LISA step time − 1 over the CPU benches {BENCH_COMMITS}: {iv} (MDE {m:.2g}):",
            decide(iv, paper_speedup[method] - 1, m, +1),
        )


def norm_claims(curves, profile: str) -> None:
    """Claim 1 (Fig. 2): LoRA's update skew over FT's, paired by seed (equal steps); the paper says 'hundreds'."""
    lora = {r.seed: r for r in load_runs("lisa", "weight_norms", profile) if r.name == "smollm2_lora"}
    full = {r.seed: r for r in curves if r.name == "full" and r.weight_norms}
    seeds = sorted(set(lora) & set(full))
    for step in ("first", "mean", "last"):
        pairs = [(update_skew(lora[s], step), update_skew(full[s], step)) for s in seeds]
        print(
            f"claim 1, update skew ({step} logged step), LoRA / FT per seed:",
            ", ".join(f"{a:.1f}× / {b:.1f}×" for a, b in pairs),
        )
    excess = [update_skew(lora[s]) / update_skew(full[s]) - 1 for s in seeds]
    iv, m = t_interval(excess), mde_of(excess)
    print(
        f"claim 1, LoRA skew ÷ FT skew − 1 (mean over steps, {len(seeds)} seeds): {iv} (MDE {m:.2g}):",
        decide(iv, 100 - 1, m, +1),
        "(paper: 'hundreds'; the size test uses 100×)",
    )


def main(profile: str = "cpu") -> None:
    curves = load_runs("lisa", "loss_curves", profile)
    passes = print_gate(profile)
    loss_claims(curves)
    proxy_claims(curves, passes)
    ablation_claims(curves, profile)
    speed_claims()
    norm_claims(curves, profile)
    for name in ("lisa", "full"):
        print(
            f"claim 7 proxy, validation-loss range over seeds, {name}:",
            seed_range([r.result["eval_loss"] for r in curves if r.name == name]),
        )
    print("claims 7, 8:", not_testable("MT-Bench needs a GPT-4 judge; GSM8K is not in the offline data"))


if __name__ == "__main__":
    main(*sys.argv[1:])

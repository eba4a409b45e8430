"""Paired intervals, MDEs and verdicts behind the Sparse MeZO claims table (README "Claims"), from the committed runs:
the deciding comparison (`configs/compare_sentiment.yaml`, analysis in papers.sparse_mezo.compare) first, then the
60-step runs of the earlier table.

`.venv/bin/python -m papers.sparse_mezo.claims [profile]` prints one line per comparison: ours − comparator,
estimate [95 % interval] over the paired units (seeds × test items for accuracy; SPSA draws for the noise study),
the MDE (80 % power, α = 0.05) and the verdict of core.verdicts.decide. Paper effects are the LLaMA-7b table's
S-MeZO − MeZO differences (papers/sparse_mezo/claims.yaml, claim `accuracy`: MeZO → S-MeZO SST-2 94.6 → 95.0,
RTE 71.7 → 80.7, BoolQ 75.9 → 80.9): SST-2 +0.004, RTE +0.090, BoolQ +0.050.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from core.results import load_json, load_runs
from core.study import study_path
from core.verdicts import compare, compare_runs
from papers.sparse_mezo.compare import PAIRS, SWEEP, ZO, SentimentComparison

TASKS = {
    "accuracy_sentiment": 0.004,
    "accuracy_entailment": 0.090,
    "accuracy_boolq": 0.050,
    "accuracy_smollm2": 0.004,
}


def last_eval_accuracy(run) -> float:
    """Validation accuracy at the last evaluation (100 fixed validation examples; scalar per seed)."""
    return [m["eval_accuracy"] for m in run.metrics if "eval_accuracy" in m][-1]


def with_fixed(runs, name: str, seeds) -> list:
    """Runs plus copies of the single run `name` (deterministic, e.g. zero-shot, or one seed of a baseline) under
    every seed in `seeds`, so it pairs with each seed of a trained method on the same items."""
    base = next(r for r in runs if r.name == name)
    return [r for r in runs if r.name != name] + [replace(base, seed=s) for s in seeds]


def compare_claims(profile: str) -> None:
    """Claims 1-4 and 8 from the deciding comparison (`configs/compare_sentiment.yaml`, papers.sparse_mezo.compare)."""
    try:
        data = SentimentComparison(profile)
    except FileNotFoundError as err:
        print(f"compare_sentiment/{profile}: not run yet ({err})")
        return
    print(f"learnability gate (full FT vs zero-shot / majority class): passes {data.gate['passes']}")
    for ours, comparator, claim, effect in PAIRS:
        if not data.comparable(ours, comparator):
            n = len(data.common_seeds(ours, comparator))
            print(
                f"{claim}, {ours} − {comparator}: pending ({n} finished common seeds, a paired interval needs 2)"
            )
            continue
        for metric, c in data.paired(ours, comparator, effect).items():
            paper = f" (paper {effect:+.3f})" if effect is not None and metric == "test_accuracy" else ""
            print(f"{claim}, {ours} − {comparator}, {metric}{paper}:", c)
    for arm in dict.fromkeys(a for a in (*ZO, *SWEEP.values()) if a != "mezo"):
        if arm in data.present:
            rows = data.steps_to_mezo_final(arm)
            print(
                f"convergence_speed, {arm}: steps to MeZO's final validation accuracy {rows}; "
                f"MeZO / {arm}: {data.speedup(rows)}"
            )
    for arm in (a for a in SWEEP.values() if a.startswith("s-mezo")):  # the claim is about S-MeZO only
        if data.comparable(arm, "mezo"):
            c = compare_runs(data.runs, arm, "mezo", data.mean_val_accuracy)
            print(f"convergence_speed (post hoc), {arm} − mezo, mean validation accuracy over the run:", c)
    seeds = sorted({r.seed for r in data.runs if r.name == "mezo"})
    if {"zero_shot", "mezo"} <= data.present:
        runs = with_fixed(data.runs, "zero_shot", seeds)
        print(
            "zo_between, mezo − zero_shot, test accuracy:",
            compare_runs(runs, "mezo", "zero_shot", "test_correct"),
        )
    if {"full", "mezo"} <= data.present:
        print(
            "zo_between, mezo − full, test accuracy:",
            compare_runs(data.runs, "mezo", "full", "test_correct", None, -1),
        )


def main(profile: str = "cpu") -> None:
    compare_claims(profile)
    print("--- the 60-step runs of stream v1 (8558cbe), kept as the record of the earlier claims table ---")
    for exp, effect in TASKS.items():
        try:
            runs = load_runs("sparse_mezo", exp, profile)
        except FileNotFoundError:
            continue
        retired_claims(exp, runs, effect)
    noise_claims(profile)
    zo_time_claims(profile)


def retired_claims(exp: str, runs, effect: float) -> None:
    """Claims 1-4 and 8 of the 60-step table (one experiment per task)."""
    variants = sorted({r.name for r in runs if r.name.startswith(("s-mezo", "r-mezo"))})
    for v in variants:
        paper = effect if v.startswith("s-mezo-0.8") else None
        c = compare_runs(runs, v, "mezo", "test_correct", paper)
        print(f"claims 1/3/4, {exp}, {v} − mezo, test accuracy:", c)
        print(
            f"claim 2 proxy, {exp}, {v} − mezo, last validation accuracy:",
            compare_runs(runs, v, "mezo", last_eval_accuracy),
        )
        print(
            f"claim 3, {exp}, {v} − mezo, validation loss:",
            compare_runs(runs, v, "mezo", "eval_loss", None, -1),
        )
    if "r-mezo-0.8" in variants:
        print(
            f"claim 4, {exp}, s-mezo-0.8 − r-mezo-0.8, test accuracy:",
            compare_runs(runs, "s-mezo-0.8", "r-mezo-0.8", "test_correct"),
        )
    seeds = sorted({r.seed for r in runs if r.name == "mezo"})
    for fixed, sign in (("zero_shot", +1), ("full", -1)):
        if any(r.name == fixed for r in runs):
            c = compare_runs(with_fixed(runs, fixed, seeds), "mezo", fixed, "test_correct", None, sign)
            print(f"claim 8, {exp}, mezo − {fixed} (its one run fixed), test accuracy:", c)


def noise_claims(profile: str) -> None:
    """Claim 5 from the noise study: equal noise on the largest (Q5) minus the smallest (Q1) quintile, antithetic
    where the study has it, paired over the directions; and the ZO update kept on Q1 vs Q5 (ours)."""
    path = study_path("sparse_mezo", "noise", profile)
    if not path.exists():
        print(f"{path}: not computed yet")
        return
    for model, res in load_json(path)["models"].items():
        keys = [k for k in ("noise", "noise_sym", "step") if k in res["draws"][0]]
        col = {key: np.array([d[key] for d in res["draws"]]) for key in keys}
        if "noise_sym" in col:
            sym = compare(col["noise_sym"][:, -1], col["noise_sym"][:, 0], None, +1, "draws")
            doubling = col["noise_sym"][:, 0].mean()
            print(
                f"claim 5, {model}, antithetic noise ΔL Q5 − Q1:", sym, f"(doubling effect: {doubling:.3g})"
            )
        noise = compare(col["noise"][:, -1], col["noise"][:, 0], None, +1, "draws")
        step = compare(col["step"][:, 0], col["step"][:, -1], None, -1, "draws")
        print(f"claim 5, {model}, noise ΔL Q5 − Q1:", noise)
        print(f"claim 5 (ours), {model}, update ΔL Q1 − Q5:", step)


def zo_time_claims(profile: str) -> None:
    """Claim 7 from the ZO throughput benchmark's interleaved rounds (a round: forward, MeZO, S-MeZO, R-MeZO back
    to back): MeZO step / forward − 2 per batch, and S-/R-MeZO step / MeZO step − 1 over all rounds; the paper
    says 'about 2 forwards' and 'no overhead', so a difference above 0 is against it (direction −1)."""
    path = study_path("sparse_mezo", "throughput", profile)
    if not path.exists():
        return
    rows, rel = load_json(path)["rows"], {"s-mezo_0.8": [], "r-mezo_0.8": []}
    for row in rows:
        t = {k: np.array(v) for k, v in row["step_s_all"].items()}
        per_forward = t["mezo"] / t["forward"]
        print(
            f"claim 7, batch {row['batch']}x{row['seq']}, MeZO step / forward − 2:",
            compare(per_forward, np.full_like(per_forward, 2.0), None, -1, "rounds"),
        )
        for k in rel:
            rel[k] += list(t[k] / t["mezo"])
    for k, ratios in rel.items():
        print(
            f"claim 7, {k} step / MeZO step − 1 (all rounds):",
            compare(np.array(ratios), np.ones(len(ratios)), None, -1, "rounds"),
        )


if __name__ == "__main__":
    main(*sys.argv[1:])

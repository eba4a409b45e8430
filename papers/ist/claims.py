"""Every comparison behind IST's claims table (README "Claims"), from the committed results, as claims rows.

`rows(profile)` is read by the claims engine (`python -m core.reporting.claims_file ist`: Holm over the primary rows
with a p, one verdict per claim, `data/results/ist/claims/<profile>.json` and the README table). The primary rows are
pre-registered in claims.yaml (`primary`); the reasons for each choice are in LOG.md 14. The learnability gate's
verdict on a metric is decided here and nowhere else (`gate_verdict`).

    .venv/bin/python -m papers.ist.claims [profile]   # prints every row with the engine's verdict
"""

from __future__ import annotations

import sys

from core.analysis.stats import t_interval
from core.analysis.verdicts import not_testable, not_testable_budget
from core.infra.io import RESULTS
from core.infra.paths import study_path
from core.reporting.claims import claims, measured
from core.reporting.claims_file import Row, report
from papers.ist.compare import (
    LABELS,
    METRICS,
    PRIMARY_METRIC,
    SELECTION,
    Comparison,
    adamw_state,
    comparison,
    dispersion_difference,
    dispersion_interval,
    dispersion_mde,
    importance_v002,
    ist_variant,
    memory_path,
    memory_peaks,
    repo_relative,
    selection_tests,
)

SELECTION_METRIC = "selection-count dispersion (χ²/df)"
DORA_REASON = (
    "the DoRA + IST arm dora_ist is in the gpu profile only and no GPU was lent; the mechanics are tested on "
    "tiny-llama in tests/test_ist.py"
)


def gate_verdict(gate: dict, metric: str) -> str | None:
    """None where plain LoRA passes the learnability gate on `metric` (core.running.learnability), else the verdict of
    every row on that metric: not testable at this budget."""
    if gate["passes"][metric]:
        return None
    refs = gate["metrics"][metric]["references"]
    failed = ", ".join(name for name, ref in refs.items() if not ref["beats"])
    return not_testable_budget(
        f"learnability gate fails on {METRICS[metric][2]}: LoRA does not beat {failed}"
    )


def comparison_rows(c: Comparison) -> list[Row]:
    """Claims accuracy, ist_vs_random, adapter_state: each pair of PAIRS on both metrics (paired by seed)."""
    out = []
    for ours, comparator, claim, primary in c.pairs():
        for metric, (_, direction, words) in METRICS.items():
            compared = c.compared(ours, comparator, metric)
            out.append(
                Row(
                    claim,
                    comparison(ours, comparator),
                    words,
                    compared.interval,
                    primary=primary and metric == PRIMARY_METRIC,
                    direction=direction,
                    design="paired t over seeds" if metric == "eval_loss" else "seeds × 64 items (crossed)",
                    runs=c.folders(ours, comparator),
                    untestable=gate_verdict(c.gate, metric),
                    mde=compared.mde,
                )
            )
    return out


def selection_rows(c: Comparison) -> list[Row]:
    """Claim scores: each arm's selection counts against uniform selection (pooled χ² dispersion over seeds), and
    IST − random layers paired by seed. The old test, log(max/min weight) > 0, was ≥ 0 by construction (LOG.md 14)."""
    tests = {arm: selection_tests(c.selection_counts(arm)) for arm in SELECTION if arm in c.present}
    out = []
    for arm, primary in SELECTION.items():
        if arm not in tests:
            continue
        iv = dispersion_interval(list(tests[arm].values()))
        out.append(
            Row(
                "scores",
                f"{LABELS[arm]} vs uniform selection",
                SELECTION_METRIC,
                iv,
                primary=primary,
                unit="x",
                design=f"χ² of per-layer counts, {iv.n} seeds pooled (df {iv.df:.0f})",
                runs=c.folders(arm),
                mde=dispersion_mde(int(iv.df)),
            )
        )
    if {"ist", "ist_random"} <= set(tests):
        out.append(
            Row(
                "scores",
                comparison("ist", "ist_random"),
                SELECTION_METRIC,
                dispersion_difference(tests["ist"], tests["ist_random"]),
                primary=False,
                design="paired t over seeds",
                runs=c.folders("ist", "ist_random"),
            )
        )
    return out


def memory_rows(profile: str) -> list[Row]:
    """Claim memory: IST's one-step peak ÷ LoRA's (measured), and the AdamW state kept ÷ freed (secondary)."""
    peaks = memory_peaks(profile)
    ist = ist_variant(peaks)
    study = repo_relative(memory_path(profile))
    state, folders = adamw_state()
    return [
        Row(
            "memory",
            "IST 25 % of layers (state freed) ÷ LoRA",
            "peak memory of one step",
            measured(peaks[ist] / peaks["lora"]),
            unit="x",
            direction=-1,
            design="measured, batch 4 × 64",
            runs=[study],
        ),
        Row(
            "memory",
            "IST state kept (reference) ÷ freed (ours)",
            f"AdamW state after {len(state['keep'])} steps",
            measured(state["keep"][-1] / state["free"][-1]),
            primary=False,
            unit="x",
            direction=-1,
            design="measured, seed 0",
            runs=folders,
        ),
    ]


def importance_rows(profile: str) -> list[Row]:
    """Claim importance_check: ρ(final score, held-out importance at the plain-LoRA checkpoint) over seeds per
    arm (IST decides); claim importance: the v002 run's ρ(final score, update norm), one run (MDE ∞)."""
    path = study_path("ist", "importance_check", profile)
    out = []
    if path.exists():
        from core.infra.results import load_json

        check = load_json(path)
        for arm, primary in (("ist", True), ("ist_slr100", False)):
            rhos = [s[arm]["rho"] for s in check["seeds"] if arm in s]
            out.append(
                Row(
                    "importance_check",
                    f"{LABELS[arm]}: final score vs held-out importance",
                    "Spearman ρ",
                    t_interval(rhos),
                    primary=primary,
                    direction=-1,
                    design="t over seeds",
                    runs=[repo_relative(path)],
                )
            )
    v002 = importance_v002(profile)
    out.append(
        Row(
            "importance",
            "IST (40 steps, 1 run): final score vs LoRA update norm",
            "Spearman ρ",
            v002["rho"],
            direction=-1,
            design="Fisher z over 30 layers, one run",
            runs=v002["folders"],
            mde=float("inf"),
            note="one run: no seed-level interval, so no design to detect any effect with",
        )
    )
    return out


def dora_rows() -> list[Row]:
    """Claim dora_compatibility: the accuracy of DoRA + IST against DoRA, not run here."""
    return [
        Row("dora_compatibility", "DoRA + IST − DoRA", "test accuracy", untestable=not_testable(DORA_REASON))
    ]


def rows(profile: str = "cpu") -> list[Row]:
    """Every comparison of the claims table (core.reporting.claims_file), in the order of the claims in claims.yaml."""
    c = Comparison(profile, RESULTS)
    out = (
        comparison_rows(c) + memory_rows(profile) + selection_rows(c) + importance_rows(profile) + dora_rows()
    )
    order = list(claims("ist")["claims"])
    return sorted(out, key=lambda r: order.index(r.claim))


def main(profile: str = "cpu") -> None:
    print("\n".join(report("ist", rows(profile))))


if __name__ == "__main__":
    main(*sys.argv[1:])

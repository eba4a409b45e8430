"""Every comparison behind the LISA claims table (README "Claims"), from the committed results: `rows(profile)` for
the claims engine (`python -m core.reporting.claims_file lisa`, which adjusts, judges and writes
`data/results/lisa/claims/<profile>.json` and the README table).

`.venv/bin/python -m papers.lisa.claims [profile]` prints the rows with the engine's verdicts. Each row is
ours − comparator (or a ratio, unit "x") with the interval its design gives; a row is primary when claims.yaml
pre-registers it (`primary:`), secondary rows are shown and never decide. Losses: the paper says LISA's is lower
(direction −1). A metric enters a method comparison only when the learnability gate (core.running.learnability, written
by `make lisa-runs`) passes it; the gate → verdict mapping is `gate_verdict`, here and nowhere else.
"""

from __future__ import annotations

import sys

import numpy as np

from core.analysis.stats import (
    Interval,
    mde_reference,
    reference_sd_interval,
    seed_design,
    seed_interval,
    t_interval,
)
from core.analysis.verdicts import not_testable_budget
from core.infra.io import read_json
from core.infra.paths import gate_path, study_path
from core.infra.results import by_method, load_json, load_runs
from core.reporting.claims import measured, paper_claim
from core.reporting.claims_file import Row, report
from papers.lisa import design as d


def paper_value(claim_id: str) -> float:
    """The paper's number of a claim (claims.yaml, never typed here)."""
    return paper_claim("lisa", claim_id)["paper_value"]


def shifted(iv: Interval, by: float) -> Interval:
    """The interval moved by `by` (a t interval of ratio − 1 becomes the interval of the ratio; se, df and p, of
    "ratio − 1 = 0", unchanged)."""
    return Interval(iv.estimate + by, iv.lo + by, iv.hi + by, iv.n, iv.kind, iv.se, iv.df, iv.p)


def ratio_t(ratios) -> Interval:
    """Mean of per-unit ratios with the t interval of ratio − 1 (p of "ratio = 1"), on the ratio scale."""
    return shifted(t_interval([r - 1 for r in ratios]), 1.0)


# ---- the learnability gate (core.running.learnability) ---------------------------------------------------------------


def gate(profile: str) -> dict:
    return read_json(gate_path("lisa", "loss_curves", profile))


def gate_text(metric: dict) -> str:
    """'FT − majority −0.181 [−0.339, −0.022], FT − zero_shot +0.028 [−0.130, 0.186]'."""
    return ", ".join(
        f"FT − {k} {r['diff']:+.3f} [{r['lo']:.3f}, {r['hi']:.3f}]" for k, r in metric["references"].items()
    )


def gate_verdict(metric_name: str, g: dict) -> str | None:
    """None when the gate passes the metric, else the row's verdict word: not testable at this budget (full FT
    does not learn the metric at this budget, so no method comparison on it can decide)."""
    if g["metrics"][metric_name]["passes"]:
        return None
    task, key = d.PROXIES[metric_name]
    return not_testable_budget(f"learnability gate fails on {task} {key}")


def gate_interval(ref: dict) -> Interval:
    """The gate's recorded FT − reference interval (core.running.learnability, paired t over the FT seeds)."""
    return Interval(ref["diff"], ref["lo"], ref["hi"], ref["n"], ref["kind"])


# ---- claim 2 (loss_curves) and claim 8 (downstream proxies) ------------------------------------------------------


def loss_rows(runs, profile: str) -> list[Row]:
    """Claim 2 (Fig. 1): LISA − LoRA and LISA − full FT over seeds (paired when both ran the same seeds, else
    Welch: core.analysis.stats.seed_interval); validation loss primary (pre-registered), the final training loss
    secondary; the gate's FT − zero-shot on the validation loss secondary."""
    out = []
    for metric, (value, primary) in d.LOSS_METRICS.items():
        per = by_method(d.trained(runs), value)
        for comp in d.LOSS_COMPARATORS:
            out.append(
                Row(
                    "loss_curves",
                    f"LISA − {'full FT' if comp == 'full' else 'LoRA'}",
                    metric,
                    seed_interval(per[d.OURS], per[comp]),
                    primary=primary,
                    direction=-1,
                    unit="loss",
                    design=seed_design(per[d.OURS], per[comp]),
                    runs=d.run_dirs([r for r in runs if r.name in (d.OURS, comp)], profile),
                )
            )
    ref = gate(profile)["metrics"]["eval_loss"]["references"]["zero_shot"]
    out.append(
        Row(
            "loss_curves",
            "full FT − zero-shot (learnability gate)",
            "validation loss",
            gate_interval(ref),
            primary=False,
            direction=-1,
            unit="loss",
            design="paired t over the FT seeds (core.running.learnability)",
            runs=[str(gate_path("lisa", "loss_curves", profile).resolve().relative_to(d.REPO))],
        )
    )
    return out


def proxy_rows(runs, profile: str) -> list[Row]:
    """Claim 8 proxies (lm-eval on local held-out items), LISA − LoRA and LISA − full FT over seeds (paired or
    Welch, core.analysis.stats.seed_interval); a proxy whose gate fails is not testable at this budget
    (gate_verdict)."""
    g, out = gate(profile), []
    for metric, (task, key) in d.PROXIES.items():
        per = by_method(runs, lambda r, t=task, k=key: r.result["lm_eval"][t][k])
        for comp in d.LOSS_COMPARATORS:
            out.append(
                Row(
                    "downstream",
                    f"LISA − {'full FT' if comp == 'full' else 'LoRA'}",
                    f"{task} accuracy ({key})",
                    seed_interval(per[d.OURS], per[comp]),
                    direction=+1,
                    unit="accuracy",
                    design=seed_design(per[d.OURS], per[comp]),
                    runs=d.run_dirs([r for r in runs if r.name in (d.OURS, comp)], profile),
                    untestable=gate_verdict(metric, g),
                    note=f"gate: {gate_text(g['metrics'][metric])}",
                )
            )
    return out


def seed_spread_rows(runs, profile: str) -> list[Row]:
    """Claim 7 proxy (Table 7 measures MT-Bench): the seed-to-seed sd of the validation loss, LISA's ÷ full FT's
    (an sd, not the range: the arms may have unequal seeds, and a range grows with their number)."""
    loss = {m: list(v.values()) for m, v in by_method(runs, d.eval_loss).items()}
    sd = {m: float(np.std(loss[m], ddof=1)) for m in (d.OURS, "full")}
    return [
        Row(
            "random_variance",
            "LISA ÷ full FT",
            f"sd of the validation loss over seeds ({len(loss[d.OURS])} and {len(loss['full'])})",
            measured(sd[d.OURS] / sd["full"]),
            primary=False,
            unit="x",
            design="one sd each; a proxy: the claim is on MT-Bench",
            runs=d.run_dirs([r for r in runs if r.name in (d.OURS, "full")], profile),
            note=", ".join(
                f"{m} sd {sd[m]:.3f}, range {min(loss[m]):.3f}-{max(loss[m]):.3f}" for m in (d.OURS, "full")
            ),
        )
    ]


# ---- claims 5-6 (ablations) ----------------------------------------------------------------------------------------


def ablation_interval(a: dict, b: dict, reference: list[float]) -> dict:
    """One ablation difference of validation loss ({seed: loss} each): paired t over the seeds both settings ran
    (core.analysis.stats.seed_interval); with one seed each, the seed sd borrowed from the main LISA seeds
    (core.analysis.stats.reference_sd_interval, the cpu32 design)."""
    if len(a) > 1:
        return {"interval": seed_interval(a, b), "design": seed_design(a, b)}
    return {
        "interval": reference_sd_interval(a[0], b[0], reference),
        "mde": mde_reference(reference),
        "design": f"one run each (seed 0), sd of the {len(reference)} main LISA seeds",
    }


def seed_losses(runs: dict) -> dict[int, float]:
    """{seed: validation loss} of one setting's {seed: run}."""
    return {seed: d.eval_loss(r) for seed, r in runs.items()}


def ablation_rows(profile: str) -> list[Row]:
    """Claims 5-6 (Figs. 8-9): one setting against another, paired by seed (`ablation_interval`); pairs and
    primaries from design.ablation_pairs."""
    reference, out = d.reference_seeds(profile), []
    for key, settings in d.ablation_settings(profile).items():
        experiment, claim = d.ABLATIONS[key]
        s = d.SYMBOL[key]
        for ours, comp, primary in d.ablation_pairs(settings, key):
            a, b = settings[ours], settings[comp]
            out.append(
                Row(
                    claim,
                    f"{s} {ours} − {s} {comp}",
                    "validation loss",
                    primary=primary,
                    direction=-1,
                    unit="loss",
                    runs=[str(r.path.resolve().relative_to(d.REPO)) for r in (*a.values(), *b.values())],
                    **ablation_interval(seed_losses(a), seed_losses(b), reference),
                )
            )
    return out


# ---- claim 4 (time_cost, time_vs_lora) -----------------------------------------------------------------------------


def speed_rows(profile: str) -> list[Row]:
    """Claim 4 (Fig. 4): comparator ÷ LISA step time. Primary: over the 3 committed CPU bench runs (runs as units,
    t interval of ratio − 1). Secondary: each CUDA bench, one run (its median step times), no interval."""
    out = []
    for method, ratios in d.bench_ratios().items():
        claim, who = d.SPEEDUP_CLAIMS[method], d.COMPARATOR_WORDS[method]
        out.append(
            Row(
                claim,
                f"{who} ÷ LISA (CPU 4×64)",
                "median step time",
                ratio_t(ratios),
                paper_effect=paper_value(claim) - 1,
                unit="x",
                design=f"t over {len(ratios)} CPU bench runs ({', '.join(d.BENCH_COMMITS)})",
                runs=[d.BENCH_FILE],
                note="per run: " + ", ".join(f"{r:.3f}" for r in ratios),
            )
        )
    files = d.bench_files(profile)
    for label, path in files.items():
        bench = load_json(d.REPO / path)
        if bench["device"] != "cuda":
            continue
        median = d.median_step(bench)
        for method, claim in d.SPEEDUP_CLAIMS.items():
            who = d.COMPARATOR_WORDS[method]
            out.append(
                Row(
                    claim,
                    f"{who} ÷ LISA ({label.replace(', batch', '')})",
                    "median step time",
                    measured(median[method] / median[d.OURS]),
                    primary=False,
                    paper_effect=paper_value(claim) - 1,
                    unit="x",
                    design="one bench run (descriptive)",
                    runs=[path],
                )
            )
    return out


# ---- claim 3 (GPU_cost, memory_7b_24gb, memory_ft_7b_60gb) -------------------------------------------------------


def memory_rows(profile: str) -> list[Row]:
    """Claim 3 (Table 1, Fig. 3): deterministic peaks (measured bytes of one step; the analytic model at the paper's
    setting), zero-width intervals outside Holm's family. Primary for GPU_cost: LISA ÷ LoRA measured in the largest
    CUDA setting (closest to the paper's regime); the other settings and the 70B prediction are secondary."""
    files = d.bench_files(profile)
    benches = {label: load_json(d.REPO / p) for label, p in files.items()}
    largest, out = d.largest_gpu(benches), []
    paper_ratio = paper_value("GPU_cost") - 1
    for label, bench in benches.items():
        peak = {r["method"]: r["peak_mb"] for r in bench["rows"]}
        for comp, who in (("lora", "LoRA"), ("full", "full FT")):
            out.append(
                Row(
                    "GPU_cost",
                    f"LISA ÷ {who} ({label.replace(', batch', '')})",
                    "measured peak memory",
                    measured(peak[d.OURS] / peak[comp]),
                    primary=label == largest and comp == "lora",
                    paper_effect=paper_ratio if comp == "lora" else None,
                    direction=-1,
                    unit="x",
                    design="one step's peak (deterministic)",
                    runs=[files[label]],
                    note=f"LISA {peak[d.OURS]:.0f} MB, {who} {peak[comp]:.0f} MB",
                )
            )
    gb = d.paper_setting_gb()
    big = gb["LLaMA-2-70B"]
    out.append(
        Row(
            "GPU_cost",
            "LISA E+H+2L ÷ LoRA r128 (LLaMA-2-70B analytic)",
            "predicted peak memory",
            measured(big["LISA E+H+2L"] / big["LoRA r128"]),
            primary=False,
            paper_effect=paper_ratio,
            direction=-1,
            unit="x",
            design="analytic model, paper's setting (bf16, batch 1 × 1024)",
            note=f"LISA {big['LISA E+H+2L']:.1f} GB vs LoRA {big['LoRA r128']:.1f} GB in total",
        )
    )
    seven = gb["LLaMA-2-7B"]
    for claim, variant, direction in (
        ("memory_7b_24gb", "LISA E+H+2L", -1),
        ("memory_ft_7b_60gb", "Full FT", +1),
    ):
        limit = paper_value(claim)
        out.append(
            Row(
                claim,
                f"LLaMA-2-7B {variant} − {limit:g} GB",
                "predicted peak memory (GB)",
                measured(seven[variant] - limit),
                direction=direction,
                unit="GB",
                design="analytic model, paper's setting (bf16, batch 1 × 1024)",
                note=f"{variant} {seven[variant]:.1f} GB",
            )
        )
    return out


# ---- claim 1 (weight_norms) ----------------------------------------------------------------------------------------


def norm_rows(profile: str) -> list[Row]:
    """Claim 1 (Fig. 2): LoRA's update skew ÷ full FT's, paired by seed (equal steps and data order); the paper
    says 'hundreds' (claims.yaml: 100×). SmolLM2 is primary; the tiny GPT-2 architecture (random init) secondary."""
    out = []
    for arch, pair in d.norm_pairs(profile).items():
        seeds = sorted(set(pair["lora"]) & set(pair["full"]))
        ratios = [d.update_skew(pair["lora"][s]) / d.update_skew(pair["full"][s]) for s in seeds]
        steps = {
            step: ", ".join(
                "/".join(f"{d.update_skew(pair[m][s], step):.1f}×" for m in ("lora", "full")) for s in seeds
            )
            for step in ("first", "mean", "last")
        }
        out.append(
            Row(
                "weight_norms",
                f"LoRA ÷ full FT ({'SmolLM2-135M' if arch == 'smollm2' else 'GPT-2 architecture, random init'})",
                "update-norm skew (mean over logged steps)",
                ratio_t(ratios),
                primary=arch == "smollm2",
                paper_effect=paper_value("weight_norms") - 1,
                unit="x",
                design=f"paired t over {len(seeds)} seeds (equal steps and data order)",
                runs=[
                    str(r.path.resolve().relative_to(d.REPO))
                    for m in ("lora", "full")
                    for r in pair[m].values()
                ],
                note="LoRA/FT skew per seed, " + "; ".join(f"{k} logged step: {v}" for k, v in steps.items()),
            )
        )
    return out


# ---- claim 9 (optimizer_state, ours) and claim 10 (importance_sampling, the variance lab) ------------------------


def optimizer_state_rows(profile: str) -> list[Row]:
    """Claim 9 (ours): growth of the AdamW state over the study's switches, reference callback − ours (measured
    bytes); the step peak after the last switch secondary."""
    path = study_path("lisa", "optimizer_state", profile)
    res = load_json(path)

    def growth(key: str, field: str) -> float:
        rows = [r for r in res[key] if field in r]
        return rows[-1][field] - rows[0][field]

    rel = str(path.resolve().relative_to(d.REPO))
    n = len(res["ours"])
    return [
        Row(
            "optimizer_state",
            "reference callback − LisaCallback",
            f"growth of the AdamW state over {n} switches (MB)",
            measured(growth("reference", "optimizer_state_mb") - growth("ours", "optimizer_state_mb")),
            unit="MB",
            design="byte count (deterministic)",
            runs=[rel],
        ),
        Row(
            "optimizer_state",
            "reference callback − LisaCallback",
            f"growth of the measured step peak over {n} switches (MB)",
            measured(growth("reference", "peak_mb") - growth("ours", "peak_mb")),
            primary=False,
            unit="MB",
            design="measured peak (deterministic)",
            runs=[rel],
        ),
    ]


LAB = "data/results/variance_lab/lab/cpu.json"


def lab_rows(profile: str) -> list[Row]:
    """Claim 10 (LISA §3.2, tested in the variance lab): LISA's γ = 2 block sampling reweighted by 1/π has the error
    E‖ĝ − g‖² = Σ_b(1/π_b − 1)‖g_b‖² of importance sampling: Monte Carlo ÷ closed form = 1 within ±10 % (two
    one-sided tests), pre-trained point. The interval is the lab's (20 batch means, df 19; its half-width includes
    the closed form's own se). The mean of the as-applied update along g against Σπ_b‖g_b‖² is secondary."""
    from scipy import stats as sps

    path = LAB.replace("/cpu.json", f"/{profile}.json")
    arm = load_json(d.REPO / path)["points"]["pretrained"]["arms"]["lisa_g2"]
    out = []
    for weighting, quantity, primary, metric in (
        ("reweighted", "err", True, "E‖ĝ − g‖², 1/π-reweighted"),
        ("applied", "proj", False, "mean of the update along g, as applied"),
    ):
        chk, mc = arm[weighting]["check"][quantity], arm[weighting]["mc"][quantity]
        half, df = chk["diff_half_width"] / chk["theory"], float(mc["dof"])
        r = chk["mc_over_theory"]
        iv = Interval(r, r - half, r + half, int(df) + 1, "t", half / float(sps.t.ppf(0.975, df)), df)
        out.append(
            Row(
                "importance_sampling",
                "Monte Carlo ÷ closed form (LISA γ = 2)",
                metric,
                iv,
                primary=primary,
                unit="x",
                equivalence=(1.0, 0.1),
                design=f"t over {int(df) + 1} batch means (variance lab)",
                runs=[path],
                note=f"MC {mc['mean']:.4g} [{mc['lo']:.4g}, {mc['hi']:.4g}] vs closed form {chk['theory']:.4g}",
            )
        )
    return out


def lisa_fix_rows() -> list[Row]:
    """LISA-fix (App. A.4.3): no run of one fixed random layer set is in the design."""
    return [
        Row(
            "lisa_fix",
            "LISA − LISA-fix",
            "validation loss",
            direction=-1,
            untestable=not_testable_budget("no LISA-fix arm in the 90-min CPU design"),
        )
    ]


# ---- the table ---------------------------------------------------------------------------------------------------


def rows(profile: str = "cpu") -> list[Row]:
    """Every comparison behind the LISA claims table, in the claims' order (claims.yaml)."""
    curves = load_runs("lisa", "loss_curves", profile)
    return [
        *norm_rows(profile),
        *loss_rows(curves, profile),
        *memory_rows(profile),
        *speed_rows(profile),
        *ablation_rows(profile),
        *seed_spread_rows(curves, profile),
        *proxy_rows(curves, profile),
        *lisa_fix_rows(),
        *optimizer_state_rows(profile),
        *lab_rows(profile),
    ]


def main(profile: str = "cpu") -> None:
    print("\n".join(report("lisa", rows(profile))))


if __name__ == "__main__":
    main(*sys.argv[1:])

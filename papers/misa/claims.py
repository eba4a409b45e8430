"""Every comparison behind MISA's claims table, as rows of the claims engine (core.reporting.claims_file), from the
committed results.

    .venv/bin/python -m core.reporting.claims_file misa        # -> data/results/misa/claims/cpu.json + the README table
    .venv/bin/python -m papers.misa.claims [profile] # prints the rows (interval, MDE, role)

Primary rows are the tests pre-registered in claims.yaml (`primary`; reasons in LOG.md 16); everything else is
shown as a secondary row and never decides. The learnability gate → verdict mapping lives here and only here
(`gated`). Pairs and intervals: `papers.misa.compare` (accuracy, pre-training, convergence),
`papers.variance_lab.compare` (the variance claim's deciding comparison at equal memory), `papers.misa.variance`
and `papers.misa.memory` (the studies of this folder).
"""

from __future__ import annotations

import sys

import numpy as np

from core.analysis.block_variance import optimal_probs
from core.analysis.stats import Interval, bootstrap_ratio_ci, paired_interval
from core.analysis.verdicts import not_testable_budget
from core.infra.paths import study_path
from core.infra.results import load_json
from core.reporting.claims import measured
from core.reporting.claims_file import Row, report
from core.training.sampling import importance_probs
from papers.misa import compare as c
from papers.misa.memory import analytic_gb
from papers.misa.memory import measured as measured_memory
from papers.misa.variance import (
    block_matrix,
    closed_vs_monte_carlo,
    equal_budget_table,
    lisa_monte_carlo,
    single_block_table,
)
from papers.variance_lab import compare as lab


def _file(paper: str, study: str, profile: str) -> str:
    return c.repo_path(study_path(paper, study, profile))


# ---- accuracy, the importance scores, the pre-training stand-in ---------------------------------------------------


def gated(gate: dict | None, metric: str) -> str | None:
    """The verdict of a comparison whose metric fails the learnability gate (full FT must beat zero-shot and the
    majority class by an interval excluding 0, core.running.learnability), else None: the one gate → verdict mapping."""
    if gate is None:
        return None
    key = c.METRICS[metric][1]
    if gate["passes"][key]:
        return None
    refs = gate["metrics"][key]["references"]
    words = "; ".join(
        f"full − {k.replace('_', '-')} {r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]"
        for k, r in refs.items()
    )
    return not_testable_budget(f"learnability gate fails on {metric}: {words}")


def pair_rows(runs, pairs, gate: dict | None, names: dict) -> list[Row]:
    """MISA − comparator on every metric of the experiment: primary on the pair's pre-registered metric."""
    out = []
    have = {r.name for r in runs}
    for comparator, claim, primary_metric in pairs:
        if comparator not in have:
            continue
        for metric, (_, _, direction) in c.METRICS.items():
            if metric == "test accuracy" and "test_correct" not in runs[0].result:
                continue
            iv, mde = c.difference(runs, comparator, metric)
            crossed = np.ndim(runs[0].result[c.METRICS[metric][0]]) == 1
            seeds = c.paired_seeds(runs, "misa", comparator, c.METRICS[metric][0])[2]
            n = f"{len(seeds)} seeds"
            out.append(
                Row(
                    claim,
                    f"MISA − {names[comparator]}",
                    metric,
                    iv,
                    primary=metric == primary_metric,
                    direction=direction,
                    mde=mde,
                    design=f"crossed seeds × items, {n}" if crossed else f"paired t over {n}",
                    runs=c.run_folders(runs, ("misa", comparator), seeds),
                    untestable=gated(gate, metric),
                )
            )
    return out


ARM_NAMES = {
    "lisa": "LISA",
    "badam": "BAdam",
    "lora": "LoRA",
    "full": "full FT",
    "misa_uniform": "MISA η = 0",
    "adam": "Adam",
    "galore": "GaLore",
}


def accuracy_rows(profile: str) -> list[Row]:
    runs = c.present(c.EXPERIMENT, profile)
    if not runs:
        return []
    return pair_rows(runs, c.PAIRS, c.gate(profile), ARM_NAMES)


def pretrain_rows(profile: str) -> list[Row]:
    runs = c.present(c.PRETRAIN, profile)
    return pair_rows(runs, c.PRETRAIN_PAIRS, None, ARM_NAMES) if runs else []


# ---- convergence --------------------------------------------------------------------------------------------------


def convergence_rows(profile: str) -> list[Row]:
    """Exponent b of the running mean of ‖∇f‖² minus −1/2 per arm (t over seeds); MISA's decides. The design was
    sized for this test (LOG.md 13, README 'Convergence horizon')."""
    fit = c.convergence_fit(profile)
    path = [_file("misa", "convergence_fit", profile)]
    return [
        Row(
            "convergence",
            f"{'MISA' if arm == 'misa' else ARM_NAMES.get(arm, arm)} exponent b − (−1/2)",
            "running mean of ‖∇f‖², K ≤ 200",
            c.rate_gap(fit, arm),
            primary=arm == "misa",
            direction=-1,
            design=f"t over the per-seed fits, {len(fit['arms'][arm]['mean']['per_seed'])} seeds",
            runs=path,
        )
        for arm in ["misa", *[a for a in fit["arms"] if a != "misa"]]
    ]


# ---- variance -----------------------------------------------------------------------------------------------------


def variance_rows(profile: str) -> list[Row]:
    """The abstract's claim: MISA's importance sampling has lower variance than layer-wise sampling. Decided at
    equal memory by the variance lab (MISA's own EMA-score sampler, emb./head in both arms; the same rows as the
    lab's claim misa_variance, LOG.md 16); this folder's study (blocks only, scores set to the mean norms) is shown."""
    data = lab.load(profile)
    runs = [lab.lab_file(profile)]
    rows = [
        Row(
            "variance",
            f"MISA ÷ LISA, γ = {g}",
            f"1/π error, {lab.POINT_WORDS[lab.PRIMARY_POINT]}",
            lab.misa_over_lisa(data, lab.PRIMARY_POINT, g),
            direction=-1,
            unit="x",
            design=lab.DESIGN,
            runs=runs,
        )
        for g in data["setting"]["gammas"]
    ]
    study = load_json(study_path("misa", "variance", profile))
    table = equal_budget_table(study, eta=1.0)
    keys = [k for k in next(iter(table.values())) if k not in ("budget", "grad_sq")]
    for gname, row in table.items():
        ratio = bootstrap_ratio_ci(row[keys[2]]["variance"], row[keys[0]]["variance"])
        rows.append(
            Row(
                "variance",
                f"MISA ÷ LISA, γ = {gname[5:]}, blocks only, mean-norm scores",
                f"1/π-reweighted variance, δ = {row['budget'] * 100:.2g} %",
                Interval(*ratio, len(row["grad_sq"]), "bootstrap"),
                primary=False,
                direction=-1,
                unit="x",
                design="95 % percentile bootstrap over 16 batches",
                runs=[_file("misa", "variance", profile)],
                note="papers/misa/variance.py (v002 study)",
            )
        )
    return rows


def closed_form_rows(profile: str) -> list[Row]:
    """(ours) the closed form Σ_b(1/p_b − 1)‖g_b‖² equals the Monte Carlo of the sampler: MC ÷ closed form = 1
    within ±10 % (two one-sided tests) for each estimator checked on batch 0."""
    study = load_json(study_path("misa", "variance", profile))
    s0 = block_matrix(study)[0]
    n = len(s0)
    probs = {
        "uniform p": np.full(n, 1 / n),
        "optimal p ∝ ‖g_b‖": optimal_probs(np.sqrt(s0)[:, None]),
        "paper's p, η = 1": importance_probs(np.sqrt(s0), 1.0).numpy(),
    }
    checks = {
        **closed_vs_monte_carlo(s0, probs),
        "LISA γ = 2 (several blocks)": lisa_monte_carlo(study, s0, 2),
    }
    draws = {"LISA γ = 2 (several blocks)": 4000}
    rows = []
    for name, v in checks.items():
        k = draws.get(name, 20000)
        se = (v["hi"] - v["lo"]) / (2 * 1.959963984540054) / v["closed"]
        iv = Interval(
            v["mc"] / v["closed"],
            v["lo"] / v["closed"],
            v["hi"] / v["closed"],
            k,
            "normal MC",
            se,
            float(k - 1),
        )
        rows.append(
            Row(
                "variance_closed_form",
                f"{name}, MC ÷ closed form",
                "E‖ĝ − g‖²/‖g‖², batch 0",
                iv,
                unit="x",
                design=f"95 % normal interval over {k:,} MC draws",
                runs=[_file("misa", "variance", profile)],
                equivalence=(1.0, lab.MARGIN),
            )
        )
    return rows


def sampling_distribution_rows(profile: str) -> list[Row]:
    """The paper's one-block p ∝ exp(min(5, η‖g_b‖²)) against uniform p, E‖ĝ − g‖²/‖g‖² paired over the 16
    batches (η = 1, the fine-tuning scripts' value, decides; claims.yaml: relative variance, lower); its captured
    energy (the lab's claim misa_captured_energy) is shown."""
    study = load_json(study_path("misa", "variance", profile))
    single = single_block_table(block_matrix(study))
    path = [_file("misa", "variance", profile)]
    rows = [
        Row(
            "sampling_distribution",
            f"paper's p (η = {eta}) − uniform p",
            "one-block E‖ĝ − g‖²/‖g‖²",
            paired_interval(single[f"exp_eta{eta}"], single["exp_eta0"]),
            primary=eta == "1",
            direction=-1,
            design="paired t over 16 batches",
            runs=path,
        )
        for eta in ("1", "10", "100")
    ]
    data = lab.load(profile)
    rows.append(
        Row(
            "sampling_distribution",
            "p ∝ exp(η G_b²), η = 1 ÷ uniform p",
            "captured energy, pre-trained (variance lab)",
            lab.captured_energy(data, lab.PRIMARY_POINT),
            primary=False,
            unit="x",
            design=lab.DESIGN,
            runs=[lab.lab_file(profile)],
            note="the variance lab's claim misa_captured_energy",
        )
    )
    return rows


# ---- memory -------------------------------------------------------------------------------------------------------


def memory_rows(profile: str) -> list[Row]:
    """Peak memory ratios (one measurement each, or the analytic model at the paper's scale): MISA δ = 1 % ÷
    LISA γ = 1 measured on SmolLM2 (small δ vs layer-wise), MISA δ = 3 % ÷ LoRA r 8 on LLaMA-3-8B at 4096 tokens
    (long sequences vs LoRA) decide."""
    bench = load_json(study_path("misa", "memory", profile))
    peak = {k: v["peak_mb"] for k, v in measured_memory(bench).items()}
    setting = f"SmolLM2 batch {bench['setting']['batch']} × {bench['setting']['seq']}, fp32"
    path = [_file("misa", "memory", profile)]
    rows = [
        Row(
            "memory",
            f"MISA δ = {float(label[6:]) * 100:g} % ÷ LISA γ = 1",
            f"measured peak, {setting}",
            measured(peak[label] / peak["lisa_g1"]),
            primary=label == "misa_d0.01",
            direction=-1,
            unit="x",
            design="one measurement",
            runs=path,
        )
        for label in ("misa_d0.01", "misa_d0.03", "misa_d0.10")
    ]
    model = analytic_gb()
    for seq in (4096, 512):
        gb = model[f"LLaMA-3-8B, {seq} tokens"]
        rows.append(
            Row(
                "memory",
                "MISA δ = 3 % ÷ LoRA r 8",
                f"analytic peak, LLaMA-3-8B, {seq} tokens",
                measured(gb["misa_d0.03"] / gb["lora_r8"]),
                primary=seq == 4096,
                direction=-1,
                unit="x",
                design="analytic model (core.costs.memory)",
                runs=path,
            )
        )
    return rows


PARTS = (
    variance_rows,
    closed_form_rows,
    sampling_distribution_rows,
    convergence_rows,
    memory_rows,
    accuracy_rows,
    pretrain_rows,
)


def rows(profile: str = "cpu") -> list[Row]:
    """Every comparison of MISA's claims table (core.reporting.claims_file); a part whose result file the profile lacks
    (e.g. `quick`, whose studies reuse the cpu results) gives no rows."""
    out = []
    for part in PARTS:
        try:
            out += part(profile)
        except FileNotFoundError as missing:
            print(f"{part.__name__}: no rows for profile {profile!r} ({missing})", file=sys.stderr)
    return out


def main(profile: str = "cpu") -> None:
    print("\n".join(report("misa", rows(profile))))


if __name__ == "__main__":
    main(*sys.argv[1:])

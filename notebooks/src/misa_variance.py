# %% [markdown]
# # MISA: does module-wise importance sampling reduce gradient variance? (real SmolLM2 gradients)
# The paper claims MISA "provably reduces gradient variance compared to layer-wise sampling" (abstract; the
# theorem's statement was not reachable, papers/misa/claims.yaml). Input: per-module squared gradient norms
# ‖g_b‖² of pre-trained SmolLM2-135M on 16 fixed batches of the instruction task (`papers/misa/variance.py`,
# 210 blocks = 30 layers x q,k,v,o,gate,up,down). Blocks are disjoint coordinates, so the variance of any
# 1/π-reweighted block estimator is Σ_b (1/π_b − 1)‖g_b‖² (closed form; `core.stats`). All variances are
# divided by ‖g‖² of the same batch; CIs are percentile bootstraps over the 16 batches.
#
# (a) closed form vs Monte Carlo; (b) equal-budget comparison: layer-wise uniform (LISA, γ layers) vs
# module-wise uniform vs MISA's sampler vs the optimal inclusion π ∝ ‖g_b‖/√n_b at the same fraction δ of
# parameters; (c) the paper's one-block distribution p ∝ exp(min(5, η‖g_b‖²)) across η vs the optimum p ∝ ‖g_b‖.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_variance.png"

# %%
import numpy as np

from core.claims import fmt_interval, judge, mde_from, verdict_cell
from core.plotting import figure, finish, name
from core.results import load_json
from core.sampling import importance_probs
from core.stats import Interval, bootstrap_ci, bootstrap_ratio_ci, optimal_probs
from core.study import study_path
from core.verdicts import compare
from papers.misa.variance import (
    GAMMAS,
    block_matrix,
    closed_vs_monte_carlo,
    equal_budget_table,
    lisa_monte_carlo,
    single_block_table,
)

data = load_json(study_path("misa", "variance", profile, results_root))
sq = block_matrix(data)
n_blocks = sq.shape[1]

# %% [markdown]
# ## (a) closed form vs Monte Carlo (batch 0)

# %%
s0 = sq[0]
single_probs = {
    "uniform": np.full(n_blocks, 1 / n_blocks),
    "optimal p~|g|": optimal_probs(np.sqrt(s0)[:, None]),
    "paper exp(eta|g|^2), eta=1": importance_probs(np.sqrt(s0), 1.0).numpy(),
}
check = closed_vs_monte_carlo(s0, single_probs)
check["LISA gamma=2 (multi-block)"] = lisa_monte_carlo(data, s0, 2)
agree = {k: bool(v["lo"] <= v["closed"] <= v["hi"]) for k, v in check.items()}

# %% [markdown]
# ## (b) equal trainable-parameter budget

# %%
# Reported per sampler: E_batch[E‖ĝ−g‖²] / E_batch[‖g‖²] (ratio of means over the 16 batches, paired bootstrap),
# the quantity for which "optimal" (π from the mean ‖g_b‖²) is optimal.
table = equal_budget_table(data, eta=1.0)
samplers = [k for k in next(iter(table.values())) if k not in ("budget", "grad_sq")]
summary = {}
for g, row in table.items():
    summary[g] = {"budget": row["budget"]}
    for key in samplers:
        v = bootstrap_ratio_ci(row[key]["variance"], row["grad_sq"])
        e = bootstrap_ratio_ci(row[key]["unreweighted_error"], row["grad_sq"])
        summary[g][key] = {
            "variance": v,
            "unreweighted_error": e,
            "used_budget": row[key]["used_budget"],
            "pi_range": [row[key]["pi_min"], row[key]["pi_max"]],
        }
lisa_key, uni_key, misa_key = samplers[0], samplers[1], samplers[2]
ratios = {
    g: bootstrap_ratio_ci(table[g][misa_key]["variance"], table[g][lisa_key]["variance"]) for g in table
}
ratios_uniform = {
    g: bootstrap_ratio_ci(table[g][uni_key]["variance"], table[g][lisa_key]["variance"]) for g in table
}

# %% [markdown]
# ## (c) the paper's one-block distribution across η

# %%
single = single_block_table(sq)
single_ci = {k: bootstrap_ci(v) for k, v in single.items()}
norm_scale = {"median_block_norm": float(np.median(np.sqrt(sq))), "max_block_norm": float(np.sqrt(sq).max())}

# %% [markdown]
# ## Verdict: MISA's importance sampling vs LISA's layer-wise sampling at equal budget
# The ratio of variances (MISA ÷ LISA) over the 16 batches with a 95 % percentile bootstrap over batches (16
# exchangeable batches, not 3 seeds); the MDE is that of a normal test with the bootstrap's standard error. And the
# paper's one-block distribution against uniform sampling, paired over the batches (panel c).

# %%
n_batches = sq.shape[0]
iv = {g: Interval(r[0], r[1], r[2], n_batches, "bootstrap") for g, r in ratios.items()}
verdicts = [
    judge(
        "misa",
        "variance",
        iv[g],
        mde_from(iv[g]),
        unit="x",
        over="batches",
        label=f"δ = {table[g]['budget'] * 100:.2g} % (LISA γ = {g[5:]})",
        ours=f"MISA ÷ LISA variance {fmt_interval(iv[g], 'x', 'batches')}",
    )
    for g in (min(table), max(table))
]
one_block = compare(
    single["exp_eta1"], single["exp_eta0"], None, -1, unit="batches"
)  # as papers/misa/claims.py
verdicts.append(
    judge(
        "misa",
        "sampling_distribution",
        one_block.interval,
        one_block.mde,
        over="batches",
        label="paper's one-block p (η = 1) − uniform",
        ours=f"variance / ‖g‖² {fmt_interval(one_block.interval, over='batches')}",
    )
)

fig, axes = figure(3, 1, width=4.9, height=4.6)
names = list(check)
x = np.arange(len(names))
axes[0].bar(x - 0.2, [check[k]["closed"] for k in names], 0.4, label="closed form", color="C0")
axes[0].errorbar(
    x + 0.2,
    [check[k]["mc"] for k in names],
    fmt="o",
    color="C1",
    capsize=4,
    label="Monte Carlo, 95 % CI",
    yerr=[[check[k]["mc"] - check[k]["lo"] for k in names], [check[k]["hi"] - check[k]["mc"] for k in names]],
)
short = {
    "uniform": "uniform",
    "optimal p~|g|": "optimal\np ∝ ‖g_b‖",
    "paper exp(eta|g|^2), eta=1": "paper's p,\nη = 1",
}
axes[0].set_xticks(x, [short.get(k, "LISA γ = 2\n(several blocks)") for k in names])
axes[0].set_yscale("log")
axes[0].set_ylabel("E‖ĝ − g‖² / ‖g‖²")
axes[0].set_title("(a) closed form vs Monte Carlo (batch 0)")
axes[0].legend()

budgets = [table[g]["budget"] for g in table]
for i, key in enumerate(samplers):
    mean = [summary[g][key]["variance"][0] for g in table]
    axes[1].plot(budgets, mean, "o-", color=f"C{i}", label=name(key))
    axes[1].fill_between(
        budgets,
        [summary[g][key]["variance"][1] for g in table],
        [summary[g][key]["variance"][2] for g in table],
        color=f"C{i}",
        alpha=0.2,
    )
axes[1].plot(
    budgets,
    [summary[g][misa_key]["unreweighted_error"][0] for g in table],
    "k:",
    label="MISA as implemented (no 1/π): error",
)
axes[1].set_xscale("log")
axes[1].set_yscale("log")
axes[1].set_xticks(budgets, [f"{b:.2g}" for b in budgets], minor=False)
axes[1].xaxis.set_minor_formatter("")
axes[1].set_xlabel("trainable fraction δ (= LISA γ " + "/".join(map(str, GAMMAS)) + ")")
axes[1].set_ylabel("E[variance] / E‖g‖² (band: 95 % bootstrap)")
axes[1].set_title("(b) equal budget: the verdict")
axes[1].legend(fontsize=9)

etas = [k for k in single if k.startswith("exp_eta")]
ex = [float(k[7:]) + 1e-2 for k in etas]
axes[2].plot(ex, [single_ci[k][0] for k in etas], "o-", color="C2", label="paper's p ∝ exp(min(5, η‖g_b‖²))")
axes[2].fill_between(
    ex, [single_ci[k][1] for k in etas], [single_ci[k][2] for k in etas], color="C2", alpha=0.2
)
axes[2].axhline(single_ci["optimal"][0], color="C0", ls="--", label="optimal p ∝ ‖g_b‖")
axes[2].axhline(single_ci["exp_eta0"][0], color="gray", ls=":", label="uniform (η = 0)")
axes[2].set_xscale("log")
axes[2].set_yscale("log")
axes[2].set_ylim(0.8 * min(single_ci["optimal"][0], *[single_ci[k][1] for k in etas]), None)
axes[2].set_xlabel("η (+0.01 so that η = 0 shows)")
axes[2].set_ylabel("one-block variance / ‖g‖²")
axes[2].set_title("(c) the paper's one-block p vs the optimum")
axes[2].legend(fontsize=9)
out = {
    "closed_vs_mc": check,
    "closed_inside_mc_ci": agree,
    "equal_budget": summary,
    "misa_over_lisa_variance_ratio": iv,
    "module_uniform_over_lisa_variance_ratio": ratios_uniform,
    "single_block": single_ci,
    "norm_scale": norm_scale,
}
finish(
    fig,
    figure_path,
    out,
    verdicts,
    f"MISA gradient variance on real SmolLM2-135M gradients ({n_batches} batches)",
)

# %%
verdict_cell(verdicts)

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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.results import load_json, save_figure
from core.sampling import importance_probs
from core.stats import bootstrap_ci, bootstrap_ratio_ci, optimal_probs
from papers.misa.variance import (GAMMAS, block_matrix, closed_vs_monte_carlo, equal_budget_table, lisa_monte_carlo,
                                  single_block_table)

data = load_json(Path(results_root) / "misa" / "variance" / profile / "grad_norms.json")
sq = block_matrix(data)
n_blocks = sq.shape[1]
print(f"{sq.shape[0]} batches x {n_blocks} blocks; mean loss {np.mean(data['losses']):.3f}")

# %% [markdown]
# ## (a) closed form vs Monte Carlo (batch 0)

# %%
s0 = sq[0]
single_probs = {"uniform": np.full(n_blocks, 1 / n_blocks), "optimal p~|g|": optimal_probs(np.sqrt(s0)[:, None]),
                "paper exp(eta|g|^2), eta=1": importance_probs(np.sqrt(s0), 1.0).numpy()}
check = closed_vs_monte_carlo(s0, single_probs)
check["LISA gamma=2 (multi-block)"] = lisa_monte_carlo(data, s0, 2)
agree = {k: bool(v["lo"] <= v["closed"] <= v["hi"]) for k, v in check.items()}
for k, v in check.items():
    print(f"{k:32s} closed {v['closed']:10.4f}  MC {v['mc']:10.4f} [{v['lo']:.4f}, {v['hi']:.4f}]  inside CI: {agree[k]}")

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
    for name in samplers:
        v = bootstrap_ratio_ci(row[name]["variance"], row["grad_sq"])
        e = bootstrap_ratio_ci(row[name]["unreweighted_error"], row["grad_sq"])
        summary[g][name] = {"variance": v, "unreweighted_error": e, "used_budget": row[name]["used_budget"],
                            "pi_range": [row[name]["pi_min"], row[name]["pi_max"]]}
lisa_key, uni_key, misa_key = samplers[0], samplers[1], samplers[2]
ratios = {g: bootstrap_ratio_ci(table[g][misa_key]["variance"], table[g][lisa_key]["variance"]) for g in table}
ratios_uniform = {g: bootstrap_ratio_ci(table[g][uni_key]["variance"], table[g][lisa_key]["variance"]) for g in table}
for g in table:
    print(g, f"delta={table[g]['budget']:.4f}", {k: round(summary[g][k]["variance"][0], 3) for k in samplers},
          f"MISA/LISA variance ratio {ratios[g][0]:.3f} [{ratios[g][1]:.3f}, {ratios[g][2]:.3f}]")

# %% [markdown]
# ## (c) the paper's one-block distribution across η

# %%
single = single_block_table(sq)
single_ci = {k: bootstrap_ci(v) for k, v in single.items()}
norm_scale = {"median_block_norm": float(np.median(np.sqrt(sq))), "max_block_norm": float(np.sqrt(sq).max())}
print(norm_scale)
for k, v in single_ci.items():
    print(f"{k:16s} {v[0]:10.3f} [{v[1]:.3f}, {v[2]:.3f}]")

# %%
fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
names = list(check)
x = np.arange(len(names))
axes[0].bar(x - 0.2, [check[k]["closed"] for k in names], 0.4, label="closed form")
axes[0].bar(x + 0.2, [check[k]["mc"] for k in names], 0.4, label="Monte Carlo (95% CI)",
            yerr=[[check[k]["mc"] - check[k]["lo"] for k in names], [check[k]["hi"] - check[k]["mc"] for k in names]])
axes[0].set_xticks(x)
axes[0].set_xticklabels(names, rotation=15, fontsize=7)
axes[0].set_yscale("log")
axes[0].set_ylabel("E||g_hat - g||^2 / ||g||^2")
axes[0].set_title("(a) closed form vs Monte Carlo (batch 0)")
axes[0].legend(fontsize=8)

budgets = [table[g]["budget"] for g in table]
for name in samplers:
    mean = [summary[g][name]["variance"][0] for g in table]
    lo = [summary[g][name]["variance"][1] for g in table]
    hi = [summary[g][name]["variance"][2] for g in table]
    axes[1].plot(budgets, mean, "o-", label=name)
    axes[1].fill_between(budgets, lo, hi, alpha=0.2)
mis = [summary[g][misa_key]["unreweighted_error"][0] for g in table]  # bias^2 of the update MISA applies
axes[1].plot(budgets, mis, "k:", label="MISA as implemented (no 1/pi): E||g_hat-g||^2")
axes[1].set_xscale("log")
axes[1].set_yscale("log")
axes[1].set_xlabel("trainable fraction delta (of all parameters) = LISA gamma " + "/".join(map(str, GAMMAS)))
axes[1].set_ylabel("E[variance] / E||g||^2 over 16 batches (95% CI)")
axes[1].set_title("(b) equal budget")
axes[1].legend(fontsize=7, loc="upper right")

etas = [k for k in single if k.startswith("exp_eta")]
axes[2].plot([float(k[7:]) + 1e-2 for k in etas], [single_ci[k][0] for k in etas], "o-",
             label="paper p ~ exp(min(5, eta|g_b|^2))")
axes[2].fill_between([float(k[7:]) + 1e-2 for k in etas], [single_ci[k][1] for k in etas],
                     [single_ci[k][2] for k in etas], alpha=0.2)
axes[2].axhline(single_ci["optimal"][0], color="g", ls="--", label="optimal p ~ |g_b|")
axes[2].axhline(single_ci["exp_eta0"][0], color="gray", ls=":", label="uniform (eta = 0)")
axes[2].set_xscale("log")
axes[2].set_yscale("log")
axes[2].set_xlabel("eta (+0.01 so that eta = 0 shows)")
axes[2].set_ylabel("one-block variance / ||g||^2")
axes[2].set_title("(c) the paper's distribution vs the optimum")
axes[2].legend(fontsize=7)
out = {"closed_vs_mc": check, "closed_inside_mc_ci": agree, "equal_budget": summary,
       "misa_over_lisa_variance_ratio": ratios, "module_uniform_over_lisa_variance_ratio": ratios_uniform,
       "single_block": single_ci, "norm_scale": norm_scale}
save_figure(fig, figure_path, out)

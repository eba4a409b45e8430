# %% [markdown]
# # Do IST's scores rank the layers that matter? (importance check without the training confound)
# `papers/ist/importance_check.py`: at the final checkpoint of the plain-LoRA run of each seed (every layer's
# adapter trained at every step, same data order), each layer's adapter is removed in turn and the loss increase
# ΔL on held-out test examples is measured; a layer's importance is the mean ΔL. IST says a high score marks a
# less important layer, so its claim predicts Spearman ρ(final score, importance) < 0. Left: scores vs
# importance per seed. Right: ρ per seed with a 95 % bootstrap-over-examples interval, the t interval over seeds,
# and the confounded version (ΔL at the IST run's own checkpoint, against its scores and its selection counts).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_importance_check.png"

# %%
import numpy as np

from core.claims import Verdict, paper_claim, verdict_cell
from core.plotting import figure, finish
from core.results import load_json
from core.stats import mde_of, t_interval
from core.study import study_path
from core.verdicts import decide

check = load_json(study_path("ist", "importance_check", profile, results_root))
seeds = check["seeds"]
arms = [a for a in ("ist", "ist_slr100") if all(a in s for s in seeds)]
table = {"reference_run": check["reference_run"], "held_out": check["held_out"]}
for arm in arms:
    rhos = [s[arm]["rho"] for s in seeds]
    iv = t_interval(rhos) if len(rhos) >= 2 else None
    mde = mde_of(rhos) if len(rhos) >= 3 else float("inf")   # core.stats.mde has no solution at df = 1
    table[arm] = {"rho_per_seed": rhos, "rho_interval_per_seed": [[s[arm]["rho_lo"], s[arm]["rho_hi"]] for s in seeds],
                  "p_permutation_per_seed": [s[arm]["p_permutation"] for s in seeds],
                  "rho_over_seeds": str(iv) if iv else None,
                  "verdict": decide(iv, None, mde, direction=-1) if iv else "one seed: no interval over seeds"}
confounded = [s for s in seeds if "confounded" in s]
table["confounded"] = {
    "seeds": [s["seed"] for s in confounded],
    "rho_scores_vs_own_checkpoint": [s["confounded"]["scores_vs_own"]["rho"] for s in confounded],
    "rho_selection_counts_vs_own_checkpoint": [s["confounded"]["counts_vs_own"]["rho"] for s in confounded]}
verdicts = [Verdict(paper_claim("ist", "importance_check"), table[arm]["verdict"],
                    f"ρ(score, importance) over seeds {table[arm]['rho_over_seeds'] or 'n/a (one seed)'}", arm)
            for arm in arms]
print(table)

# %%
fig, axes = figure(ncols=2, width=7.0, height=4.6)
for k, arm in enumerate(arms):
    for s in seeds:
        axes[0].scatter(s[arm]["scores"], s["importance"], s=14, color=f"C{k}", alpha=0.7,
                        label=f"{arm} (ρ per seed {', '.join(f'{r:.2f}' for r in table[arm]['rho_per_seed'])})"
                        if s is seeds[0] else None)
axes[0].set_xlabel("IST final score s_i (high = less important)")
axes[0].set_ylabel("importance: mean ΔL of removing layer i's adapter\n(plain-LoRA checkpoint, held-out)")
axes[0].legend(fontsize=9)
labels, values, lows, highs = [], [], [], []
for arm in arms:
    for s in seeds:
        labels.append(f"{arm} s{s['seed']}")
        values.append(s[arm]["rho"])
        lows.append(s[arm]["rho_lo"])
        highs.append(s[arm]["rho_hi"])
for key, name in (("scores_vs_own", "scores vs own ckpt"), ("counts_vs_own", "counts vs own ckpt")):
    for s in confounded:
        labels.append(f"{name} s{s['seed']}")
        values.append(s["confounded"][key]["rho"])
        lows.append(s["confounded"][key]["rho_lo"])
        highs.append(s["confounded"][key]["rho_hi"])
y = np.arange(len(labels))
axes[1].errorbar(values, y, xerr=[np.subtract(values, lows), np.subtract(highs, values)], fmt="o", capsize=3)
axes[1].axvline(0, color="grey", lw=0.8)
axes[1].set_yticks(y, labels, fontsize=9)
axes[1].set_xlabel("Spearman ρ [95 % bootstrap over held-out examples]")
finish(fig, figure_path, table, verdicts, "Do IST's scores rank the layers whose adapters matter? (held-out)")

# %% [markdown]
# ## Verdict
# Claim: IST's scores find the important layers (negative ρ). The verdict uses the t interval of the per-seed ρ
# (core.verdicts.decide, direction −1).

# %%
verdict_cell(verdicts)

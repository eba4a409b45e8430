# %% [markdown]
# # Do IST's scores rank the layers that matter? (importance check without the training confound)
# `papers/ist/importance_check.py`: at the final checkpoint of the plain-LoRA run of each seed (every layer's
# adapter trained at every step, same data order), each layer's adapter is removed in turn and the loss increase
# ΔL on held-out test examples is measured; a layer's importance is the mean ΔL. IST says a high score marks a
# less important layer, so its claim predicts Spearman ρ(final score, importance) < 0. Left: ρ per seed and the t
# interval over seeds, the interval the verdict uses (IST with the reference's score lr 10 decides; our score-lr-100
# variant is shown). Right: the scores against importance, every layer of every seed. The confounded version (ΔL
# at the IST run's own checkpoint, against its scores and selection counts) is in the table only.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_importance_check.png"

# %%
from core.analysis.stats import t_interval
from core.infra.paths import study_path
from core.infra.results import load_json
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish, seed_points

check = load_json(study_path("ist", "importance_check", profile, results_root))
seeds = check["seeds"]
arms = [a for a in ("ist", "ist_slr100") if all(a in s for s in seeds)]
rhos = {arm: [s[arm]["rho"] for s in seeds] for arm in arms}
intervals = {arm: t_interval(rhos[arm]) for arm in arms if len(rhos[arm]) >= 2}  # as papers/ist/claims.py
table = {"reference_run": check["reference_run"], "held_out": check["held_out"]}
for arm in arms:
    table[arm] = {
        "rho_per_seed": rhos[arm],
        "rho_over_seeds": intervals.get(arm),
        "rho_interval_per_seed": [[s[arm]["rho_lo"], s[arm]["rho_hi"]] for s in seeds],
        "p_permutation_per_seed": [s[arm]["p_permutation"] for s in seeds],
    }
confounded = [s for s in seeds if "confounded" in s]
table["confounded"] = {
    "seeds": [s["seed"] for s in confounded],
    "rho_scores_vs_own_checkpoint": [s["confounded"]["scores_vs_own"]["rho"] for s in confounded],
    "rho_selection_counts_vs_own_checkpoint": [s["confounded"]["counts_vs_own"]["rho"] for s in confounded],
}
verdicts = from_file("ist", ["importance_check"], profile)

# %%
labels = {"ist": "IST, score lr 10\n(decides)", "ist_slr100": "IST, score lr 100\n(ours, shown)"}
fig, axes = figure(2, 1, width=5.4, height=4.4)
seed_points(axes[0], rhos, intervals, ylabel="Spearman ρ(final score, importance)", labels=labels)
axes[0].axhline(0, color="black", lw=0.9)
axes[0].set_ylim(-1, 1)
axes[0].set_title("below 0: the paper's direction", fontsize=10)
for arm in arms:
    for s in seeds:
        axes[1].scatter(
            s[arm]["scores"],
            s["importance"],
            s=14,
            color=color(arm),
            alpha=0.7,
            label=labels[arm].split("\n")[0] if s is seeds[0] else None,
        )
axes[1].set_xlabel("IST final score s_i (high = less important)")
axes[1].set_ylabel("importance: mean ΔL of removing\nlayer i's adapter (held-out)")
axes[1].set_title("every layer of every seed", fontsize=10)
axes[1].legend()
finish(fig, figure_path, table, verdicts, "Do IST's scores rank the layers whose adapters matter? (held-out)")

# %%
verdict_cell(verdicts)

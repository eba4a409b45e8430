# %% [markdown]
# # Does IST's layer selection depart from uniform?
# IST draws k = 7 of the 30 layers every step ∝ σ(−s) without replacement, where s are its probe-updated scores
# (papers/ist/REFERENCE.md §2). If the scores separate the layers, some layers are selected more often than uniform
# draws would select them. Each run logs the layers it selected at every step (`ist_scores.jsonl`). Left: how often
# each layer was selected over the 310 steps (30 layers × the arm's seeds: 8 for IST and the control, 3 for
# score lr 100); the grey band is the 95 % range of one
# layer's count under uniform selection. Right: the dispersion χ²/df of those counts against uniform selection
# (`papers.ist.compare.uniform_selection_chi2`: Pearson's χ² scaled for k-of-L draws, 1 = uniform) per seed, and
# pooled over the seeds with its 95 % interval (the claims row; IST with the reference's score lr 10 decides).
# The random-selection control (`ist_random`) shows what uniform draws give on the same runs; our variant with
# score lr 100 (`ist_slr100`) what separated scores give.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_scores.png"

# %%
import numpy as np
from scipy import stats as sps

from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish, seed_points
from papers.ist.compare import SELECTION, Comparison, dispersion_interval, selection_tests

c = Comparison(profile, results_root)
arms = [a for a in ("ist_random", "ist", "ist_slr100") if a in c.present and a in SELECTION]
counts = {arm: c.selection_counts(arm) for arm in arms}
tests = {arm: selection_tests(counts[arm]) for arm in arms}
pooled = {arm: dispersion_interval(list(tests[arm].values())) for arm in arms}
labels = {
    "ist_random": "random layers\n(control)",
    "ist": "IST, score lr 10\n(decides)",
    "ist_slr100": "IST, score lr 100\n(ours, shown)",
}


def weight_ratio(scores) -> float:
    """Largest over smallest selection weight σ(−s) among the layers."""
    w = 1 / (1 + np.exp(np.asarray(scores)))
    return float(w.max() / w.min())


table = {"pooled_dispersion": pooled}
for arm in arms:
    for r in sorted((r for r in c.runs if r.name == arm), key=lambda r: r.seed):
        rows = r.read("ist_scores.jsonl")
        cnt, k = counts[arm][r.seed]
        chi2, df = tests[arm][r.seed]
        table[f"{arm}-s{r.seed}"] = {
            "score_lr": r.config["ist"]["lr"],
            "updates": sum(1 for row in rows if row["probe_losses"]),
            "final_spread": float(np.ptp(rows[-1]["scores"])),
            "final_weight_ratio": weight_ratio(rows[-1]["scores"]),
            "selection_counts": cnt.tolist(),
            "chi2_vs_uniform": chi2,
            "df": df,
            "p_vs_uniform": float(sps.chi2.sf(chi2, df)),
            "most_important_5": np.argsort(rows[-1]["scores"])[:5].tolist(),
        }
verdicts = from_file("ist", ["scores"], profile)

# %%
fig, axes = figure(2, 1, width=5.4, height=4.4)
steps = len(c.runs[0].read("ist_scores.jsonl")) if c.runs else 0
k = next(iter(counts[arms[0]].values()))[1]
n_layers = next(iter(counts[arms[0]].values()))[0].size
p = k / n_layers
mean, sd = steps * p, np.sqrt(steps * p * (1 - p))
axes[0].axhspan(mean - 1.96 * sd, mean + 1.96 * sd, color="0.85", zorder=0)
axes[0].axhline(mean, color="0.4", lw=1, ls="--")
seed_points(
    axes[0],
    {a: [int(v) for cnt, _ in counts[a].values() for v in cnt] for a in arms},
    ylabel=f"times a layer was selected of {steps} steps",
    over="layer of one seed",
    labels=labels,
)
axes[0].set_title(
    f"one point = one layer of one seed; grey: uniform 95 % ({k} of {n_layers} per step)", fontsize=10
)
seed_points(
    axes[1],
    {a: [t[0] / t[1] for t in tests[a].values()] for a in arms},
    pooled,
    ylabel="dispersion χ²/df vs uniform (1 = uniform)",
    labels=labels,
    legend_loc="upper left",
)
handles = axes[1].get_legend().legend_handles
axes[1].legend(handles, ["one seed", "seeds pooled, 95 % interval"], loc="upper left")
axes[1].axhline(1, color="black", lw=0.9)
axes[1].set_yscale("log")
axes[1].set_title("per seed, and pooled over seeds with 95 % interval", fontsize=10)
finish(
    fig, figure_path, table, verdicts, "Does IST's layer selection depart from uniform? Counts over 310 steps"
)

# %% [markdown]
# ## Reading
# The table gives, per run, the selection counts, their χ² against uniform selection and its p, and the final
# score spread and largest selection-weight ratio (σ(−s) of the most over the least likely layer at the end of the
# run; the scores start at 0, so the run's selection is closer to uniform than the final ratio says).

# %%
for run, row in table.items():
    if run != "pooled_dispersion":
        print(
            f"{run}: counts {min(row['selection_counts'])}-{max(row['selection_counts'])}, χ² {row['chi2_vs_uniform']:.1f} "
            f"(p {row['p_vs_uniform']:.2f}), final spread {row['final_spread']:.3g}, weight ratio {row['final_weight_ratio']:.3g}"
        )

# %%
verdict_cell(verdicts)

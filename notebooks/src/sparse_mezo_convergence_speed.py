# %% [markdown]
# # Does Sparse MeZO reach MeZO's accuracy in fewer steps?
# Paper (claims.yaml `convergence_speed`): S-MeZO reaches 70 % RTE in ~5,000 steps vs ~17,500 for MeZO (3.5×).
# Here (`compare_sentiment.yaml`): MiniLM on sentiment, 2,000 ZO steps, validation accuracy on 200 items every
# 100 steps, 3 seeds. The fixed design (primary): per seed, the target is MeZO's validation accuracy at its last
# evaluation; each arm's count is its first evaluation at or above it; speed-up = MeZO steps / S-MeZO steps. One
# panel per seed shows why it is degenerate on these curves (LOG.md 22): MeZO's curves are not monotone, so one
# seed's target is reached by no S-MeZO evaluation and another is MeZO's own value at the first evaluation.
# Last panel (secondary, post hoc, LOG.md 22): mean validation accuracy over the run, each S-MeZO arm − MeZO,
# paired t over seeds (dots: one seed; grey: ±MDE).
# Verdict: the claims file (`python -m core.reporting.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_convergence_speed.png"

# %%
import numpy as np
from matplotlib.lines import Line2D

from core.analysis.verdicts import compare_runs
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish, name
from papers.sparse_mezo.compare import POST_HOC_ARMS, SPEED_ARM, SentimentComparison
from papers.sparse_mezo.plots import column, seed_curves

data = SentimentComparison(profile, results_root)
steps_to = data.steps_to_mezo_final(SPEED_ARM)
verdicts = from_file("sparse_mezo", ["convergence_speed"], profile)

# %%
seeds = sorted(steps_to)
rows = -(-(len(seeds) + 1) // 2)  # two columns (wide enough for the per-seed titles): a panel per seed + post hoc
fig, axes = figure(2, rows, width=7.4, height=3.9)
axes = np.asarray(axes).ravel()
table = {
    "steps_to_mezo_final": {
        s: seed_curves(ax, data, s, ["mezo", SPEED_ARM], steps_to) for ax, s in zip(axes, seeds)
    }
}
ax = axes[len(seeds)]
post = {}
for i, arm in enumerate(a for a in POST_HOC_ARMS if data.comparable(a, "mezo")):
    c = compare_runs(data.runs, arm, "mezo", data.mean_val_accuracy)
    mezo = {r.seed: data.mean_val_accuracy(r) for r in data.runs if r.name == "mezo"}
    dots = [data.mean_val_accuracy(r) - mezo[r.seed] for r in data.runs if r.name == arm and r.seed in mezo]
    column(ax, i, dots, c.interval, c.mde, color(arm))
    post[arm] = {"interval": c.interval, "mde": c.mde, "per_seed": dots}
table["post_hoc_mean_val_accuracy_minus_mezo"] = post
ax.axhline(0, color="black", lw=0.8)
ax.set_xticks(range(len(post)), [f"{name(a)}\n− MeZO" for a in post])
ax.set_ylabel("mean validation accuracy difference")
ax.set_title("post hoc (secondary): mean validation accuracy over the run", loc="left", fontsize=10)
ax.legend(
    handles=[
        Line2D([], [], ls="", marker="o", color="0.4", label="one seed"),
        Line2D([], [], marker="D", color="black", label="95 % paired t-interval over the seeds both arms have"),
        Line2D([], [], lw=6, color="0.88", label="±MDE (80 % power)"),
    ],
    fontsize=9,
    loc="lower left",
)
for extra in axes[len(seeds) + 1 :]:
    extra.set_visible(False)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "Steps to MeZO's final validation accuracy, MeZO vs S-MeZO 0.8, per seed",
)

# %%
verdict_cell(verdicts)

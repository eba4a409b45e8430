# %% [markdown]
# # Does zeroth-order noise hurt large weights more than small ones? (Sparse MeZO §3)
# Paper (claims.yaml `noise`): "the estimation error will hurt more when adding to large weights instead of small
# weights" (no figure values reachable, so only the sign is compared). Here (`papers/sparse_mezo/noise.py`):
# pre-trained SmolLM2-135M and all-MiniLM-L6-v2, one fixed batch of 8 sentiment examples, 40 SPSA directions z;
# each tensor's entries split into magnitude quintiles (Q1 smallest |θ|). The same noise σ·m⊙z (σ = 1e-2) put on
# one quintile; per direction, ΔL(Q5) − ΔL(Q1). Left (primary, per model): the antithetic ΔL
# (ΔL(+σ m⊙z) + ΔL(−σ m⊙z))/2, whose first-order term cancels (LOG.md 18): the curvature harm the argument is
# about. Right (secondary): the one-sided ΔL (the old measure) and our follow-up, MeZO's update kept on Q1 vs Q5
# (ΔL Q1 − Q5; negative = the update on the smallest weights lowers the loss more). Dots: one direction; black:
# the paired t interval over the directions the verdict uses; grey: ±MDE.
# Verdict: the claims file (`python -m core.reporting.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_noise.png"

# %%
import numpy as np
from matplotlib.lines import Line2D

from core.analysis.stats import mde_of, paired_interval
from core.infra.paths import study_path
from core.infra.results import load_json
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish, name
from papers.sparse_mezo.claims import noise_tests
from papers.sparse_mezo.plots import column

data = load_json(study_path("sparse_mezo", "noise", profile, results_root))
verdicts = from_file("sparse_mezo", ["noise"], profile)
models = list(data["models"])

# %%
fig, axes = figure(3, len(models), width=5.4, height=3.9)
axes = np.asarray(axes).reshape(len(models), 3)
table = {}
for row, model in zip(axes, models):
    res = data["models"][model]
    gsq = np.array([d["grad_sq"] for d in res["draws"]])[0]
    table[model] = {"grad_share": (gsq / res["grad_sq_total"]).tolist(), "tests": {}}
    for ax, (metric, ours, comparator, primary, _) in zip(row, noise_tests(res)):
        iv, mde = paired_interval(ours, comparator), mde_of(ours, comparator)
        dots = ours - comparator
        column(ax, 0, dots, iv, mde, "C0" if primary else "0.45", hollow=not primary)
        top = max(mde, np.abs(dots).max())
        table[model]["tests"][metric] = {"interval": iv, "mde": mde, "q1_mean": float(comparator.mean())}
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylim(-1.1 * top, 1.1 * top)
        ax.set_xlim(-0.6, 0.6)
        ax.set_xticks([0], [metric.replace(", ", "\n")])
        ax.set_ylabel("loss change difference")
        ax.grid(axis="x", visible=False)
        ax.set_title(f"{name(model)}: {'primary' if primary else 'secondary'}", loc="left", fontsize=10)
    row[0].legend(
        handles=[
            Line2D([], [], ls="", marker="o", color="C0", label=f"one of {len(res['draws'])} directions"),
            Line2D([], [], marker="D", color="black", label="95 % paired t-interval"),
            Line2D([], [], lw=6, color="0.88", label="±MDE (80 % power)"),
        ],
        fontsize=9,
        loc="upper right",
    )
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "Does equal noise hurt the largest (Q5) weights more than the smallest (Q1)?",
)

# %%
verdict_cell(verdicts)

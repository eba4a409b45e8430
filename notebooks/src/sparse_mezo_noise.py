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
# Verdict: the claims file (`python -m core.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_noise.png"

# %%
import numpy as np

from core.claims import from_file, verdict_cell
from core.plotting import figure, finish, name
from core.results import load_json
from core.stats import mde_of, paired_interval
from core.study import study_path
from papers.sparse_mezo.claims import noise_tests
from papers.sparse_mezo.plots import column

data = load_json(study_path("sparse_mezo", "noise", profile, results_root))
verdicts = from_file("sparse_mezo", ["noise"], profile)
models = list(data["models"])

# %%
fig, axes = figure(2, len(models), width=6.6, height=3.9)
axes = np.asarray(axes).reshape(len(models), 2)
table = {}
for (ax_p, ax_s), model in zip(axes, models):
    res = data["models"][model]
    gsq = np.array([d["grad_sq"] for d in res["draws"]])[0]
    table[model] = {"grad_share": (gsq / res["grad_sq_total"]).tolist(), "tests": {}}
    tests = noise_tests(res)
    for ax, chosen in ((ax_p, [t for t in tests if t[3]]), (ax_s, [t for t in tests if not t[3]])):
        top = 0.0
        for i, (metric, ours, comparator, primary, _) in enumerate(chosen):
            iv, mde = paired_interval(ours, comparator), mde_of(ours, comparator)
            dots = ours - comparator
            column(ax, i, dots, iv, mde, "C0" if primary else "0.45", hollow=not primary)
            top = max(top, mde, np.abs(dots).max())
            table[model]["tests"][metric] = {"interval": iv, "mde": mde, "q1_mean": float(comparator.mean())}
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylim(-1.1 * top, 1.1 * top)
        ax.set_xlim(-0.6, len(chosen) - 0.4)
        ax.set_xticks(range(len(chosen)), [t[0].replace(", ", "\n") for t in chosen])
        ax.set_ylabel("loss change difference")
        ax.grid(axis="x", visible=False)
    ax_p.set_title(
        f"{name(model)}: primary (dot: one of {len(res['draws'])} directions)", loc="left", fontsize=10
    )
    ax_s.set_title(f"{name(model)}: secondary", loc="left", fontsize=10)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "Does equal noise hurt the largest (Q5) weights more than the smallest (Q1)?",
)

# %%
verdict_cell(verdicts)

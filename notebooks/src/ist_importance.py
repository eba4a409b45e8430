# %% [markdown]
# # v002: do IST's scores rank as important the layers whose LoRA update is largest? (one 40-step run)
# IST's score s_i rises when suppressing layer i's adapter *lowers* the probe loss, so low s = important
# (papers/ist/REFERENCE.md §2). One 40-step LoRA + IST run on the instruction task (7 score updates, seed 0; the
# v002 design, superseded by the deciding comparison and the importance check). Left: every layer's score over the
# run. Right: the final score against the layer's LoRA update norm ‖s·BA‖ (mean over steps), coloured by how often
# the layer was selected. The claims row: Spearman ρ(final score, update norm) with its Fisher-z interval over the
# 30 layers (IST expects ρ < 0); one run has no seed-level interval, so the design detects no effect size (MDE ∞).
# LISA's LoRA run on the same model and task (`lisa/weight_norms/smollm2_lora`) gives the embedding/median-layer
# update skew in the table. Computed in `papers/ist/compare.py` (`importance_v002`), as the claims row.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_importance.png"

# %%
import matplotlib.pyplot as plt
import numpy as np

from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish
from papers.ist.compare import importance_v002

v = importance_v002(profile, results_root)
scores, counts, layer_norm = v["scores"], v["counts"], v["layer_norm"]
table = {
    "final_scores": scores[-1].tolist(),
    "score_range": float(np.ptp(scores[-1])),
    "updates": int(scores.shape[0]),
    "selection_counts": counts.tolist(),
    "spearman_score_vs_update_norm": v["rho"],
    "lisa_lora_update_skew": v["lisa_lora_update_skew"],
}
verdicts = from_file("ist", ["importance"], profile)

# %%
fig, axes = figure(2, 1, width=5.4, height=4.4)
steps = np.arange(1, scores.shape[0] + 1) * v["run"].config["ist"]["interval"]
for i in range(scores.shape[1]):
    axes[0].plot(steps, scores[:, i], color=plt.cm.viridis(i / max(scores.shape[1] - 1, 1)), lw=1)
axes[0].set_xlabel("optimizer step")
axes[0].set_ylabel("IST score (low = important)")
axes[0].set_title("score per layer (dark: layer 0, light: last)", fontsize=10)
points = axes[1].scatter(layer_norm, scores[-1], c=counts, cmap="viridis", s=40)
fig.colorbar(points, ax=axes[1], label="times selected")
axes[1].set_xscale("log")
axes[1].set_xlabel("layer's mean LoRA update norm")
axes[1].set_ylabel("final IST score (low = important)")
rho = v["rho"]
axes[1].set_title(f"ρ = {rho.estimate:.2f} [{rho.lo:.2f}, {rho.hi:.2f}] (Fisher z, 30 layers)", fontsize=10)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "v002: do IST's scores follow the layers' update norms? One 40-step run",
)

# %%
verdict_cell(verdicts)

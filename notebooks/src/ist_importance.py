# %% [markdown]
# # IST layer importance: score trajectories per layer, next to LISA's per-layer LoRA weight-norm skew
# IST's score s_i rises when suppressing layer i's adapter *lowers* the probe loss, so low s = important
# (papers/ist/REFERENCE.md §2). One 40-step LoRA + IST run on the instruction task (7 score updates, seed 0;
# 60 steps before v002).
# Middle: the same run's per-layer LoRA update norm ‖s·BA‖ (mean over steps) and LISA's LoRA run on the same
# model and task (`lisa/weight_norms/smollm2_lora`, all 7 linear modules + embedding adapted), whose skew is
# LISA's §3.1 observation. Right: how often each layer was selected for training. Verdict: do IST's scores
# rank as important (low score) the layers whose LoRA update is largest? Spearman ρ between final score and the run's
# per-layer update norm, with a 95 % Fisher-z interval over layers (IST expects ρ < 0). With one run and no seed
# interval the verdict is inconclusive, as in the claims table.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_importance.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats as sps

from core.claims import Verdict, fmt_interval, paper_claim, verdict_cell
from core.norms import mean_block_norms, norm_skew
from core.plotting import color, figure, finish
from core.results import load_runs
from core.stats import Interval
from core.verdicts import inconclusive

run = load_runs("ist", "importance", profile, results_root)[0]
scores = np.array(run.result["score_history"])  # updates x layers
n_layers = scores.shape[1]
counts = np.zeros(n_layers)
for h in run.result["switch_history"]:
    counts[[int(b[5:]) for b in h["active"]]] += 1
ist_blocks, ist_norms = mean_block_norms(run.weight_norms, "update")
lisa_lora = [r for r in load_runs("lisa", "weight_norms", profile, results_root) if r.name == "smollm2_lora"][
    0
]
lisa_blocks, lisa_norms = mean_block_norms(lisa_lora.weight_norms, "update")
layer_norm = np.array([dict(zip(ist_blocks, ist_norms))[f"layer{i}"] for i in range(n_layers)])
final = scores[-1]
rho = sps.spearmanr(final, layer_norm).statistic
se = 1.06 / np.sqrt(n_layers - 3)  # Fisher z of Spearman's rho (Fieller et al. 1957)
rho_iv = Interval(
    float(rho),
    float(np.tanh(np.arctanh(rho) - 1.96 * se)),
    float(np.tanh(np.arctanh(rho) + 1.96 * se)),
    n_layers,
    "Fisher-z",
)
table = {
    "final_scores": final.tolist(),
    "score_range": float(np.ptp(final)),
    "updates": int(scores.shape[0]),
    "selection_counts": counts.tolist(),
    "spearman_score_vs_update_norm": rho_iv,
    "lisa_lora_update_skew": norm_skew(lisa_blocks, lisa_norms),
}
verdicts = [
    Verdict(
        paper_claim("ist", "importance"),
        inconclusive(float("inf")),
        f"one run: Spearman ρ(score, update norm) {fmt_interval(rho_iv, over='layers')} after "
        f"{scores.shape[0]} score updates (final scores span {np.ptp(final):.3f}); no seed interval",
        "scores vs update norms",
    )
]

# %%
fig, axes = figure(3, 1, width=4.9, height=4.4)
steps = np.arange(1, scores.shape[0] + 1) * run.config["ist"]["interval"]
for i in range(n_layers):
    axes[0].plot(steps, scores[:, i], color=plt.cm.viridis(i / max(n_layers - 1, 1)), lw=1)
axes[0].set_xlabel("optimizer step")
axes[0].set_ylabel("IST score (low = important)")
axes[0].set_title("score per layer (dark: layer 0, light: last)")
axes[1].plot(range(n_layers), layer_norm, "o-", color=color("ist"), label="IST run: LoRA update norm")
lisa_layers = [v for b, v in zip(lisa_blocks, lisa_norms) if b.startswith("layer")]
axes[1].plot(
    range(len(lisa_layers)), lisa_layers, "s-", color=color("lora"), label="LISA's LoRA run: update norm"
)
emb = [v for b, v in zip(lisa_blocks, lisa_norms) if b == "embed"]
if emb:
    axes[1].axhline(
        emb[0],
        color=color("lora"),
        ls=":",
        label=f"LISA's LoRA run: embedding ({table['lisa_lora_update_skew']:.1f}× skew)",
    )
axes[1].set_yscale("log")
axes[1].set_xlabel("layer")
axes[1].set_ylabel("mean update norm over steps")
axes[1].legend(fontsize=9)
axes[1].set_title("per-layer LoRA update norms")
axes[2].scatter(layer_norm, final, c=counts, cmap="viridis", s=40)
axes[2].set_xscale("log")
axes[2].set_xlabel("IST run: layer's mean update norm")
axes[2].set_ylabel("final IST score (low = important)")
axes[2].set_title(
    f"score vs update norm (colour: times selected of {len(run.result['switch_history'])})", fontsize=10
)
finish(fig, figure_path, table, verdicts, "IST layer importance on SmolLM2-135M, instruction data")

# %%
verdict_cell(verdicts)

# %% [markdown]
# # IST layer importance: score trajectories per layer, next to LISA's per-layer LoRA weight-norm skew
# IST's score s_i rises when suppressing layer i's adapter *lowers* the probe loss, so low s = important
# (papers/ist/REFERENCE.md §2). One 40-step LoRA + IST run on the instruction task (7 score updates, seed 0; 60 steps before v002).
# Middle: the same run's per-layer LoRA update norm ‖s·BA‖ (mean over steps) and LISA's LoRA run on the same
# model and task (`lisa/weight_norms/smollm2_lora`, all 7 linear modules + embedding adapted), whose skew is
# LISA's §3.1 observation. Right: how often each layer was selected for training.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_importance.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.norms import mean_block_norms, norm_skew
from core.results import load_runs, save_figure

run = load_runs("ist", "importance", profile, results_root)[0]
scores = np.array(run.result["score_history"])            # updates x layers
n_layers = scores.shape[1]
counts = np.zeros(n_layers)
for h in run.result["switch_history"]:
    counts[[int(b[5:]) for b in h["active"]]] += 1
ist_blocks, ist_norms = mean_block_norms(run.weight_norms, "update")
lisa_lora = [r for r in load_runs("lisa", "weight_norms", profile, results_root) if r.name == "smollm2_lora"][0]
lisa_blocks, lisa_norms = mean_block_norms(lisa_lora.weight_norms, "update")
layer_norm = {b: v for b, v in zip(ist_blocks, ist_norms) if b.startswith("layer")}
final = scores[-1]
order = np.argsort(final)
table = {"final_scores": final.tolist(), "most_important_5": order[:5].tolist(), "least_important_5": order[-5:].tolist(),
         "score_range": float(final.max() - final.min()), "updates": int(scores.shape[0]),
         "selection_counts": counts.tolist(),
         "spearman_score_vs_ist_update_norm": float(np.corrcoef(np.argsort(np.argsort(final)),
                                                                np.argsort(np.argsort([layer_norm[f"layer{i}"] for i in range(n_layers)])))[0, 1]),
         "lisa_lora_update_skew": norm_skew(lisa_blocks, lisa_norms)}

# %%
fig, axes = plt.subplots(1, 3, figsize=(18, 4.6))
steps = np.arange(1, scores.shape[0] + 1) * run.config["ist"]["interval"]
for i in range(n_layers):
    axes[0].plot(steps, scores[:, i], color=plt.cm.viridis(i / max(n_layers - 1, 1)), lw=1)
axes[0].set_xlabel("optimizer step")
axes[0].set_ylabel("IST score s_i (low = important)")
axes[0].set_title("score trajectories (colour: layer 0 dark -> last light)")
axes[1].plot(range(n_layers), [layer_norm[f"layer{i}"] for i in range(n_layers)], "o-", label="IST run: LoRA update norm")
lisa_layers = [v for b, v in zip(lisa_blocks, lisa_norms) if b.startswith("layer")]
axes[1].plot(range(len(lisa_layers)), lisa_layers, "s-", label="LISA's LoRA run: update norm")
emb = [v for b, v in zip(lisa_blocks, lisa_norms) if b == "embed"]
if emb:
    axes[1].axhline(emb[0], color="C1", ls=":", label=f"LISA's LoRA run: embedding (skew {table['lisa_lora_update_skew']:.1f}x)")
axes[1].set_yscale("log")
axes[1].set_xlabel("layer")
axes[1].set_ylabel("mean update norm")
axes[1].legend(fontsize=7)
axes[1].set_title("per-layer LoRA update norms")
axes[2].bar(range(n_layers), counts, color=[plt.cm.coolwarm((s - final.min()) / (np.ptp(final) or 1)) for s in final])
axes[2].set_xlabel("layer (colour: final score, blue = important)")
axes[2].set_ylabel("steps selected for training")
axes[2].set_title(f"selection counts over {len(run.result['switch_history'])} steps")
save_figure(fig, figure_path, table)

# %%
print({k: v for k, v in table.items() if k not in ("final_scores", "selection_counts")})

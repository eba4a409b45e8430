# %% [markdown]
# # LISA Fig. 2: layer-wise weight norms, LoRA vs full fine-tuning (`gpt2_lora_ft_weight`, `LLaMA-2-7B_lora_ft_weight`)
# Paper claim (§3.1): under LoRA the embedding / LM-head norms exceed the middle layers' "often by a factor
# of hundreds"; under full FT the pattern "was not salient". The metric is the mean over training steps of a
# per-layer norm. We show both readings recorded by `core.norms`: the norm of the *update* of each block
# (LoRA: merged ΔW = s·BA) and the norm of its *trainable* weights, and report the skew
# = (embedding or head) / median(middle layers).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_weight_norms.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.norms import mean_block_norms, norm_skew
from core.results import load_runs, save_figure

runs = {r.name: r for r in load_runs("lisa", "weight_norms", profile, results_root)}
full_ft = [r for r in load_runs("lisa", "loss_curves", profile, results_root) if r.name == "full" and r.seed == 0]
runs.update({"smollm2_full": full_ft[0]} if full_ft else {})  # same setting; logged its norms


def mean_norms(run, kind):
    blocks, values = mean_block_norms(run.weight_norms, kind)
    return blocks, np.array(values)


# %%
pairs = [p for p in (("smollm2", "SmolLM2-135M (Llama arch)"), ("gpt2arch", "GPT-2 arch (random init)"))
         if f"{p[0]}_full" in runs]
fig, axes = plt.subplots(2, len(pairs), figsize=(6.5 * len(pairs), 7), squeeze=False)
table = {}
for col, (key, title) in enumerate(pairs):
    for row, kind in enumerate(("update", "weight")):
        ax = axes[row][col]
        for method in ("full", "lora"):
            blocks, vals = mean_norms(runs[f"{key}_{method}"], kind)
            ax.plot(range(len(blocks)), vals, marker="o", ms=3, label=method)
            table[f"{key}/{method}/{kind}_skew"] = norm_skew(blocks, vals)
        ax.set_xticks(range(len(blocks)))
        ax.set_xticklabels([b.replace("layer", "") for b in blocks], rotation=90, fontsize=6)
        ax.set_yscale("log")
        ax.set_title(f"{title}: mean {kind} norm")
        ax.legend()
fig.tight_layout()
save_figure(fig, figure_path, table)

# %% [markdown]
# Skew = max(embedding, head) / median(middle layers), per model, method and reading:

# %%
for k, v in table.items():
    print(f"{k:35s} {v:10.2f}")

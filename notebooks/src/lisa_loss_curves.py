# %% [markdown]
# # LISA: training loss of FT, LoRA, GaLore and LISA (paper: `*_gpt4_loss_step`)
# Paper claim (LISA §4.2, Fig. "LLaMA-2-7B_gpt4_loss_step" and siblings): on Alpaca-GPT4, LISA's loss falls
# as fast as or faster than full fine-tuning, and below LoRA and GaLore. Here: SmolLM2-135M-Instruct on the
# bigbench natural_instructions split (`cpu` profile), 3 seeds, mean with 95% bootstrap bands over seeds.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_loss_curves.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure
from core.stats import bootstrap_ci, curve_band, smooth

runs = load_runs("lisa", "loss_curves", profile, results_root)
methods = ["full", "lora", "galore", "lisa"]
labels = {"full": "Full FT", "lora": "LoRA", "galore": "GaLore", "lisa": "LISA (E+H+2L)"}

# %%
fig, ax = plt.subplots(figsize=(7, 4.2))
table = {}
for m in methods:
    curves = [smooth(r.losses, 5) for r in runs if r.name == m]
    band = curve_band(curves)
    steps = np.arange(1, len(band["mean"]) + 1)
    ax.plot(steps, band["mean"], label=labels[m])
    ax.fill_between(steps, band["lo"], band["hi"], alpha=0.2)
    final = [np.mean(r.losses[-5:]) for r in runs if r.name == m]
    evals = [r.result["eval_loss"] for r in runs if r.name == m]
    table[m] = {"final_train_loss": bootstrap_ci(final), "eval_loss": bootstrap_ci(evals), "seeds": len(final)}
ax.set_xlabel("optimizer step")
ax.set_ylabel("training loss (5-step moving average)")
ax.set_title(f"SmolLM2-135M, instruction data, {len(curves)} seeds, 95% CI")
ax.legend()
save_figure(fig, figure_path, table)

# %% [markdown]
# Final training loss (mean of the last 5 steps) and validation loss: mean [95% CI] over seeds.

# %%
for m, row in table.items():
    f, e = row["final_train_loss"], row["eval_loss"]
    print(f"{labels[m]:15s} train {f[0]:.4f} [{f[1]:.4f}, {f[2]:.4f}]   eval {e[0]:.4f} [{e[1]:.4f}, {e[2]:.4f}]")

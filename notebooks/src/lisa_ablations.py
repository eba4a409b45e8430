# %% [markdown]
# # LISA ablations: number of sampled layers γ (`layers_ablation`) and sampling period K (`K_ablation`)
# Paper (§4.5, App. A.4): "more sampling layers and higher sampling period lead to better performance";
# γ = 8 gave the lowest loss on LLaMA-2-7B (Fig. 8), K = 13 was optimal over 122 steps (Fig. 9).
# One seed per setting at the `cpu` scale; γ = 2 with the loss curves' K (5 before v002, 4 since) is seed 0 of the
# loss-curve runs.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_ablations.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure
from core.stats import smooth

base = next(r for r in load_runs("lisa", "loss_curves", profile, results_root) if r.name == "lisa" and r.seed == 0)
gammas = load_runs("lisa", "layers_ablation", profile, results_root) + [base]
ks = load_runs("lisa", "K_ablation", profile, results_root) + [base]

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
table = {"gamma": {}, "K": {}}
for ax, runs, key, label in ((axes[0], gammas, "gamma", "γ"), (axes[1], ks, "interval", "K")):
    for r in sorted(runs, key=lambda r: r.config["lisa"][key]):
        v = r.config["lisa"][key]
        ax.plot(smooth(r.losses, 5), label=f"{label} = {v}")
        table["gamma" if key == "gamma" else "K"][v] = {"final_train_loss": float(np.mean(r.losses[-5:])),
                                                          "eval_loss": r.result["eval_loss"]}
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (5-step moving average)")
    ax.legend()
axes[0].set_title(f"layers_ablation (K = {base.config['lisa']['interval']})")
axes[1].set_title(f"K_ablation (γ = {base.config['lisa']['gamma']})")
save_figure(fig, figure_path, table)

# %%
for k, rows in table.items():
    for v, row in sorted(rows.items()):
        print(f"{k} = {v:3d}: final train {row['final_train_loss']:.4f}, eval {row['eval_loss']:.4f}")

# %% [markdown]
# # LISA seed variance (`random_variance`, Table 7)
# Paper (§4.5): across 3 layer-selection seeds the MT-Bench gap is within 0.13. We cannot run MT-Bench offline;
# we show the spread of training loss, validation loss and downstream accuracy across the 3 LISA seeds of
# the loss-curve runs, next to the same spread for full FT (whose seeds change only data order).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_random_variance.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure
from core.stats import smooth

runs = load_runs("lisa", "loss_curves", profile, results_root)
fig, ax = plt.subplots(figsize=(7, 4))
table = {}
for m, style in (("lisa", "-"), ("full", ":")):
    group = [r for r in runs if r.name == m]
    for r in group:
        ax.plot(smooth(r.losses, 5), style, label=f"{m} seed {r.seed}")
    evals = [r.result["eval_loss"] for r in group]
    table[m] = {"eval_loss_range": float(max(evals) - min(evals)),
                "final_train_loss_range": float(np.ptp([np.mean(r.losses[-5:]) for r in group])),
                "layers_seen": {r.seed: sorted({l for h in (r.result.get("lisa_history") or []) for l in h["active"]})
                                for r in group}}
ax.set_xlabel("optimizer step")
ax.set_ylabel("training loss (5-step moving average)")
ax.legend(fontsize=7)
save_figure(fig, figure_path, table)

# %%
for m, row in table.items():
    print(m, {k: v for k, v in row.items() if k != "layers_seen"})

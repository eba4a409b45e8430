# %% [markdown]
# # Optimizer state across layer switches: ours vs the reference LISA callback
# LMFlow's callback toggles `requires_grad` but never frees AdamW state, so memory grows with every newly
# visited layer (LMFlow issues #768, #778; papers/lisa/REFERENCE.md §2). `core.callbacks.LisaCallback` drops
# the state of layers that go inactive. 50 switches (K = 1), γ = 1, same seed: optimizer-state bytes after
# every switch and the measured peak of the step at every 10th switch (`papers/lisa/optimizer_state.py`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_optimizer_state.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
from core.results import load_json, save_figure

res = load_json(Path(results_root) / "lisa" / "optimizer_state" / profile / "cpu.json")
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
table = {}
for key, label in (("ours", "LisaCallback (frees state)"), ("reference", "reference style (keeps state)")):
    rows = res[key]
    axes[0].plot([r["switch"] for r in rows], [r["optimizer_state_mb"] for r in rows], label=label)
    peaks = [(r["switch"], r["peak_mb"]) for r in rows if "peak_mb" in r]
    axes[1].plot(*zip(*peaks), marker="o", label=label)
    table[key] = {"optimizer_state_mb_first": rows[0]["optimizer_state_mb"],
                  "optimizer_state_mb_last": rows[-1]["optimizer_state_mb"],
                  "peak_mb_first": peaks[0][1], "peak_mb_last": peaks[-1][1]}
axes[0].set_xlabel("switch")
axes[0].set_ylabel("AdamW state (MB)")
axes[1].set_xlabel("switch")
axes[1].set_ylabel("measured peak of the step (MB)")
axes[0].legend()
fig.suptitle(f"{res['setting']['model']}, gamma = {res['setting']['gamma']}, {res['device']}")
save_figure(fig, figure_path, table)

# %%
for k, v in table.items():
    print(k, {a: round(b, 1) for a, b in v.items()})

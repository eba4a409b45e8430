# %% [markdown]
# # LISA time cost (paper: `time_cost`, Fig. 4)
# Paper (§4.1): single-iteration time on LLaMA-2-7B, batch 1: LISA ~2.9x faster than full FT and ~1.5x faster
# than LoRA. Here: median step time of each method measured side by side in one `make bench` process
# (same model, same batch), on CPU and, when a GPU bench exists, on the GPU.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_time_cost.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.results import load_json, save_figure

names = [f"{profile}-cpu", f"{profile}-cuda", "gpu-cuda"]  # the GPU files come from an H100 lent to one session
benches = {n: load_json(p) for n in names if (p := Path(results_root) / "bench" / f"{n}.json").exists() or n == names[0]}
methods = ["inference", "full", "lora", "galore", "lisa"]
fig, axes = plt.subplots(1, len(benches), figsize=(5.5 * len(benches), 4), squeeze=False)
table = {}
for ax, (dev, bench) in zip(axes[0], benches.items()):
    rows = {r["method"]: r for r in bench["rows"]}
    ax.bar(methods, [rows[m]["step_s_median"] for m in methods], color=["grey", "C0", "C1", "C2", "C3"])
    ax.set_ylabel("median step time (s)")
    ax.set_title(f"{dev}: {bench['setting']['model']}, batch {bench['setting']['batch']}x{bench['setting']['seq']}")
    table[dev] = {"step_s": {m: rows[m]["step_s_median"] for m in methods},
                  "full_over_lisa": rows["full"]["step_s_median"] / rows["lisa"]["step_s_median"],
                  "lora_over_lisa": rows["lora"]["step_s_median"] / rows["lisa"]["step_s_median"]}
save_figure(fig, figure_path, table)

# %%
for dev, row in table.items():
    print(f"{dev}: full/LISA = {row['full_over_lisa']:.2f}x (paper ~2.9x), LoRA/LISA = {row['lora_over_lisa']:.2f}x (paper ~1.5x)")

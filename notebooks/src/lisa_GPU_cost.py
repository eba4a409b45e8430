# %% [markdown]
# # LISA memory cost (paper: `GPU_cost`, Table 1 / Fig. 3)
# Left: peak memory of one training step per method, measured (`make bench`: CPU profiler events, or CUDA peak
# stats when a GPU bench exists) next to the analytic model of `core.memory` (same keys: weights, gradients,
# optimizer state, activations). Right: the analytic model extrapolated to the paper's models at the paper's
# setting (batch 1, 1024 tokens, bf16 weights/gradients/AdamW state as LMFlow loads them, no checkpointing,
# no flash-attention, so attention probabilities are saved).
# Paper numbers quoted: LLaMA-2-70B LISA E+H+2L 75 GB and LoRA r128 79 GB (§4.1 text; 4×80 GB GPUs with model
# parallelism, so per-GPU), LLaMA-2-7B full FT "at least 60 GB" (abstract), LISA 7B fits a 24 GB GPU (Fig. 3).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_GPU_cost.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.memory import MB, PAPER_MODELS, ArchSpec, predict_memory
from core.models import resolve
from core.results import load_json, save_figure
from transformers import AutoConfig

# bench files: <bench profile>-<device>.json; the GPU ones were measured on an H100 lent to one session
names = [f"{profile}-cpu", f"{profile}-cuda", "gpu-cuda"]
benches = {n: load_json(p) for n in names if (p := Path(results_root) / "bench" / f"{n}.json").exists() or n == names[0]}
methods = ["inference", "full", "lora", "galore", "lisa"]


def analytic_mb(bench, method, device):
    """The analytic model for a bench row, recomputed here so every bench file is judged by the current model
    (CUDA fp32 SDPA saves the attention probabilities; see papers/lisa/LOG.md item 7)."""
    st = bench["setting"]
    spec = ArchSpec.from_config(AutoConfig.from_pretrained(resolve(st["model"])))
    return predict_memory(spec, method, st["batch"], st["seq"], st["gamma"], st["lora_r"],
                          galore_rank=st["galore_rank"] if method == "galore" else 0,
                          attention_scores=device == "cuda")["total"] / MB

# %%
GB = 1024 ** 3
variants = {"Full FT": ("full", {}), "LoRA r128": ("lora", {"lora_r": 128}), "LISA E+H": ("lisa", {"gamma": 0}),
            "LISA E+H+2L": ("lisa", {"gamma": 2}), "LISA E+H+4L": ("lisa", {"gamma": 4})}
bf16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2)
extrap = {name: {v: predict_memory(spec, m, 1, 1024, **kw, **bf16, attention_scores=True)["total"] / GB for v, (m, kw) in variants.items()}
          for name, spec in PAPER_MODELS.items()}

fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
width = 0.8 / (2 * len(benches))
x = np.arange(len(methods))
for j, (dev, bench) in enumerate(benches.items()):
    rows = {r["method"]: r for r in bench["rows"]}
    axes[0].bar(x + (2 * j) * width, [rows[m]["peak_mb"] for m in methods], width, label=f"measured ({dev})")
    axes[0].bar(x + (2 * j + 1) * width, [analytic_mb(bench, m, bench["device"]) for m in methods], width,
                label=f"analytic ({dev})", alpha=0.6)
axes[0].set_xticks(x + width * (len(benches) - 0.5))
axes[0].set_xticklabels(methods)
axes[0].set_ylabel("peak memory (MB)")
axes[0].set_yscale("log")
axes[0].set_title("SmolLM2-135M: " + ", ".join(f"{n} = batch {b['setting']['batch']}x{b['setting']['seq']}"
                                              for n, b in benches.items()), fontsize=8)
axes[0].legend(fontsize=8)
names = list(extrap)
for k, v in enumerate(variants):
    axes[1].bar(np.arange(len(names)) + k * 0.16, [extrap[n][v] for n in names], 0.16, label=v)
axes[1].axhline(24, color="k", ls=":", lw=1)
axes[1].set_xticks(np.arange(len(names)) + 0.32)
axes[1].set_xticklabels([PAPER_MODELS[n].name for n in names], rotation=20, fontsize=8)
axes[1].set_yscale("log")
axes[1].set_ylabel("predicted peak (GB, one device)")
axes[1].legend(fontsize=7)
axes[1].set_title("analytic model at the paper's setting (dotted: 24 GB)")
table = {"measured_vs_analytic": {dev: {r["method"]: {"measured_mb": r["peak_mb"],
                                                      "analytic_mb": analytic_mb(b, r["method"], b["device"]),
                                                      "rel_err": analytic_mb(b, r["method"], b["device"]) / r["peak_mb"] - 1}
                                        for r in b["rows"]} for dev, b in benches.items()},
         "extrapolated_gb": extrap}
save_figure(fig, figure_path, table)

# %%
for dev, rows in table["measured_vs_analytic"].items():
    for m, r in rows.items():
        print(f"{dev:5s} {m:10s} measured {r['measured_mb']:9.1f} MB  analytic {r['analytic_mb']:9.1f} MB  ({r['rel_err']:+.1%})")
print()
for n, row in extrap.items():
    print(f"{PAPER_MODELS[n].name:15s}", "  ".join(f"{v}: {g:7.1f} GB" for v, g in row.items()))

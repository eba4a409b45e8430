# %% [markdown]
# # MISA memory: MISA across δ vs LISA γ vs BAdam vs LoRA vs full FT
# Left: peak memory of one training step on SmolLM2-135M (batch 4 x 64, fp32, CPU profiler; same procedure as
# `make bench`) next to the analytic model of `core.memory` evaluated on the *actual* active set (trainable
# parameters inside the layers and the lowest active layer, since MISA and BAdam freeze the embeddings and
# autograd records nothing below the lowest active layer). Right: the analytic model at the paper's setting
# (LLaMA-3-8B and LLaMA-2-7B, batch 2 x 512 as MISA's scripts, bf16 weights/gradients, fp32 AdamW state and
# master copy of the trainable part, worst case lowest layer = 0). The paper gives no memory numbers we could
# reach (papers/misa/claims.yaml: "MISA beats LoRA on long sequences; beats layer-wise methods when δ is small").

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_memory.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.memory import PAPER_MODELS, predict_memory
from core.results import load_json, save_figure

bench = load_json(Path(results_root) / "misa" / "memory" / f"{profile}-cpu.json")
rows = [r for r in bench["rows"] if "skipped" not in r]
full = next(r for r in rows if r["label"] == "full")
measured = {r["label"]: {"peak_mb": r["peak_mb"], "analytic_mb": r["predicted_peak_mb"],
                         "rel_err": r["predicted_peak_mb"] / r["peak_mb"] - 1, "vs_full": r["peak_mb"] / full["peak_mb"],
                         "step_s": r["step_s_median"], "trainable_params": r["trainable_params"]} for r in rows}

GB = 1024 ** 3
mixed = dict(weight_bytes=2, grad_bytes=2, state_bytes=4, act_bytes=2, master_weights=True)
variants = {"full": ("full", {}), "LoRA r8": ("lora", {"lora_r": 8}), "LISA 1L+E+H": ("lisa", {"gamma": 1}),
            "BAdam 1L": ("badam", {}), "MISA d=1%": ("misa", {"budget": 0.01}), "MISA d=3%": ("misa", {"budget": 0.03}),
            "MISA d=10%": ("misa", {"budget": 0.10})}
settings = {"seq 512": (2, 512), "seq 4096": (2, 4096)}
extrap = {f"{PAPER_MODELS[m].name} {s}": {v: predict_memory(PAPER_MODELS[m], meth, b, seq, **kw, **mixed)["total"] / GB
                                          for v, (meth, kw) in variants.items()}
          for m in ("llama-3-8b", "llama-2-7b") for s, (b, seq) in settings.items()}

fig, axes = plt.subplots(1, 2, figsize=(15, 4.8))
labels = list(measured)
x = np.arange(len(labels))
axes[0].bar(x - 0.2, [measured[k]["peak_mb"] for k in labels], 0.4, label="measured")
axes[0].bar(x + 0.2, [measured[k]["analytic_mb"] for k in labels], 0.4, label="analytic", alpha=0.6)
axes[0].set_xticks(x)
axes[0].set_xticklabels(labels, rotation=25, fontsize=8)
axes[0].set_ylabel("peak memory of one step (MB)")
axes[0].set_title(f"SmolLM2-135M, batch {bench['setting']['batch']}x{bench['setting']['seq']}, fp32, CPU")
axes[0].legend(fontsize=8)
names = list(extrap)
for k, v in enumerate(variants):
    axes[1].bar(np.arange(len(names)) + k * 0.11, [extrap[n][v] for n in names], 0.11, label=v)
axes[1].set_xticks(np.arange(len(names)) + 0.33)
axes[1].set_xticklabels(names, fontsize=8)
axes[1].set_ylabel("predicted peak (GB)")
axes[1].set_title("analytic model at the paper's setting (bf16 + fp32 state)")
axes[1].legend(fontsize=7, ncol=2)
save_figure(fig, figure_path, {"measured": measured, "extrapolated_gb": extrap})

# %%
for k, v in measured.items():
    print(f"{k:12s} {v['peak_mb']:8.1f} MB (analytic {v['analytic_mb']:8.1f}, {100 * v['rel_err']:+.1f} %), "
          f"{v['vs_full']:.2f} x full, step {v['step_s']:.2f} s")
for n, row in extrap.items():
    print(n, {k: round(v, 1) for k, v in row.items()})

# %% [markdown]
# # LISA memory cost (paper: `GPU_cost`, Table 1 / Fig. 3)
# Left: peak memory of one training step per method, measured (`make bench`: CPU profiler events, or CUDA peak
# stats on an H100 lent to one session) next to the analytic model of `core.memory`. Middle: LISA's peak relative
# to LoRA's and full FT's, measured in each setting and predicted by the model for LLaMA-2-70B at the paper's
# setting, against the paper's 70B ratio (75 GB / 79 GB). Right: the analytic model at the paper's setting (batch 1,
# 1024 tokens, bf16 weights, gradients and AdamW state, no checkpointing or flash-attention) for the paper's models.
# Peaks are deterministic byte counts of one step: there is no seed interval.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_GPU_cost.png"

# %%

import numpy as np
from transformers import AutoConfig

from core.claims import judge, measured, paper_claim, verdict_cell
from core.memory import MB, PAPER_MODELS, ArchSpec, predict_memory
from core.models import resolve
from core.plotting import figure, finish, name
from core.results import load_benches

benches = load_benches(profile, results_root)  # {"CPU, batch 4×64": bench, ...}
methods = ["inference", "full", "lora", "galore", "lisa"]


def analytic_mb(bench, method):
    """The analytic model for a bench row, recomputed so every bench file is judged by the current model
    (CUDA fp32 SDPA saves the attention probabilities; papers/lisa/LOG.md item 7)."""
    st = bench["setting"]
    spec = ArchSpec.from_config(AutoConfig.from_pretrained(resolve(st["model"])))
    return (
        predict_memory(
            spec,
            method,
            st["batch"],
            st["seq"],
            st["gamma"],
            st["lora_r"],
            galore_rank=st["galore_rank"] if method == "galore" else 0,
            attention_scores=bench["device"] == "cuda",
        )["total"]
        / MB
    )


GB = 1024**3
variants = {
    "Full FT": ("full", {}),
    "LoRA r128": ("lora", {"lora_r": 128}),
    "LISA E+H": ("lisa", {"gamma": 0}),
    "LISA E+H+2L": ("lisa", {"gamma": 2}),
    "LISA E+H+4L": ("lisa", {"gamma": 4}),
}
bf16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2)
extrap = {
    PAPER_MODELS[k].name: {
        v: predict_memory(spec, m, 1, 1024, **kw, **bf16, attention_scores=True)["total"] / GB
        for v, (m, kw) in variants.items()
    }
    for k, spec in PAPER_MODELS.items()
}
table = {
    "measured_vs_analytic": {
        label: {
            r["method"]: {"measured_mb": r["peak_mb"], "analytic_mb": analytic_mb(b, r["method"])}
            for r in b["rows"]
            if r["method"] in methods
        }
        for label, b in benches.items()
    },
    "extrapolated_gb": extrap,
}
ratios = {
    s: {
        "LISA ÷ LoRA": rows["lisa"]["measured_mb"] / rows["lora"]["measured_mb"],
        "LISA ÷ full FT": rows["lisa"]["measured_mb"] / rows["full"]["measured_mb"],
    }
    for s, rows in table["measured_vs_analytic"].items()
}
big = "LLaMA-2-70B" if "LLaMA-2-70B" in extrap else list(extrap)[-1]
ratios[f"{big}, analytic"] = {
    "LISA ÷ LoRA": extrap[big]["LISA E+H+2L"] / extrap[big]["LoRA r128"],
    "LISA ÷ full FT": extrap[big]["LISA E+H+2L"] / extrap[big]["Full FT"],
}
table["ratios"] = ratios
largest = max(
    benches,
    key=lambda k: (
        benches[k]["setting"]["batch"] * benches[k]["setting"]["seq"] * (benches[k]["device"] == "cuda")
    ),
)
r_big = ratios[largest]["LISA ÷ LoRA"]
seven = next(n for n in extrap if "7B" in n and "2" in n)
verdicts = [
    judge(
        "lisa",
        "GPU_cost",
        measured(r_big),
        0.0,
        label="LISA vs LoRA",
        ours=f"measured {largest}: LISA ÷ LoRA {r_big:.2f}×; analytic {big}: "
        f"{ratios[f'{big}, analytic']['LISA ÷ LoRA']:.2f}×",
    ),
    judge(
        "lisa",
        "memory_7b_24gb",
        measured(extrap[seven]["LISA E+H+2L"] - 24),
        0.0,
        label="7B in 24 GB",
        ours=f"analytic model (a prediction): {seven} LISA E+H+2L {extrap[seven]['LISA E+H+2L']:.1f} GB",
    ),
]

# %%
fig, (ax_m, ax_r, ax_x) = figure(3, 1, width=4.9, height=4.4)
labels = list(table["measured_vs_analytic"])
width = 0.8 / len(labels)
for j, s in enumerate(labels):
    rows = table["measured_vs_analytic"][s]
    x = np.arange(len(methods)) + (j - (len(labels) - 1) / 2) * width
    ax_m.bar(x, [rows[m]["measured_mb"] for m in methods], width, color=f"C{j}", label=s)
    ax_m.scatter(
        x,
        [rows[m]["analytic_mb"] for m in methods],
        marker="_",
        s=150,
        color="black",
        zorder=3,
        label="analytic model" if j == 0 else None,
    )
ax_m.set_xticks(range(len(methods)), [name(m).replace(" (forward only)", "") for m in methods], rotation=30)
ax_m.set_yscale("log")
ax_m.set_ylim(top=ax_m.get_ylim()[1] * 6)  # room for the legend above the bars
ax_m.set_ylabel("peak memory of one step (MB)")
ax_m.set_title("SmolLM2-135M: measured (bars)")
ax_m.legend(fontsize=9)
for k, key in enumerate(("LISA ÷ LoRA", "LISA ÷ full FT")):
    for j, s in enumerate(ratios):
        ax_r.scatter(
            k + (j - (len(ratios) - 1) / 2) * 0.18,
            ratios[s][key],
            s=60,
            color=f"C{j}" if j < len(labels) else "black",
            marker="o" if j < len(labels) else "s",
            label=s if k == 0 else None,
        )
claim = paper_claim("lisa", "GPU_cost")
ax_r.hlines(
    claim["paper_value"],
    -0.4,
    0.4,
    color="black",
    ls="--",
    label=f"paper, LLaMA-2-70B: {claim['paper_value']}×",
)
ax_r.axhline(1, color="0.4", lw=0.8)
ax_r.set_xticks([0, 1], ["LISA ÷ LoRA", "LISA ÷ full FT"])
ax_r.set_ylabel("ratio of peak memory")
ax_r.set_title("LISA relative to LoRA and full FT")
ax_r.legend(fontsize=9)
names = list(extrap)
for k, v in enumerate(variants):
    ax_x.bar(np.arange(len(names)) + (k - 2) * 0.16, [extrap[n][v] for n in names], 0.16, label=v)
ax_x.axhline(24, color="black", ls=":", lw=1.2, label="paper: 7B LISA fits 24 GB")
ax_x.set_xticks(range(len(names)), names, rotation=40, ha="right", rotation_mode="anchor")
ax_x.set_yscale("log")
ax_x.set_ylim(top=ax_x.get_ylim()[1] * 8)
ax_x.set_ylabel("predicted peak (GB, one device)")
ax_x.set_title("analytic model, paper's setting")
ax_x.legend(fontsize=9, ncol=2)
finish(fig, figure_path, table, verdicts, "LISA peak memory: measured, modelled, and the paper's numbers")

# %%
verdict_cell(verdicts)

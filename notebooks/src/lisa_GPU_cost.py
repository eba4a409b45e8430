# %% [markdown]
# # LISA memory cost (paper: `GPU_cost`, Table 1 / Fig. 3)
# Three claims, one panel each, plus the measurements behind them. Peaks are deterministic byte counts of one step
# (`make bench`: CPU profiler events, or CUDA peak stats on an H100 lent to one session) or the analytic model of
# `core.costs.memory` at the paper's setting (batch 1, 1024 tokens, bf16 weights, gradients and AdamW state, no
# checkpointing or flash-attention): there is no seed interval, and the values are the claims file's rows.
# Top left: LISA's peak ÷ LoRA's in each setting against the paper's 70B ratio (75/79 GB); the largest H100 setting,
# the closest to the paper's regime, is the primary row. Top right: LLaMA-2-7B LISA against 24 GB. Bottom right:
# LLaMA-2-7B full FT against the abstract's "at least 60 GB". Bottom left: measured peaks of SmolLM2-135M with the
# analytic model (descriptive).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_GPU_cost.png"

# %%
import numpy as np

from core.infra.results import load_benches
from core.reporting.claims import from_file, paper_claim, verdict_cell
from core.reporting.plotting import color, figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows

benches = load_benches(profile, results_root)  # {"CPU, batch 4×64": bench, ...}, recorded as inputs
methods = d.memory_methods()
gb = d.paper_setting_gb()
seven = gb["LLaMA-2-7B"]
table = {
    "measured_vs_analytic": {
        label: {
            r["method"]: {"measured_mb": r["peak_mb"], "analytic_mb": d.analytic_mb(b, r["method"])}
            for r in b["rows"]
            if r["method"] in methods
        }
        for label, b in benches.items()
    },
    "paper_setting_gb": gb,
}
claim_ids = ["GPU_cost", "memory_7b_24gb", "memory_ft_7b_60gb"]
rows = {c: claim_rows(c, profile, results_root) for c in claim_ids}
table["rows"] = rows
verdicts = from_file("lisa", claim_ids, profile)

# %%
fig, axes = figure(2, 2, width=6.4, height=3.9)
(ax_m, ax_ratio), (ax_ft, ax_7b) = axes[0], axes[1]
labels = list(table["measured_vs_analytic"])
width = 0.8 / len(labels)
for j, s in enumerate(labels):
    mv = table["measured_vs_analytic"][s]
    x = np.arange(len(methods)) + (j - (len(labels) - 1) / 2) * width
    ax_m.bar(x, [mv[m]["measured_mb"] for m in methods], width, color=f"C{j}", label=s)
    ax_m.scatter(
        x,
        [mv[m]["analytic_mb"] for m in methods],
        marker="_",
        s=150,
        color="black",
        zorder=3,
        label="analytic model" if j == 0 else None,
    )
ax_m.set_xticks(range(len(methods)), [name(m).replace(" (forward only)", "") for m in methods], rotation=20)
ax_m.set_ylabel("peak memory of one step (MB)")
ax_m.set_ylim(0, ax_m.get_ylim()[1] * 1.35)
ax_m.set_title("SmolLM2-135M, measured (descriptive)")
ax_m.legend(ncol=2, loc="upper left")

lora_rows = [r for r in rows["GPU_cost"] if "LoRA" in r["comparison"]]
for k, r in enumerate(lora_rows):
    setting = r["comparison"].split("(")[1].rstrip(")")
    ax_ratio.scatter(
        [k],
        [r["estimate"]],
        s=70,
        zorder=3,
        color="black" if r["primary"] else "white",
        edgecolor="black",
        marker="D" if r["primary"] else "o",
    )
    ax_ratio.annotate(
        f"{r['estimate']:.2f}", (k, r["estimate"]), xytext=(9, 0), textcoords="offset points", va="center"
    )
paper = paper_claim("lisa", "GPU_cost")["paper_value"]
ax_ratio.axhline(paper, color="black", ls="--", lw=1.2, label=f"paper, LLaMA-2-70B: {paper:g}×")
ax_ratio.axhline(1, color="0.4", lw=0.9, label="equal to LoRA")
ax_ratio.set_xticks(
    range(len(lora_rows)),
    [
        r["comparison"].split("(")[1].rstrip(")").replace(" ", "\n", 1)
        + ("\n(primary)" if r["primary"] else "")
        for r in lora_rows
    ],
)
ax_ratio.set_xlim(-0.5, len(lora_rows) - 0.3)
ax_ratio.set_ylim(0, 1.45)
ax_ratio.set_ylabel("LISA peak ÷ LoRA peak")
ax_ratio.set_title("is LISA's peak at or below LoRA's?")
ax_ratio.legend(loc="lower left")

lisa_variants = [v for v in d.VARIANTS if v.startswith("LISA")]
ax_7b.bar(range(len(lisa_variants)), [seven[v] for v in lisa_variants], color=color("lisa"))
for i, v in enumerate(lisa_variants):
    ax_7b.annotate(
        f"{seven[v]:.1f}", (i, seven[v]), ha="center", va="bottom", xytext=(0, 2), textcoords="offset points"
    )
limit = paper_claim("lisa", "memory_7b_24gb")["paper_value"]
ax_7b.axhline(limit, color="black", ls="--", lw=1.2, label=f"paper: LISA fits {limit:g} GB")
ax_7b.set_xticks(range(len(lisa_variants)), lisa_variants)
ax_7b.set_ylim(0, limit * 1.4)
ax_7b.set_ylabel("predicted peak (GB, analytic)")
ax_7b.set_title("LLaMA-2-7B: does LISA fit 24 GB?")
ax_7b.legend(loc="upper left")

ft_variants = ["Full FT", "LoRA r128", "LISA E+H+2L"]
ax_ft.bar(
    range(len(ft_variants)),
    [seven[v] for v in ft_variants],
    color=[color(d.VARIANTS[v][0]) for v in ft_variants],
)
for i, v in enumerate(ft_variants):
    ax_ft.annotate(
        f"{seven[v]:.1f}", (i, seven[v]), ha="center", va="bottom", xytext=(0, 2), textcoords="offset points"
    )
floor = paper_claim("lisa", "memory_ft_7b_60gb")["paper_value"]
ax_ft.axhline(floor, color="black", ls="--", lw=1.2, label=f"paper: full FT needs ≥ {floor:g} GB")
ax_ft.set_xticks(range(len(ft_variants)), ft_variants)
ax_ft.set_ylim(0, floor * 1.3)
ax_ft.set_ylabel("predicted peak (GB, analytic)")
ax_ft.set_title("LLaMA-2-7B: does full FT need ≥ 60 GB?")
ax_ft.legend(loc="upper right")
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "LISA peak memory: measured (SmolLM2) and modelled at the paper's setting (bf16, 1 × 1024)",
)

# %%
verdict_cell(verdicts)

# %% [markdown]
# # MISA memory: MISA across δ vs LISA γ vs BAdam vs LoRA vs full FT
# Left: peak memory of one training step on SmolLM2-135M (fp32, CPU profiler; same procedure as `make bench`), with
# the analytic model of `core.costs.memory` on the *actual* active set as black ticks. Right: the analytic model at the
# paper's setting (LLaMA-3-8B and LLaMA-2-7B, batch 2, bf16 weights/gradients, fp32 AdamW state and master copy
# of the trainable part, worst case lowest layer = 0) at 512 and 4096 tokens. The paper gives no memory numbers we
# could reach, only the direction. Peaks are deterministic byte counts: no seed interval.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_memory.png"

# %%
import numpy as np

from core.infra.paths import study_path
from core.infra.results import load_json
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import bars, color, figure, finish, name, tilt
from papers.misa.memory import PAPER_VARIANTS, analytic_gb, measured

bench = load_json(study_path("misa", "memory", profile, results_root))
table = {"measured": measured(bench), "analytic_gb": analytic_gb()}
extrap, variants = table["analytic_gb"], PAPER_VARIANTS
verdicts = from_file("misa", ["memory"], profile)  # the ratios are rows of papers/misa/claims.py

# %%
fig, (ax_m, ax_x) = figure(2, 1, width=7.0, height=4.4)
labels = list(table["measured"])
bars(
    ax_m,
    {k: table["measured"][k]["peak_mb"] for k in labels},
    ylabel="peak memory of one step (MB)",
    fmt="{:.0f}",
)
ax_m.scatter(
    range(len(labels)),
    [table["measured"][k]["analytic_mb"] for k in labels],
    marker="_",
    s=300,
    color="black",
    zorder=3,
    label="analytic model",
)
tilt(ax_m)
ax_m.legend()
ax_m.set_title(
    f"SmolLM2-135M, batch {bench['setting']['batch']}×{bench['setting']['seq']}, fp32, CPU: measured"
)
names, keys = list(extrap), list(variants)
w = 0.8 / len(keys)
for j, v in enumerate(keys):
    ax_x.bar(
        np.arange(len(names)) + (j - (len(keys) - 1) / 2) * w,
        [extrap[n][v] for n in names],
        w,
        color=color(v),
        label=name(v),
        hatch="//" if v.startswith("misa") and v != "misa_d0.03" else None,
    )
ax_x.set_xticks(range(len(names)), [n.replace(", ", "\n") for n in names])
ax_x.set_ylabel("predicted peak (GB)")
ax_x.set_ylim(top=ax_x.get_ylim()[1] * 1.3)  # room for the legend
ax_x.set_title("analytic model at the paper's setting (batch 2)")
ax_x.legend(ncol=2, fontsize=9)
finish(
    fig, figure_path, table, verdicts, "MISA peak memory: measured on SmolLM2, modelled at the paper's scale"
)

# %%
verdict_cell(verdicts)

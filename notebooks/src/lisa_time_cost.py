# %% [markdown]
# # LISA time cost (paper: `time_cost`, Fig. 4)
# Paper (§4.1): single-iteration time on LLaMA-2-7B, batch 1: LISA ~2.9× faster than full FT and ~1.5× faster
# than LoRA. Here: step times of each method measured side by side in one `make bench` process (same model, same
# batch) on CPU and on an H100 lent to one session. The ratio is of the geometric-mean step times, with a 95 %
# Welch t-interval over the repeated steps. Verdicts for the CPU bench (as in the claims table) and the largest GPU
# setting (closest to the paper's regime).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_time_cost.png"

# %%

import numpy as np

from core.claims import fmt_interval, judge, mde_from, paper_claim, ratio_interval, verdict_cell
from core.plotting import figure, finish, name
from core.results import load_benches

benches = load_benches(profile, results_root)  # {"CPU, batch 4×64": bench, ...}
methods = ["inference", "full", "lora", "galore", "lisa"]


table = {}
for label, bench in benches.items():
    rows = {r["method"]: r for r in bench["rows"]}
    table[label] = {
        "step_s": {m: rows[m]["step_s_all"] for m in methods},
        "full_over_lisa": ratio_interval(rows["full"]["step_s_all"], rows["lisa"]["step_s_all"]),
        "lora_over_lisa": ratio_interval(rows["lora"]["step_s_all"], rows["lisa"]["step_s_all"]),
    }
largest = max(
    benches,
    key=lambda k: (
        benches[k]["setting"]["batch"] * benches[k]["setting"]["seq"] * (benches[k]["device"] == "cuda")
    ),
)
judged = dict.fromkeys(
    [next(iter(benches)), largest]
)  # the CPU bench (as the claims table), the largest GPU one
verdicts = [
    judge(
        "lisa",
        claim_id,
        table[s][key],
        mde_from(table[s][key]),
        over="steps",
        label=f"{s}, vs {who}",
        ours=f"{who}/LISA {fmt_interval(table[s][key], 'x', 'steps')}",
    )
    for s in judged
    for key, claim_id, who in (
        ("full_over_lisa", "time_cost", "full FT"),
        ("lora_over_lisa", "time_vs_lora", "LoRA"),
    )
]

# %%
fig, (ax_rel, ax_ratio) = figure(2, 1, width=6.6)
width = 0.8 / len(table)
for j, (label, row) in enumerate(table.items()):
    full = np.exp(np.mean(np.log(row["step_s"]["full"])))
    rel = [np.exp(np.mean(np.log(row["step_s"][m]))) / full for m in methods]
    ax_rel.bar(
        np.arange(len(methods)) + (j - (len(table) - 1) / 2) * width, rel, width, label=label, color=f"C{j}"
    )
ax_rel.set_xticks(range(len(methods)), [name(m).replace(" (forward only)", "") for m in methods])
ax_rel.set_ylabel("step time ÷ full FT's step time")
ax_rel.legend(title="setting", loc="upper left")
ax_rel.set_title("step time relative to full FT (SmolLM2-135M)")
for k, (key, claim_id) in enumerate((("full_over_lisa", "time_cost"), ("lora_over_lisa", "time_vs_lora"))):
    for j, row in enumerate(table.values()):
        iv = row[key]
        ax_ratio.errorbar(
            k + (j - (len(table) - 1) / 2) * width,
            iv.estimate,
            yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]],
            fmt="o",
            color=f"C{j}",
            capsize=4,
            ms=7,
        )
    claim = paper_claim("lisa", claim_id)
    ax_ratio.hlines(claim["paper_value"], k - 0.4, k + 0.4, color="black", ls="--", lw=1.3)
    ax_ratio.annotate(
        f"paper {claim['paper_value']}×", (k + 0.4, claim["paper_value"]), ha="right", va="bottom"
    )
ax_ratio.axhline(1, color="0.4", lw=0.8)
ax_ratio.set_xticks([0, 1], ["full FT ÷ LISA", "LoRA ÷ LISA"])
ax_ratio.set_ylabel("speed-up of LISA (×)")
ax_ratio.set_title("LISA's speed-up; dot and bar: ratio and 95 % Welch t over steps", fontsize=10)
finish(fig, figure_path, table, verdicts, "LISA time per training step")

# %%
verdict_cell(verdicts)

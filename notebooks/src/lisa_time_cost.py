# %% [markdown]
# # LISA time cost (paper: `time_cost`, Fig. 4)
# Paper (§4.1): single-iteration time on LLaMA-2-7B, batch 1: LISA ~2.9× faster than full FT and ~1.5× faster
# than LoRA. Here: step times of each method measured side by side in one `make bench` process (same model, same
# batch). The verdicts use the 3 committed CPU bench runs of the 4×64 setting as units (a run's steps are not
# independent replicates): the ratio comparator ÷ LISA of median step times per run, with the claims file's t
# interval. The H100 benches (one run each, lent GPU) are descriptive rows that do not decide.
# Left: each method's step time relative to full FT's in every bench of this profile (descriptive). Middle, right:
# one question each, full FT ÷ LISA and LoRA ÷ LISA, against the paper's ratio (claims.yaml).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_time_cost.png"

# %%
import numpy as np

from core.infra.results import load_benches
from core.reporting.claims import from_file, paper_claim, verdict_cell
from core.reporting.plotting import figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows

benches = load_benches(profile, results_root)  # {"CPU, batch 4×64": bench, ...}, recorded as inputs
per_run = d.bench_ratios()  # {"full": [ratio per committed CPU bench run], "lora": [...]}
rows = {c: claim_rows(c, profile, results_root) for c in d.SPEEDUP_CLAIMS.values()}
shown = [m for m in d.memory_methods() if all(m in d.median_step(b) for b in benches.values())]
relative = {
    label: {m: d.median_step(b)[m] / d.median_step(b)["full"] for m in shown} for label, b in benches.items()
}
table = {"relative_to_full": relative, "per_bench_run": per_run, "commits": d.BENCH_COMMITS, "rows": rows}
verdicts = from_file("lisa", list(d.SPEEDUP_CLAIMS.values()), profile)

# %%
fig, (ax_rel, *ax_claims) = figure(3, 1, width=5.0, height=4.6)
width = 0.8 / len(relative)
for j, (label, rel) in enumerate(relative.items()):
    x = np.arange(len(shown)) + (j - (len(relative) - 1) / 2) * width
    ax_rel.bar(x, [rel[m] for m in shown], width, label=label, color=f"C{j}")
ax_rel.set_xticks(range(len(shown)), [name(m).replace(" (forward only)", "") for m in shown], rotation=30)
ax_rel.set_ylabel("median step time ÷ full FT's")
ax_rel.set_title("step time per method (descriptive)")
ax_rel.legend(title="one bench run each", loc="upper left")
ax_rel.set_ylim(0, max(max(r.values()) for r in relative.values()) * 1.35)
for ax, (method, claim_id) in zip(ax_claims, d.SPEEDUP_CLAIMS.items()):
    primary = next(r for r in rows[claim_id] if r["primary"])
    others = [r for r in rows[claim_id] if not r["primary"]]
    ax.scatter(
        np.linspace(-0.08, 0.08, len(per_run[method])),
        per_run[method],
        color="0.35",
        s=30,
        zorder=3,
        label="one CPU bench run",
    )
    ax.errorbar(
        0.25,
        primary["estimate"],
        yerr=[[primary["estimate"] - primary["lo"]], [primary["hi"] - primary["estimate"]]],
        fmt="D",
        color="black",
        capsize=5,
        label=f"mean and 95 % t over {len(per_run[method])} runs (primary)",
    )
    for k, r in enumerate(others, 1):
        ax.scatter(
            [k],
            [r["estimate"]],
            marker="s",
            facecolor="white",
            edgecolor="0.3",
            s=55,
            zorder=3,
            label="one GPU bench run (secondary)" if k == 1 else None,
        )
    paper = paper_claim("lisa", claim_id)["paper_value"]
    ax.axhline(paper, color="black", ls="--", lw=1.2, label=f"paper: {paper:g}×")
    ax.axhline(1, color="0.4", lw=0.9)
    ax.set_xticks(
        range(1 + len(others)),
        ["CPU 4×64\n3 runs"]
        + [r["comparison"].split("(")[1].rstrip(")").replace(" ", "\n", 1) for r in others],
    )
    ax.set_xlim(-0.5, len(others) + 0.5)
    ax.set_ylim(0, max(paper, *(r["estimate"] for r in rows[claim_id])) * 1.25)
    ax.set_ylabel(f"{name(method)} step time ÷ LISA's")
    ax.set_title(f"is LISA {paper:g}× faster than {name(method)}?")
    ax.legend(loc="lower right")
finish(fig, figure_path, table, verdicts, "LISA time per training step: speed-up over full FT and over LoRA")

# %%
verdict_cell(verdicts)

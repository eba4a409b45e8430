# %% [markdown]
# # LISA Fig. 2: layer-wise update norms, LoRA vs full fine-tuning (`gpt2_lora_ft_weight`, `LLaMA-2-7B_lora_ft_weight`)
# Paper claim (§3.1): under LoRA the embedding / LM-head norms exceed the middle layers' "often by a factor of
# hundreds"; under full FT the pattern "was not salient". The metric is the mean over training steps of each
# block's *update* norm (LoRA: the merged ΔW = s·BA; FT: W − W0), and the skew = max(embedding, head) /
# median(middle layers). Left, middle: the per-block norms of seed 0 (descriptive). Right: the verdict's quantity,
# LoRA's skew ÷ full FT's per seed (same seed, steps and data order) with the claims file's paired t-interval, on a
# log axis with the paper's "hundreds" (claims.yaml: 100×). SmolLM2 is the primary row; the tiny GPT-2
# architecture (random init) is secondary.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_weight_norms.png"

# %%
import numpy as np

from core.analysis.norms import mean_block_norms
from core.reporting.claims import from_file, paper_claim, verdict_cell
from core.reporting.plotting import color, figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows, role_label

pairs = d.norm_pairs(profile, results_root)
rows = {
    ("smollm2" if "SmolLM2" in r["comparison"] else "gpt2arch"): r
    for r in claim_rows("weight_norms", profile, results_root)
}
skews = {
    arch: {m: {s: d.update_skew(run) for s, run in pair[m].items()} for m in ("lora", "full")}
    for arch, pair in pairs.items()
}
ratios = {
    arch: [sk["lora"][s] / sk["full"][s] for s in sorted(set(sk["lora"]) & set(sk["full"]))]
    for arch, sk in skews.items()
}
table = {"skew_per_seed": skews, "lora_over_full_per_seed": ratios, "rows": rows}
verdicts = from_file("lisa", ["weight_norms"], profile)

# %%
archs = [a for a in ("smollm2", "gpt2arch") if a in pairs]
fig, axes = figure(len(archs) + 1, 1, width=5.0, height=4.4)
for ax, arch in zip(axes, archs):
    for method in ("full", "lora"):
        run = pairs[arch][method][min(pairs[arch][method])]
        blocks, vals = mean_block_norms(run.weight_norms, "update")
        ax.plot(
            range(len(blocks)),
            vals,
            marker="o",
            ms=3,
            color=color(method),
            label=f"{name(method)}, seed {run.seed}",
        )
    step = max(1, len(blocks) // 8)
    ax.set_xticks(range(0, len(blocks), step), [b.replace("layer", "") for b in blocks][::step])
    ax.set_yscale("log")
    ax.set_xlabel("block: embedding, layers 0…N−1, head")
    ax.set_ylabel("mean update norm over steps")
    ax.set_title(f"{name(arch)} (descriptive)")
    ax.legend()
ax = axes[-1]
for i, arch in enumerate(archs):
    r = rows[arch]
    ax.scatter(
        np.full(len(ratios[arch]), i) + np.linspace(-0.06, 0.06, len(ratios[arch])),
        ratios[arch],
        color="0.35",
        s=30,
        zorder=3,
        label="one seed" if i == 0 else None,
    )
    ax.errorbar(
        i + 0.22,
        r["estimate"],
        yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
        fmt="D",
        color="black" if r["primary"] else "0.55",
        capsize=5,
        label="mean and 95 % paired t (claims file)" if i == 0 else None,
    )
paper = paper_claim("lisa", "weight_norms")["paper_value"]
ax.axhline(paper, color="black", ls="--", lw=1.2, label=f"paper: 'hundreds' ({paper:g}×)")
ax.axhline(1, color="0.4", lw=0.9)
ax.set_yscale("log")
ax.set_ylim(0.8, paper * 2)
ax.set_xticks(
    range(len(archs)), [f"{name(a)}\n{'primary' if rows[a]['primary'] else 'secondary'}" for a in archs]
)
ax.set_xlim(-0.5, len(archs) - 0.4)
ax.set_ylabel("LoRA skew ÷ full FT skew")
ax.set_title("the verdict's quantity")
ax.legend(loc="center right")
table["roles"] = {a: role_label(rows[a]) for a in archs}
finish(fig, figure_path, table, verdicts, "LISA §3.1: is LoRA's embedding/head skew far above full FT's?")

# %%
verdict_cell(verdicts)

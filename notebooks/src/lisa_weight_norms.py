# %% [markdown]
# # LISA Fig. 2: layer-wise weight norms, LoRA vs full fine-tuning (`gpt2_lora_ft_weight`, `LLaMA-2-7B_lora_ft_weight`)
# Paper claim (§3.1): under LoRA the embedding / LM-head norms exceed the middle layers' "often by a factor of
# hundreds"; under full FT the pattern "was not salient". The metric is the mean over training steps of a
# per-block norm; we show the norm of each block's *update* (LoRA: the merged ΔW = s·BA) and of its *trainable*
# weights, and the skew = max(embedding, head) / median(middle layers). The verdict compares LoRA's update skew
# with full FT's on SmolLM2; with one run per method there is no seed interval.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_weight_norms.png"

# %%
import numpy as np

from core.claims import Verdict, judge, paper_claim, verdict_cell
from core.norms import mean_block_norms, norm_skew
from core.plotting import color, figure, finish, name
from core.results import load_runs
from core.stats import mde_of, t_interval
from core.verdicts import inconclusive

runs = load_runs("lisa", "weight_norms", profile, results_root)
if not any(
    r.name == "smollm2_full" for r in runs
):  # the loss-curve full-FT run logged its norms (same setting)
    runs += [r for r in load_runs("lisa", "loss_curves", profile, results_root) if r.name == "full"]
    for r in runs:
        r.name = "smollm2_full" if r.name == "full" else r.name
runs = [r for r in runs if r.weight_norms]
archs = [a for a in ("smollm2", "gpt2arch") if {f"{a}_full", f"{a}_lora"} <= {r.name for r in runs}]
skews = {
    f"{a}_{m}": {
        kind: {
            r.seed: norm_skew(*mean_block_norms(r.weight_norms, kind)) for r in runs if r.name == f"{a}_{m}"
        }
        for kind in ("update", "weight")
    }
    for a in archs
    for m in ("full", "lora")
}
table = {"skew": skews}
lora, full = skews["smollm2_lora"]["update"], skews["smollm2_full"]["update"]
seeds = sorted(set(lora) & set(full))
if len(seeds) >= 2:
    ratios = [lora[s] / full[s] for s in seeds]  # paired by seed: same data order, equal steps
    iv = t_interval(ratios)
    verdicts = [judge("lisa", "weight_norms", iv, mde_of(ratios), label="LoRA skew ÷ full FT skew")]
else:
    text = (
        f"SmolLM2 update-norm skew LoRA {np.mean(list(lora.values())):.1f}× "
        f"vs full FT {np.mean(list(full.values())):.1f}× "
        f"(one run each: no interval)"
    )
    verdicts = [
        Verdict(
            paper_claim("lisa", "weight_norms"), inconclusive(float("inf")), text, "LoRA skew vs full FT skew"
        )
    ]

# %%
fig, axes = figure(len(archs), 2, width=6.8, height=3.6)
axes = np.atleast_2d(axes).reshape(2, len(archs))
for col, arch in enumerate(archs):
    for row, kind in enumerate(("update", "weight")):
        ax = axes[row, col]
        for method in ("full", "lora"):
            run = next(r for r in runs if r.name == f"{arch}_{method}")
            blocks, vals = mean_block_norms(run.weight_norms, kind)
            skew = skews[f"{arch}_{method}"][kind][run.seed]
            ax.plot(
                range(len(blocks)),
                vals,
                marker="o",
                ms=3,
                color=color(method),
                label=f"{name(method)}, seed {run.seed} (skew {skew:.1f}×)",
            )
        step = max(1, len(blocks) // 10)
        ax.set_xticks(range(0, len(blocks), step), [b.replace("layer", "") for b in blocks][::step])
        ax.set_yscale("log")
        ax.set_xlabel("block: embedding, layers 0…N−1, head")
        ax.set_ylabel("mean norm over steps")
        ax.set_title(f"{name(arch)}: {name(kind)}")
        ax.legend()
finish(fig, figure_path, table, verdicts, "LISA §3.1: per-layer norms under LoRA and full fine-tuning")

# %%
verdict_cell(verdicts)

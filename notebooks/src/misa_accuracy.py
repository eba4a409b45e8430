# %% [markdown]
# # MISA accuracy comparison (paper: math and commonsense tables, LLaMA3-8B), CPU stand-in
# SmolLM2-135M fine-tuned on the bigbench arithmetic split (200 steps of batch 2 in the cpu profile) by full FT,
# LoRA (r 8), LISA (γ = 1 middle layer + embeddings + head), BAdam (one layer), MISA (δ = 3 %, η = 1, T = 10) and
# MISA with η = 0 (module-uniform: the same blocks, budget, warm-up and lr, without the importance scores), each at
# its own lr from a 30-step probe; in the cpu profile 5 seeds (full FT 3; data order and sampler seeds) and 256 test
# questions (issue #32). Every panel draws one question as the
# paired difference MISA − arm that its verdict uses: one dot per seed (the seed's difference), the interval of
# the claims engine's row (test accuracy: the crossed seeds × items interval of `core.analysis.item_stats.accuracy_diff`;
# validation loss: paired t over seeds) and the engine's ±MDE band around 0. Pairs: `papers/misa/compare.py`;
# rows, the learnability gate's verdict and the verdicts: `papers/misa/claims.py` → the claims file. The last
# panel is the stand-in for the C4 pre-training claim: a tiny Llama trained from scratch by Adam, GaLore and MISA
# (δ = 25 %, η = 500), validation loss.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_accuracy.png"

# %%
import numpy as np
from matplotlib.lines import Line2D

from core.infra.paths import read_claims
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish
from papers.misa import compare as c

runs = c.present(c.EXPERIMENT, profile, results_root)
pretrain = c.present(c.PRETRAIN, profile, results_root)
claims_file = read_claims("misa", profile)
ARM = {
    "LISA": "lisa",
    "BAdam": "badam",
    "LoRA": "lora",
    "full FT": "full",
    "MISA η = 0": "misa_uniform",
    "Adam": "adam",
    "GaLore": "galore",
}


def engine_rows(claim: str, metric: str) -> list[dict]:
    """The claims file's rows of one claim on one metric (the intervals the verdicts use)."""
    return [r for r in claims_file["rows"] if r["claim"] == claim and r["metric"] == metric]


def panel(ax, rows: list[dict], source, metric: str, ylabel: str, title: str) -> dict:
    """MISA − arm per row: per-seed dots, the engine's interval (black: primary; grey: secondary) and ±MDE."""
    out = {}
    for i, r in enumerate(rows):
        arm = ARM[r["comparison"].removeprefix("MISA − ")]
        dots = c.seed_differences(source, arm, metric)
        ax.plot(i - 0.12 + np.linspace(-0.05, 0.05, len(dots)), dots, "o", ms=6, alpha=0.8, color=color(arm))
        ink = "black" if r["primary"] else "0.55"
        ax.errorbar(
            i + 0.12,
            r["estimate"],
            yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
            fmt="D",
            color=ink,
            capsize=5,
            ms=6,
            lw=1.6,
        )
        ax.fill_between([i - 0.35, i + 0.35], -r["mde"], r["mde"], color="0.88", lw=0, zorder=0)
        out[r["comparison"]] = {
            "per_seed": dots,
            "estimate": r["estimate"],
            "lo": r["lo"],
            "hi": r["hi"],
            "mde": r["mde"],
            "primary": r["primary"],
            "verdict": r["verdict"],
        }
    ax.axhline(0, color="0.3", lw=0.9)
    ax.set_xticks(
        range(len(rows)), [r["comparison"] + ("" if r["primary"] else "\n(shown only)") for r in rows]
    )
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return out


# %%
fig, axes = figure(2, 2, width=7.4, height=4.2)
axes = axes.ravel()
table = {"gate": c.gate(profile, results_root)["passes"]}
table["accuracy"] = panel(
    axes[0],
    engine_rows("accuracy", "test accuracy"),
    runs,
    "test accuracy",
    "MISA − arm, test accuracy",
    "(a) does MISA beat LISA, BAdam, LoRA? (test accuracy)",
)
table["importance_scores"] = panel(
    axes[1],
    engine_rows("importance_scores", "test accuracy"),
    runs,
    "test accuracy",
    "MISA − arm, test accuracy",
    "(b) do the importance scores help? (η = 1 vs η = 0)",
)
table["validation_loss"] = panel(
    axes[2],
    engine_rows("accuracy", "validation loss"),
    runs,
    "validation loss",
    "MISA − arm, validation loss",
    "(c) the same arms on validation loss (below 0: MISA better)",
)
if pretrain:
    table["c4_pretraining"] = panel(
        axes[3],
        engine_rows("c4_pretraining", "validation loss"),
        pretrain,
        "validation loss",
        "MISA − arm, validation loss",
        f"(d) pre-training stand-in: tiny Llama, {pretrain[0].config['max_steps']} steps",
    )
else:
    axes[3].set_axis_off()
for ax in axes:
    for label in ax.get_xticklabels():
        label.set(rotation=20, ha="right", rotation_mode="anchor")
axes[0].legend(
    handles=[
        Line2D([], [], ls="", marker="o", color="0.5", label="one seed"),
        Line2D([], [], ls="-", marker="D", color="black", label="verdict's 95 % interval"),
        Line2D([], [], ls="-", lw=8, color="0.88", label="± MDE (80 % power)"),
    ],
    loc="lower left",
    fontsize=9,
)
verdicts = from_file("misa", ["accuracy", "importance_scores", "c4_pretraining"], profile)
steps = max(r.config["max_steps"] for r in runs if r.name != "zero_shot")
n_seeds = len({r.seed for r in runs if r.name == "misa"})
finish(
    fig,
    figure_path,
    table,
    verdicts,
    f"MISA − each arm, paired by seed (SmolLM2-135M, arithmetic, {steps} steps, {n_seeds} seeds of MISA)",
)

# %%
verdict_cell(verdicts)

# %% [markdown]
# # MISA accuracy comparison (paper: math and commonsense tables, LLaMA3-8B), CPU stand-in
# SmolLM2-135M fine-tuned with full FT, LoRA (r 8), LISA (1 layer + embeddings + head, K = 5), BAdam (1 layer,
# `badam` package, K = 5) and MISA (δ = 3 %, T = 5), 3 seeds each, on (a) the bigbench arithmetic split, scored by
# multiple-choice accuracy on the test examples and by lm-eval's `sft_math_mc` (acc_norm), and (b) the multiemo
# sentiment split, scored by verbalizer accuracy. Every seed is a point; the black bar is the mean with a 95 %
# t-interval over seeds. The verdict is MISA − LoRA test accuracy on the same test examples, with the interval of
# the crossed seeds × test-items design (`core.stats.accuracy_diff`; never pooled).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_accuracy.png"

# %%
from core.claims import fmt_interval, judge, verdict_cell
from core.plotting import figure, finish, name, seed_points, tilt
from core.results import by_method, load_runs
from core.stats import accuracy_diff, mde_accuracy, t_interval

methods = ["full", "lora", "lisa", "badam", "misa"]
panels = [
    ("accuracy_math", "test_accuracy"),
    ("accuracy_math", "sft_math_mc"),
    ("accuracy_sentiment", "test_accuracy"),
    ("accuracy_math", "eval_loss"),
]
value = {
    "test_accuracy": lambda r: r.result["test_accuracy"],
    "eval_loss": lambda r: r.result["eval_loss"],
    "sft_math_mc": lambda r: r.result["lm_eval"]["sft_math_mc"]["acc_norm"],
}
runs = {exp: load_runs("misa", exp, profile, results_root) for exp in ("accuracy_math", "accuracy_sentiment")}
table, verdicts = {}, []
for exp, metric in panels:
    per_seed = by_method(runs[exp], value[metric], methods)
    table.setdefault(exp, {})[metric] = {
        m: {"per_seed": s, "mean": t_interval(list(s.values()))} for m, s in per_seed.items()
    }
for exp, group in runs.items():
    correct = by_method(group, lambda r: r.result["test_correct"], methods)
    seeds = sorted(set(correct["misa"]) & set(correct["lora"]))
    iv = accuracy_diff([correct["misa"][s] for s in seeds], [correct["lora"][s] for s in seeds])
    acc = table[exp]["test_accuracy"]
    mde = mde_accuracy([correct["misa"][s] for s in seeds], [correct["lora"][s] for s in seeds])
    table[exp]["misa_minus_lora"] = {"interval": iv, "mde": mde}
    verdicts.append(
        judge(
            "misa",
            "accuracy",
            iv,
            mde,
            label=f"{name(exp)}: MISA − LoRA",
            ours=f"{name(exp)}: MISA − LoRA test accuracy {fmt_interval(iv)}",
        )
    )

# %%
fig, axes = figure(4, 1, width=3.7, height=4.3)
for ax, (exp, metric) in zip(axes, panels):
    rows = table[exp][metric]
    seed_points(
        ax,
        {m: list(rows[m]["per_seed"].values()) for m in rows},
        {m: rows[m]["mean"] for m in rows},
        ylabel=name(metric) if metric != "sft_math_mc" else "acc_norm",
    )
    ax.set_title(
        f"{name(exp)}: {name(metric)}" if metric != "sft_math_mc" else "arithmetic: lm-eval multiple choice"
    )
    tilt(ax)
    if "accuracy" in metric or metric == "sft_math_mc":
        ax.set_ylim(-0.02, 1.02)
    if ax is not axes[0]:
        ax.get_legend().remove()
finish(
    fig,
    figure_path,
    table,
    verdicts,
    f"MISA vs full FT, LoRA, LISA, BAdam on SmolLM2-135M "
    f"({runs['accuracy_math'][0].config['max_steps']} steps)",
)

# %%
verdict_cell(verdicts)

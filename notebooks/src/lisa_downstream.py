# %% [markdown]
# # LISA downstream comparison (paper: MT-Bench Table 3, GSM8K Tables 4-5), offline stand-in
# The paper's MT-Bench needs a GPT-4 judge and its benchmarks are not available offline, so the claim is not
# testable here. As a proxy, the instruction-tuned models of the loss-curve runs are scored on held-out splits
# via lm-evaluation-harness on local tasks (`core.evaluate`): arithmetic multiple choice (length-normalised
# acc_norm) and exact greedy reproduction of the instruction split's reference answers (acc), `lm_eval_limit`
# examples per task and seed. Every seed is a point; the bar is the mean with a 95 % t-interval over seeds.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_downstream.png"

# %%
from core.claims import fmt_interval, untestable, verdict_cell
from core.plotting import figure, finish, name, seed_points
from core.results import by_method, load_runs, paired
from core.stats import paired_interval, t_interval

runs = load_runs("lisa", "loss_curves", profile, results_root)
methods = [m for m in ("full", "lora", "galore", "lisa") if any(r.name == m for r in runs)]
tasks = {"sft_math_mc": "acc_norm", "sft_instruct_ll": "acc"}
scores = {
    t: by_method(runs, lambda r, t=t, k=k: r.result["lm_eval"][t][k], methods) for t, k in tasks.items()
}
table = {
    t: {m: {"per_seed": s[m], "mean": t_interval(list(s[m].values()))} for m in methods}
    for t, s in scores.items()
}
table["lisa_minus_lora"] = {t: paired_interval(*paired(scores[t]["lisa"], scores[t]["lora"])) for t in tasks}
verdicts = [
    untestable(
        "lisa",
        "downstream",
        "proxy: LISA − LoRA "
        + "; ".join(f"{name(t)} {fmt_interval(table['lisa_minus_lora'][t])}" for t in tasks),
    )
]

# %%
fig, axes = figure(2, 1, width=6.4)
for ax, t in zip(axes, tasks):
    seed_points(
        ax,
        {m: list(scores[t][m].values()) for m in methods},
        {m: table[t][m]["mean"] for m in methods},
        ylabel="accuracy",
    )
    ax.set_title(name(t))
    ax.set_ylim(-0.05, 1.05)
finish(
    fig, figure_path, table, verdicts, "LISA downstream proxy: held-out arithmetic and instruction answers"
)

# %%
verdict_cell(verdicts)

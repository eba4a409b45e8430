# %% [markdown]
# # IST accuracy: LoRA vs LoRA + IST vs random layer selection (RST control) vs LISA, with memory
# Paper claim (IST abstract): importance-aware sparse tuning improves LoRA-family PEFT on commonsense and arithmetic
# tasks while updating only part of the layers per step. No numeric table of the paper was reachable, so only the
# direction is compared. CPU stand-in: SmolLM2-135M, batch 4, 3 seeds, (a) bigbench arithmetic: multiple-choice
# accuracy on the test examples; (b) multiemo sentiment: verbalizer accuracy. `ist_random` trains the same number of
# layers per step, chosen uniformly: IST − random isolates the scores. Every seed is a point; black: mean and 95 %
# t-interval over seeds. Verdicts: the accuracy difference on the same test examples with the interval of the
# crossed seeds × test-items design (`core.stats.accuracy_diff`). Right: measured peak memory of one step
# (`papers/ist/memory.py`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_accuracy.png"

# %%
from core.claims import fmt_interval, judge, measured, verdict_cell
from core.plotting import bars, figure, finish, name, seed_points, tilt
from core.results import by_method, load_json, load_runs
from core.stats import accuracy_diff, mde_accuracy, t_interval
from core.study import study_path

methods = ["lora", "ist", "ist_random", "lisa"]
table, verdicts = {}, []
for exp in ("accuracy_math", "accuracy_sentiment"):
    runs = load_runs("ist", exp, profile, results_root)
    acc = by_method(runs, lambda r: r.result["test_accuracy"], methods)
    correct = by_method(runs, lambda r: r.result["test_correct"], methods)
    table[exp] = {m: {"per_seed": acc[m], "mean": t_interval(list(acc[m].values()))} for m in acc}
    for other, claim in (("lora", "accuracy"), ("ist_random", "ist_vs_random")):
        seeds = sorted(set(correct["ist"]) & set(correct[other]))
        iv = accuracy_diff([correct["ist"][s] for s in seeds], [correct[other][s] for s in seeds])
        mde = mde_accuracy([correct["ist"][s] for s in seeds], [correct[other][s] for s in seeds])
        table[exp][f"ist_minus_{other}"] = {"interval": iv, "mde": mde}
        verdicts.append(
            judge(
                "ist",
                claim,
                iv,
                mde,
                label=f"{name(exp)}, IST − {name(other)}",
                ours=f"test accuracy {fmt_interval(iv)}",
            )
        )
memory = load_json(study_path("ist", "memory", profile, results_root))
table["memory_mb"] = {r["label"]: r["peak_mb"] for r in memory["rows"] if "skipped" not in r}
ist_key = next(k for k in table["memory_mb"] if k.startswith("ist"))
ratio = table["memory_mb"][ist_key] / table["memory_mb"]["lora"]
verdicts.append(
    judge(
        "ist",
        "memory",
        measured(ratio),
        0.0,
        unit="x",
        label="memory",
        ours=f"measured peak {name(ist_key)} ÷ LoRA = {ratio:.2f}×",
    )
)

# %%
fig, axes = figure(3, 1, width=4.9, height=4.4)
for ax, exp in zip(axes, ("accuracy_math", "accuracy_sentiment")):
    rows = {m: table[exp][m] for m in methods if m in table[exp]}
    seed_points(
        ax,
        {m: list(r["per_seed"].values()) for m, r in rows.items()},
        {m: r["mean"] for m, r in rows.items()},
        ylabel="test accuracy",
    )
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{name(exp)}: test accuracy")
    tilt(ax)
axes[1].get_legend().remove()
bars(axes[2], table["memory_mb"], ylabel="peak memory of one step (MB)", fmt="{:.0f}")
axes[2].set_title("memory, batch 4×64 (measured)")
tilt(axes[2])
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "IST on SmolLM2-135M: accuracy against LoRA and random layer selection, and memory",
)

# %%
verdict_cell(verdicts)

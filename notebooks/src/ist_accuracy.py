# %% [markdown]
# # IST accuracy: LoRA vs LoRA + IST vs random layer selection (RST control) vs LISA, with memory and time
# Paper claim (IST abstract): importance-aware sparse tuning improves LoRA-family PEFT on commonsense and
# arithmetic tasks while updating only part of the layers per step. No numeric table of the paper was
# reachable (papers/ist/claims.yaml), so only the direction is compared. CPU stand-in: SmolLM2-135M, 16 steps (20 before v002),
# batch 4, 3 seeds, (a) bigbench arithmetic: multiple-choice accuracy on 32 test examples and lm-eval
# sft_math_mc (acc_norm, 20 examples); (b) multiemo sentiment: verbalizer accuracy on 32 test examples (48 before v002).
# `ist_random` trains the same number of layers per step, chosen uniformly: IST − ist_random isolates the
# scores. CIs: percentile bootstrap over the pooled per-example test predictions of the 3 seeds.
# Right panel: peak memory of one step (`papers/ist/memory.py`, same procedure as `make bench`) and the runs'
# mean step time (which includes IST's probe forwards).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_accuracy.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.results import load_json, load_runs, save_figure
from core.stats import bootstrap_ci

methods = ["lora", "ist", "ist_random", "lisa"]
table = {}
for exp in ("accuracy_math", "accuracy_sentiment"):
    runs = load_runs("ist", exp, profile, results_root)
    table[exp] = {}
    for m in methods:
        group = [r for r in runs if r.name == m]
        row = {"test_accuracy_pooled": bootstrap_ci([c for r in group for c in r.result["test_correct"]]),
               "test_accuracy_seed_means": bootstrap_ci([r.result["test_accuracy"] for r in group]),
               "eval_loss": bootstrap_ci([r.result["eval_loss"] for r in group]),
               "mean_step_s": float(np.mean([r.result["mean_step_s"] for r in group])),
               "seeds": [r.seed for r in group]}
        if "lm_eval" in group[0].result:
            row["sft_math_mc_acc_norm"] = bootstrap_ci([r.result["lm_eval"]["sft_math_mc"]["acc_norm"] for r in group])
        table[exp][m] = row
table["ist_minus_random"] = {exp: table[exp]["ist"]["test_accuracy_pooled"][0] - table[exp]["ist_random"]["test_accuracy_pooled"][0]
                             for exp in ("accuracy_math", "accuracy_sentiment")}
memory = load_json(Path(results_root) / "ist" / "memory" / f"{profile}-cpu.json")
table["memory"] = {r["label"]: {"peak_mb": r["peak_mb"], "analytic_mb": r["predicted_peak_mb"],
                                "step_s": r["step_s_median"], "trainable_params": r["trainable_params"]}
                   for r in memory["rows"] if "skipped" not in r}

# %%
panels = [("accuracy_math", "test_accuracy_pooled"), ("accuracy_math", "sft_math_mc_acc_norm"),
          ("accuracy_sentiment", "test_accuracy_pooled")]
fig, axes = plt.subplots(1, 4, figsize=(19, 3.9))
for ax, (exp, key) in zip(axes, panels):
    vals = [table[exp][m][key] for m in methods]
    err = np.array([[v[0] - v[1], v[2] - v[0]] for v in vals]).T
    ax.bar(methods, [v[0] for v in vals], yerr=err, capsize=4, color=[f"C{i}" for i in range(len(methods))])
    ax.set_ylim(0, 1)
    ax.set_title(f"{exp.split('_')[1]}: {key}", fontsize=9)
mem = table["memory"]
labels = list(mem)
ax = axes[3]
ax.bar(labels, [mem[k]["peak_mb"] for k in labels], color="gray")
ax.set_ylabel("peak MB (one step, batch 4x64)")
ax2 = ax.twinx()
ax2.plot(labels, [mem[k]["step_s"] for k in labels], "ko-")
ax2.set_ylabel("step s (one step, no probes)")
ax.set_title("memory and time per method", fontsize=9)
save_figure(fig, figure_path, table)

# %%
for exp in ("accuracy_math", "accuracy_sentiment"):
    for m in methods:
        print(exp, m, {k: (tuple(round(x, 3) for x in v) if isinstance(v, tuple) else v) for k, v in table[exp][m].items()})
print(table["ist_minus_random"])
print(table["memory"])

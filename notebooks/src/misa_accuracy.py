# %% [markdown]
# # MISA accuracy comparison (paper: math and commonsense tables, LLaMA3-8B), CPU stand-in
# SmolLM2-135M fine-tuned for 16 steps (batch 4; 20 before v002) with full FT, LoRA (r 8), LISA (1 layer + embeddings + head, K = 5),
# BAdam (1 layer, `badam` package, K = 5) and MISA (δ = 3 %, T = 5), 3 seeds each, on (a) the bigbench arithmetic
# split, scored by multiple-choice accuracy on 32 test examples (`test_accuracy`) and by lm-eval's `sft_math_mc`
# (acc_norm, 20 examples), and (b) the multiemo sentiment split, scored by verbalizer accuracy on 32 test examples (48 before v002).
# At 16 steps MISA is still in its reference warm-up (every module once, ~27 steps at δ = 3 %).
# CIs: percentile bootstrap over the pooled test predictions of the 3 seeds (example-level), and over seed means.
# Paper numbers quoted: LLaMA3-8B commonsense average, MISA δ = 3 %: 86.6 % ("slightly below full FT, clearly
# above PEFT and layer-wise methods"; secondary only, papers/misa/claims.yaml). Other cells: not found.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_accuracy.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure
from core.stats import bootstrap_ci

methods = ["full", "lora", "lisa", "badam", "misa"]
experiments = {"accuracy_math": ["test_accuracy", "sft_math_mc acc_norm", "eval_loss"],
               "accuracy_sentiment": ["test_accuracy", "eval_loss"]}


def metric(run, name):
    if name.startswith("sft_"):
        task, key = name.split()
        return run.result["lm_eval"][task][key]
    return run.result[name]


table = {}
for exp, metrics in experiments.items():
    runs = load_runs("misa", exp, profile, results_root)
    table[exp] = {}
    for m in methods:
        group = [r for r in runs if r.name == m]
        row = {name: bootstrap_ci([metric(r, name) for r in group]) for name in metrics}
        row["test_accuracy_pooled"] = bootstrap_ci([c for r in group for c in r.result["test_correct"]])
        row["seeds"] = [r.seed for r in group]
        row["step_s"] = float(np.mean([r.result["mean_step_s"] for r in group]))
        row["trainable_params_end"] = group[0].result["trainable_params_end"]
        table[exp][m] = row

# %%
panels = [("accuracy_math", "test_accuracy_pooled"), ("accuracy_math", "sft_math_mc acc_norm"),
          ("accuracy_sentiment", "test_accuracy_pooled"), ("accuracy_math", "eval_loss")]
fig, axes = plt.subplots(1, len(panels), figsize=(18, 3.8))
for ax, (exp, name) in zip(axes, panels):
    vals = [table[exp][m][name] for m in methods]
    err = np.array([[v[0] - v[1], v[2] - v[0]] for v in vals]).T
    ax.bar(methods, [v[0] for v in vals], yerr=err, capsize=4, color=[f"C{i}" for i in range(len(methods))])
    ax.set_title(f"{exp.split('_')[1]}: {name}", fontsize=9)
    if "loss" not in name:
        ax.set_ylim(0, 1)
save_figure(fig, figure_path, table)

# %%
for exp, rows in table.items():
    print(exp)
    for m, row in rows.items():
        print(f"  {m:6s}", {k: (tuple(round(x, 3) for x in v) if isinstance(v, tuple) else v) for k, v in row.items()})

# %% [markdown]
# # LISA downstream comparison (paper: MT-Bench Table 3, GSM8K Tables 4-5), offline stand-in
# Scores of the instruction-tuned models of the loss-curve runs on held-out splits, via lm-evaluation-harness
# on local tasks (`core.evaluate`): arithmetic multiple choice (`sft_math_mc`, length-normalized acc_norm) and exact greedy
# reproduction of the instruction split's reference answers (`sft_instruct_ll`, acc). `lm_eval_limit` test
# examples per task and seed (24 in the `cpu` profile; 40 before v002); mean and 95% bootstrap CI over seeds.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_downstream.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure
from core.stats import bootstrap_ci

runs = load_runs("lisa", "loss_curves", profile, results_root)
methods = ["full", "lora", "galore", "lisa"]
tasks = {"sft_math_mc": "acc_norm", "sft_instruct_ll": "acc"}
table = {m: {t: bootstrap_ci([r.result["lm_eval"][t][metric] for r in runs if r.name == m])
             for t, metric in tasks.items()} for m in methods}

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, (t, metric) in zip(axes, tasks.items()):
    means = [table[m][t][0] for m in methods]
    err = np.array([[table[m][t][0] - table[m][t][1], table[m][t][2] - table[m][t][0]] for m in methods]).T
    ax.bar(methods, means, yerr=err, capsize=4, color=["C0", "C1", "C2", "C3"])
    ax.set_title(f"{t} ({metric})")
    ax.set_ylabel("accuracy")
save_figure(fig, figure_path, table)

# %%
for m in methods:
    print(m, {t: tuple(round(x, 3) for x in table[m][t]) for t in tasks})

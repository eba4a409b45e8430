# %% [markdown]
# # LISA downstream comparison (paper: MT-Bench Table 3, GSM8K Tables 4-5), offline stand-in
# The paper's MT-Bench needs a GPT-4 judge and its benchmarks are not available offline, so the claim is not
# testable here. As a proxy, the instruction-tuned models of the loss-curve runs are scored on held-out splits via
# lm-evaluation-harness on local tasks (`core.sources.evaluate`): arithmetic multiple choice (length-normalised acc_norm)
# and exact greedy reproduction of the instruction split's reference answers (acc), `lm_eval_limit` items per task
# and seed. One panel per proxy: LISA − comparator with the claims file's interval (paired t by seed, or Welch t
# when LISA has more seeds: papers.lisa.panels.seed_dots). The learnability gate fails both proxies (full FT does not beat the untrained model or the majority
# class), so their rows are not testable at this budget (papers/lisa/claims.py, `gate_verdict`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_downstream.png"

# %%
from core.infra.results import by_method, load_runs
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows, difference_panel, row, seed_dots

runs = d.trained(load_runs("lisa", "loss_curves", profile, results_root))
rows = claim_rows("downstream", profile, results_root)
table, panels = {"rows": rows}, {}
for task, key in d.PROXIES.values():
    per = by_method(runs, lambda r, t=task, k=key: r.result["lm_eval"][t][k])
    table[f"{task} {key} per method"] = per
    items = []
    for comp in d.LOSS_COMPARATORS:
        dots, unit, interval = seed_dots(per[d.OURS], per[comp])
        r = row(rows, f"LISA − {'full FT' if comp == 'full' else 'LoRA'}", f"{task} accuracy ({key})")
        items.append((f"LISA − {name(comp)}", r, dots))
    panels[task] = items
verdicts = from_file("lisa", ["downstream"], profile)

# %%
fig, axes = figure(2, 1, width=6.2, height=4.2)
for ax, (task, items) in zip(axes, panels.items()):
    difference_panel(ax, items, "LISA − comparator, accuracy", unit, interval)
    ax.set_ylim(-0.6, 0.6)  # accuracy differences on a fixed scale: 24 items per seed
    ax.set_title(f"{name(task)}: gate fails")
finish(
    fig, figure_path, table, verdicts, "LISA downstream proxy: LISA − LoRA and − full FT on held-out items"
)

# %%
verdict_cell(verdicts)

# %% [markdown]
# # LISA: loss of full FT, LoRA, GaLore and LISA (paper: `*_gpt4_loss_step`)
# Paper claim (LISA §4.2): on Alpaca-GPT4, LISA's loss falls as fast as or faster than full fine-tuning's, and
# below LoRA's and GaLore's. Here: SmolLM2-135M-Instruct on the bigbench natural_instructions split, every
# method on the same batches for a given seed. Left: training loss (5-step moving average), each seed thin,
# the mean thick, the band a 95 % t-interval over seeds. Right: the validation loss at the end, which the
# verdict uses: LISA − LoRA paired by seed (same seed = same data order), 95 % paired t-interval.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_loss_curves.png"

# %%
import numpy as np

from core.claims import fmt_interval, judge, verdict_cell
from core.plotting import figure, finish, loss_panels, name
from core.results import by_method, load_runs, paired
from core.stats import mde_of, paired_interval, t_interval

runs = load_runs("lisa", "loss_curves", profile, results_root)
methods = [m for m in ("full", "lora", "galore", "lisa") if any(r.name == m for r in runs)]
evals = by_method(runs, lambda r: r.result["eval_loss"], methods)
diffs = {m: paired_interval(*paired(evals["lisa"], evals[m])) for m in methods if m != "lisa"}
table = {
    m: {
        "eval_loss": t_interval(list(evals[m].values())),
        "eval_loss_per_seed": evals[m],
        "final_train_loss_per_seed": {r.seed: float(np.mean(r.losses[-5:])) for r in runs if r.name == m},
    }
    for m in methods
}
table["lisa_minus"] = diffs
verdicts = [
    judge(
        "lisa",
        "loss_curves",
        diffs["lora"],
        mde_of(*paired(evals["lisa"], evals["lora"])),
        ours="LISA − LoRA validation loss " + fmt_interval(diffs["lora"]),
    )
]

# %%
fig, (ax_train, ax_eval) = figure(2, 1, width=6.4)
loss_panels(ax_train, ax_eval, runs, evals, {m: table[m]["eval_loss"] for m in methods})
ax_eval.set_title("validation loss (the verdict's metric)")
ax_train.set_title(f"SmolLM2-135M, instructions, {runs[0].config['max_steps']} steps")
others = ", ".join(name(m) for m in methods if m != "lisa")
finish(fig, figure_path, table, verdicts, f"LISA vs {others}: loss on the same batches")

# %% [markdown]
# Paired differences of the validation loss, LISA − each method (negative = LISA lower), 95 % paired t over seeds:

# %%
from IPython.display import Markdown

Markdown("\n".join(f"- LISA − {m}: {fmt_interval(iv)}" for m, iv in diffs.items()))

# %%
verdict_cell(verdicts)

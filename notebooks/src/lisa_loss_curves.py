# %% [markdown]
# # LISA: loss of LISA against full FT and LoRA on the same batches (paper: `*_gpt4_loss_step`)
# Paper claim (LISA §4.2, Fig. 1): on Alpaca-GPT4, LISA's loss falls as fast as or faster than full fine-tuning's,
# and below LoRA's and GaLore's. Here: SmolLM2-135M-Instruct on the bigbench natural_instructions split, every
# method on the same batches for a given seed (same seed = same data order).
# Left: training loss (5-step moving average; each seed thin, the mean thick, the band a 95 % t-interval over
# seeds), descriptive. Middle: the pre-registered primary metric, the validation loss after training, as
# differences LISA − comparator with the claims file's interval (paired t when both arms ran the same seeds, one dot
# per seed; Welch t when LISA has more seeds, one dot per LISA seed minus the comparator's mean). Right: the same for the
# final training loss (mean of the last 5 steps), a secondary row that does not decide. Verdict: the claims file.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_loss_curves.png"

# %%
import numpy as np

from core.analysis.curves import smooth
from core.infra.results import by_method, load_runs
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import band_curves, figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows, difference_panel, row, seed_dots

runs = d.trained(load_runs("lisa", "loss_curves", profile, results_root))
rows = claim_rows("loss_curves", profile, results_root)
table = {"rows": rows}
panels = {}
for metric, (value, _) in d.LOSS_METRICS.items():
    per = by_method(runs, value)
    items = []
    for comp in d.LOSS_COMPARATORS:
        diffs, unit, interval = seed_dots(per[d.OURS], per[comp])
        r = row(rows, f"LISA − {'full FT' if comp == 'full' else 'LoRA'}", metric)
        items.append((f"LISA − {name(comp)}", r, diffs))
        table[f"{metric}: LISA − {comp} per {unit}"] = diffs
    panels[metric] = items
    table[f"{metric} per method"] = per
verdicts = from_file("lisa", ["loss_curves"], profile)

# %%
fig, (ax_curve, ax_eval, ax_train) = figure(3, 1, width=5.0, height=4.4)
curves = {
    m: np.array([smooth(r.losses, d.TRAIN_WINDOW) for r in runs if r.name == m]) for m in d.methods(runs)
}
band_curves(ax_curve, curves, ylabel=f"training loss ({d.TRAIN_WINDOW}-step moving average)")
ax_curve.set_title(f"training loss, {runs[0].config['max_steps']} steps (descriptive)")
(eval_metric, eval_items), (train_metric, train_items) = panels.items()
difference_panel(ax_eval, eval_items, "LISA − comparator, validation loss", unit, interval)
ax_eval.set_title("primary: validation loss after training")
difference_panel(ax_train, train_items, "LISA − comparator, training loss", unit, interval)
ax_train.set_title("secondary: training loss, last 5 steps")
lims = [ax.get_ylim() for ax in (ax_eval, ax_train)]  # one y range: both are loss differences
for ax in (ax_eval, ax_train):
    ax.set_ylim(min(lo for lo, _ in lims), max(hi for _, hi in lims))
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "Is LISA's loss below full FT's and LoRA's? (above 0: LISA's is higher)",
)

# %%
verdict_cell(verdicts)

# %% [markdown]
# # LISA seed variance (`random_variance`, Table 7)
# Paper (§4.5): across 3 layer-selection seeds the MT-Bench gap is within 0.13. MT-Bench cannot run offline, so the
# claim is not testable here; as a proxy: the validation loss of each seed of the loss-curve runs, LISA next to full
# FT (whose seeds change only the data order), and which layers each LISA seed trained. The ratio of the two seed sds
# is a secondary row of the claims file (a proxy; it does not decide).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_random_variance.png"

# %%
import numpy as np

from core.infra.results import by_method, load_runs
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish, name
from papers.lisa import design as d
from papers.lisa.panels import claim_rows

runs = d.trained(load_runs("lisa", "loss_curves", profile, results_root))
shown = [m for m in ("full", d.OURS) if m in d.methods(runs)]
evals = by_method(runs, d.eval_loss, shown)
layers = {
    r.seed: sorted({int(layer[5:]) for h in (r.result.get("lisa_history") or []) for layer in h["active"]})
    for r in runs
    if r.name == d.OURS
}
table = {
    "eval_loss_per_seed": evals,
    "eval_loss_range": {m: float(np.ptp(list(v.values()))) for m, v in evals.items()},
    "eval_loss_sd": {m: float(np.std(list(v.values()), ddof=1)) for m, v in evals.items()},
    "lisa_layers_trained": layers,
    "rows": claim_rows("random_variance", profile, results_root),
}
verdicts = from_file("lisa", ["random_variance"], profile)

# %%
fig, (ax_eval, ax_layers) = figure(2, 1, width=6.2, height=4.2)
for i, m in enumerate(shown):
    seeds = sorted(evals[m])
    ys = [evals[m][s] for s in seeds]
    ax_eval.scatter([i] * len(ys), ys, color=color(m), s=45, zorder=3)
    ax_eval.vlines(i + 0.12, min(ys), max(ys), color=color(m), lw=3)
    label = f"{len(ys)} seeds\nrange {np.ptp(ys):.3f}\nsd {np.std(ys, ddof=1):.3f}"
    ax_eval.annotate(label, (i + 0.16, float(np.mean(ys))), va="center")
ax_eval.set_xticks(range(len(shown)), [name(m) for m in shown])
ax_eval.set_xlim(-0.5, len(shown) - 0.2)
centre = float(np.mean([v for m in shown for v in evals[m].values()]))
ax_eval.set_ylim(centre - 0.5, centre + 0.5)
ax_eval.set_ylabel("validation loss after training (one dot per seed)")
ax_eval.set_title("spread across seeds (proxy)")
for seed, trained_layers in layers.items():
    ax_layers.scatter(trained_layers, [seed] * len(trained_layers), color=color("lisa"), s=30)
ax_layers.set_yticks(list(layers))
ax_layers.set_xlabel("layer index")
ax_layers.set_ylabel("LISA seed")
ax_layers.set_title("layers each LISA seed trained")
finish(fig, figure_path, table, verdicts, "LISA: how much do layer-selection seeds change the result?")

# %%
verdict_cell(verdicts)

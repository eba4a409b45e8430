# %% [markdown]
# # Does Sparse MeZO beat MeZO? (S-MeZO 0.8 − MeZO, paired by seed and test item)
# Paper (LLaMA-7b SuperGLUE table, papers/sparse_mezo/claims.yaml): MeZO → S-MeZO SST-2 94.6 → 95.0 (+0.004),
# RTE 71.7 → 80.7 (+9 points, claim `accuracy`), average 76.6 → 80.3 (claim `superglue_average`).
# Here (`compare_sentiment.yaml`, cpu profile): all-MiniLM-L6-v2 as a verbalizer classifier on bigbench multiemo
# sentiment (SST-2-like), 2,000 ZO steps of batch 8, each arm at its own probed lr, 3 seeds (data order and z);
# test accuracy on the same 500 items in every seed. The RTE-like task fails the learnability gate with this
# encoder, so claim `accuracy` is not tested (its reason is in the claims file).
# Panels: S-MeZO 0.8 − MeZO on test accuracy (the pre-registered primary test: crossed seeds × items interval,
# `core.analysis.item_stats.accuracy_diff`), balanced accuracy and validation loss (secondary: paired t over seeds). Dots: one
# seed's difference; black: the interval the verdict uses; grey: ±MDE; red diamond: the paper's SST-2 difference.
# Verdicts: the claims file (`python -m core.reporting.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_accuracy.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish
from papers.sparse_mezo.compare import PAIRS, SentimentComparison
from papers.sparse_mezo.plots import claim_word, difference_panel

data = SentimentComparison(profile, results_root)
pair = [(o, c, e) for o, c, claim, e, _ in PAIRS if claim == "superglue_average"]
verdicts = from_file("sparse_mezo", ["accuracy", "superglue_average"], profile)

# %%
fig, axes = figure(3, 1, width=4.4, height=4.4)
titles = {
    "test_accuracy": f"test accuracy (primary): {claim_word(verdicts, 'superglue_average')}",
    "balanced_accuracy": "balanced accuracy (secondary)",
    "eval_loss": "validation loss (secondary; lower is better)",
}
table = {m: difference_panel(ax, data, pair, m, t) for ax, (m, t) in zip(axes, titles.items())}
finish(fig, figure_path, table, verdicts, "S-MeZO 0.8 − MeZO, MiniLM on sentiment, 2,000 steps, 3 seeds")

# %%
verdict_cell(verdicts)

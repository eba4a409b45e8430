# %% [markdown]
# # Does zeroth-order fine-tuning land between zero-shot and backprop fine-tuning?
# Paper (claims.yaml `zo_between_zero_shot_and_ft`): LLaMA-7b SST-2 zero-shot 79.7, FT 95.7, MeZO between.
# Here (`compare_sentiment.yaml`): MiniLM on sentiment, test accuracy on the same 500 items; MeZO (2,000 ZO steps,
# 3 seeds) − zero-shot (one deterministic run, paired per item with each MeZO seed) and MeZO − full FT (AdamW,
# 500 steps, paired by seed and item); both are the claim's primary tests (above zero-shot; below full FT).
# Dots: one seed's difference; black: the crossed seeds × items interval the verdict uses; grey: ±MDE.
# Verdict: the claims file (`python -m core.reporting.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_zo_between_zero_shot_and_ft.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish
from papers.sparse_mezo.compare import BETWEEN, SentimentComparison
from papers.sparse_mezo.plots import claim_word, difference_panel

data = SentimentComparison(profile, results_root)
pairs = [(o, c, None) for o, c, _ in BETWEEN if data.comparable(o, c)]
verdicts = from_file("sparse_mezo", ["zo_between_zero_shot_and_ft"], profile)

# %%
fig, ax = figure(1, 1, width=6.4, height=4.8)
title = f"paper: MeZO above zero-shot, below full FT: {claim_word(verdicts, 'zo_between_zero_shot_and_ft')}"
table = {"test_accuracy": difference_panel(ax, data, pairs, "test_accuracy", title)}
finish(fig, figure_path, table, verdicts, "MeZO vs zero-shot and full FT, MiniLM on sentiment")

# %%
verdict_cell(verdicts)

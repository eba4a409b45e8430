# %% [markdown]
# # Which sparsity helps? Each S-MeZO sparsity − MeZO (0 = MeZO)
# Paper (claims.yaml `sparsity_ablation`): sparsity 0.5-0.8 helps, 0.8 best on most tasks (RTE 71.7 at 0 → 82.3
# at 0.8). Here (`compare_sentiment.yaml`): MiniLM on sentiment, 2,000 ZO steps, 3 seeds, each sparsity at its
# own probed lr. Pre-registered primary tests (claims.yaml `primary`): 0.5 and 0.7 − MeZO on test accuracy; 0.8 −
# MeZO is claim `superglue_average`'s test (drawn, not repeated in this claim); 0.9 lies outside the paper's
# 0.5-0.8 and is secondary (hollow: shown, never deciding). Left: test accuracy differences on the same 500 items
# (crossed seeds × items interval, per-seed dots, ±MDE); right: validation loss differences (secondary, paired t).
# Verdict: the claims file (`python -m core.reporting.claims_file sparse_mezo`), read, never computed here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_sparsity_ablation.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import figure, finish
from papers.sparse_mezo.compare import PAIRS, SWEEP, SentimentComparison
from papers.sparse_mezo.plots import claim_word, difference_panel

data = SentimentComparison(profile, results_root)
pairs = [(arm, "mezo", None) for s, arm in SWEEP.items() if s > 0 and data.comparable(arm, "mezo")]
secondary = {(o, c) for o, c, claim, _, primary in PAIRS if claim == "sparsity_ablation" and not primary}
verdicts = from_file("sparse_mezo", ["sparsity_ablation"], profile)

# %%
fig, (ax_a, ax_l) = figure(2, 1, width=7.2, height=4.6)
table = {
    "test_accuracy": difference_panel(
        ax_a,
        data,
        pairs,
        "test_accuracy",
        f"test accuracy: {claim_word(verdicts, 'sparsity_ablation')}",
        secondary,
    ),
    "eval_loss": difference_panel(
        ax_l, data, pairs, "eval_loss", "validation loss (secondary; lower is better)", secondary
    ),
}
finish(
    fig, figure_path, table, verdicts, "S-MeZO at sparsity 0.5 / 0.7 / 0.8 / 0.9 − MeZO, MiniLM on sentiment"
)

# %%
verdict_cell(verdicts)

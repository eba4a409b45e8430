# %% [markdown]
# # Does freeing the deselected adapters' AdamW state cost accuracy?
# The reference `ist.py` never touches the optimizer, so a deselected adapter keeps its stale AdamW moments; ours
# frees them (the memory claim's premise). `ist_keep` is IST keeping them, otherwise identical (same lr, score lr
# 10, 3 seeds, `configs/compare_math.yaml`). Every point is one seed's difference IST (state freed) − IST (state
# kept). Validation loss (paired t over seeds) is the pre-registered primary metric; test accuracy (crossed seeds ×
# items) is shown. Intervals: `papers/ist/compare.py`; verdict: the claims file.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_adapter_state.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import finish
from papers.ist.compare import Comparison
from papers.ist.plots import paired_figure

c = Comparison(profile, results_root)
pairs = [
    (ours, comparator, primary) for ours, comparator, claim, primary in c.pairs() if claim == "adapter_state"
]
fig, table = paired_figure(c, pairs)
verdicts = from_file("ist", ["adapter_state"], profile)
finish(
    fig, figure_path, table, verdicts, "Does freeing deselected adapters' AdamW state cost accuracy? Per seed"
)

# %%
verdict_cell(verdicts)

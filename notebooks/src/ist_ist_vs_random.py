# %% [markdown]
# # Do the importance scores matter? IST vs random layer selection at the same fraction
# Paper claim: the gain comes from the importance scores, not from updating a sparse subset of layers alone; the
# reference repo's control is random sparse tuning (RST, its `rst.py` is not shipped; ours draws the same number
# of layers uniformly every step, `ist: {uniform: true}`). Design as the accuracy figure
# (`configs/compare_math.yaml`: 310 steps; IST and random layers 8 seeds, the other arms 3; IST's probed lr for
# every IST arm). Every point is one seed's difference IST − random layers. Validation loss (paired t over seeds) is the pre-registered primary metric; test
# accuracy (crossed seeds × items) is shown, as is our score-lr-100 variant. Intervals: `papers/ist/compare.py`;
# verdict: the claims file.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_ist_vs_random.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import finish
from papers.ist.compare import Comparison
from papers.ist.plots import paired_figure

c = Comparison(profile, results_root)
pairs = [
    (ours, comparator, primary) for ours, comparator, claim, primary in c.pairs() if claim == "ist_vs_random"
]
fig, table = paired_figure(c, pairs)
table["gate_passes"] = c.gate["passes"]
verdicts = from_file("ist", ["ist_vs_random"], profile)
finish(fig, figure_path, table, verdicts, "Do IST's scores beat random layers at the same fraction? Per seed")

# %%
verdict_cell(verdicts)

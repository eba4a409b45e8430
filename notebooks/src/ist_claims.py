# %% [markdown]
# # Every claim at a glance (forest plot of the claims file)
# One row per comparison of `papers/ist/README.md`'s claims table, read from the claims engine's file
# (`data/results/ist/claims/<profile>.json`, `python -m core.reporting.claims_file ist`): ours − comparator with the
# interval its verdict uses, the ±MDE band, the paper's effect, and the verdict. Nothing is judged here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_claims.png"

# %%
from core.reporting.claims import claims, from_file, verdict_cell
from core.reporting.forest import forest
from core.reporting.plotting import finish

fig, table = forest("ist", profile)
verdicts = from_file("ist", list(claims("ist")["claims"]), profile)
finish(fig, figure_path, table, verdicts, "ist: every claim, ours − comparator with the interval its verdict uses")

# %%
verdict_cell(verdicts)

# %% [markdown]
# # Every claim at a glance (forest plot of the claims file)
# One row per comparison of `papers/misa/README.md`'s claims table, read from the claims engine's file
# (`data/results/misa/claims/<profile>.json`, `python -m core.reporting.claims_file misa`): ours − comparator with the
# interval its verdict uses, the ±MDE band, the paper's effect, and the verdict. Nothing is judged here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_claims.png"

# %%
from core.reporting.claims import claims, from_file, verdict_cell
from core.reporting.forest import forest
from core.reporting.plotting import finish

fig, table = forest("misa", profile)
verdicts = from_file("misa", list(claims("misa")["claims"]), profile)
finish(fig, figure_path, table, verdicts, "misa: every claim, ours − comparator with the interval its verdict uses")

# %%
verdict_cell(verdicts)

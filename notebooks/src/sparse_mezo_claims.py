# %% [markdown]
# # Every claim at a glance (forest plot of the claims file)
# One row per comparison of `papers/sparse_mezo/README.md`'s claims table, read from the claims engine's file
# (`data/results/sparse_mezo/claims/<profile>.json`, `python -m core.reporting.claims_file sparse_mezo`): ours − comparator with the
# interval its verdict uses, the ±MDE band, the paper's effect, and the verdict. Nothing is judged here.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_claims.png"

# %%
from core.reporting.claims import claims, from_file, verdict_cell
from core.reporting.forest import forest
from core.reporting.plotting import finish

fig, table = forest("sparse_mezo", profile)
verdicts = from_file("sparse_mezo", list(claims("sparse_mezo")["claims"]), profile)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "sparse_mezo: every claim, ours − comparator with the interval its verdict uses",
)

# %%
verdict_cell(verdicts)

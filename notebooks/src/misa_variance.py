# %% [markdown]
# # MISA: does module-wise importance sampling reduce gradient variance? (real SmolLM2 gradients)
# The paper claims MISA "provably reduces gradient variance compared to layer-wise sampling" (abstract; the
# theorem's statement was not reachable, papers/misa/claims.yaml). Blocks are disjoint coordinates, so the variance
# of any 1/π-reweighted block estimator is Σ_b (1/π_b − 1)‖g_b‖² (closed form; `core.analysis.stats`).
#
# Each panel answers one question and draws the interval its verdict uses, read from the claims engine's file
# (`papers/misa/claims.py` → `data/results/misa/claims/<profile>.json`; nothing is judged here):
# (a) the claim, decided at equal memory by the variance lab (`papers/variance_lab`): MISA's own sampler (EMA scores
# as `MisaCallback` computes them) ÷ LISA, 1/π-reweighted error, embeddings/head in both arms, γ = 1, 2, 4 layers'
# worth of parameters, 95 % t interval of the log ratio over 20 batch means of Monte-Carlo draws;
# (b) this folder's v002 study (`papers/misa/variance.py`: blocks only, no layer norms or embeddings/head, scores set
# to the mean block norms; 16 batches, percentile bootstrap), shown only;
# (c) our check of the premise: Monte Carlo ÷ closed form for four estimators on batch 0 (equality at ±10 %);
# (d) the paper's one-block p ∝ exp(min(5, η‖g_b‖²)) − uniform p, E‖ĝ − g‖²/‖g‖² per batch (dots) and the paired
# t interval over the 16 batches.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_variance.png"

# %%
import numpy as np

from core.infra.paths import read_claims, study_path
from core.infra.results import load_json
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish
from papers.misa.variance import block_matrix, single_block_table

claims_file = read_claims("misa", profile)
study = load_json(study_path("misa", "variance", profile, results_root))
single = single_block_table(block_matrix(study))


def engine_rows(claim: str, primary: bool | None = None) -> list[dict]:
    return [
        r for r in claims_file["rows"] if r["claim"] == claim and (primary is None or r["primary"] == primary)
    ]


def intervals(ax, rows: list[dict], ink: str, offset: float = 0.0) -> dict:
    """Each row's estimate with its interval (the engine's) at x = 0, 1, ...; returns them for the table."""
    out = {}
    for i, r in enumerate(rows):
        ax.errorbar(
            i + offset,
            r["estimate"],
            yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
            fmt="D",
            color=ink,
            capsize=5,
            ms=6,
            lw=1.6,
        )
        out[f"{r['comparison']}, {r['metric']}"] = {
            k: r[k] for k in ("estimate", "lo", "hi", "mde", "verdict")
        }
    return out


def ratio_axis(ax, lo: float, hi: float) -> None:
    """A log axis of ratios with plain tick labels (1 = no difference)."""
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ticks = [t for t in (0.4, 0.5, 0.75, 1, 1.5, 2) if lo <= t <= hi]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_formatter("")


def ratio_mde_band(ax, rows: list[dict]) -> None:
    for i, r in enumerate(rows):
        ax.fill_between([i - 0.3, i + 0.3], 1 / (1 + r["mde"]), 1 + r["mde"], color="0.88", lw=0, zorder=0)


# %%
fig, axes = figure(2, 2, width=7.2, height=4.2)
axes = axes.ravel()
table = {}

ax = axes[0]
rows = engine_rows("variance", primary=True)
ratio_mde_band(ax, rows)
table["equal_memory_lab"] = intervals(ax, rows, color("misa"))
ax.axhline(1, color="0.3", lw=0.9)
ratio_axis(ax, 0.5, 2.5)
ax.set_xticks(range(len(rows)), [r["comparison"].split(", ")[1] + " layers" for r in rows])
ax.set_ylabel("MISA ÷ LISA, 1/π error (log)")
ax.set_title("(a) the claim: MISA ÷ LISA at equal memory (variance lab)")

ax = axes[1]
rows = engine_rows("variance", primary=False)
ratio_mde_band(ax, rows)
table["blocks_only_v002"] = intervals(ax, rows, "0.45")
ax.axhline(1, color="0.3", lw=0.9)
ratio_axis(ax, 0.4, 2.5)
ax.set_xticks(range(len(rows)), [r["comparison"].split(", ")[1] for r in rows])
ax.set_ylabel("MISA ÷ LISA, 1/π variance (log)")
ax.set_title("(b) shown only: v002 study, blocks only, mean-norm scores")

ax = axes[2]
rows = engine_rows("variance_closed_form")
table["closed_form"] = intervals(ax, rows, "black")
ax.axhspan(0.9, 1.1, color="0.9", zorder=0, label="±10 % (equivalence margin)")
ax.axhline(1, color="0.3", lw=0.9)
ax.set_ylim(0.85, 1.15)
ax.set_xticks(range(len(rows)), [r["comparison"].removesuffix(", MC ÷ closed form") for r in rows])
for label in ax.get_xticklabels():
    label.set(rotation=15, ha="right", rotation_mode="anchor")
ax.set_ylabel("Monte Carlo ÷ closed form")
ax.set_title("(c) does the closed form match sampling? (batch 0)")
ax.legend(loc="upper right")

ax = axes[3]
rows = [r for r in engine_rows("sampling_distribution") if r["unit"] is None]
for i, r in enumerate(rows):
    eta = r["comparison"].split("η = ")[1].split(")")[0]
    per_batch = np.asarray(single[f"exp_eta{eta}"]) - np.asarray(single["exp_eta0"])
    ax.plot(
        i - 0.15 + np.linspace(-0.08, 0.08, per_batch.size),
        per_batch,
        "o",
        ms=4,
        alpha=0.6,
        color=color("misa"),
    )
    ax.fill_between([i - 0.35, i + 0.35], -r["mde"], r["mde"], color="0.88", lw=0, zorder=0)
table["one_block"] = intervals(ax, rows, "black", 0.15)
for i, r in enumerate(rows):
    if not r["primary"]:
        ax.errorbar(
            i + 0.15,
            r["estimate"],
            yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
            fmt="D",
            color="0.55",
            capsize=5,
            ms=6,
            lw=1.6,
        )
ax.axhline(0, color="0.3", lw=0.9)
ax.set_xticks(
    range(len(rows)),
    [
        r["comparison"].removesuffix(" − uniform p").replace("paper's p ", "p ∝ exp(ηG²) ")
        + ("" if r["primary"] else "\n(shown only)")
        for r in rows
    ],
)
ax.set_ylabel("E‖ĝ − g‖²/‖g‖²: paper's p − uniform")
ax.set_title("(d) one block: the paper's p vs uniform (dots: batches)")
table["one_block_per_batch"] = {k: list(v) for k, v in single.items()}

verdicts = from_file("misa", ["variance", "variance_closed_form", "sampling_distribution"], profile)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "MISA's sampling and gradient variance on real SmolLM2-135M gradients (grey band: ± MDE)",
)

# %%
verdict_cell(verdicts)

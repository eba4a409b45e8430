# %% [markdown]
# # IST score trajectories: do the layer scores separate at this scale?
# Every step of every IST run logs its layer scores to `ist_scores.jsonl` (core.callbacks.ISTCallback). A layer
# is drawn for training ∝ σ(−s_i) (papers/ist/REFERENCE.md §2), so what matters for selection is how far apart
# the scores are: with spread Δ = max s − min s, the most and least likely layers' weights differ by at most a
# factor σ(−min s)/σ(−max s) ≤ e^Δ. Left and middle: every layer's score over the steps of seed 0, with the
# reference's score lr (10) and our variant (`ist_slr100`, score lr 100). Right: the spread of every seed of
# every IST arm over the steps, with the largest weight ratio at the end of each run in the table.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_scores.png"

# %%
import matplotlib.pyplot as plt
import numpy as np

from core.claims import Verdict, fmt_interval, paper_claim, verdict_cell
from core.plotting import figure, finish
from core.results import load_runs
from core.stats import mde_of, t_interval
from core.verdicts import decide, inconclusive

runs = [r for r in load_runs("ist", "compare_math", profile, results_root) if r.name in ("ist", "ist_slr100")]
logs = {(r.name, r.seed): r.read("ist_scores.jsonl") for r in runs}


def weight_ratio(scores) -> float:
    """Largest over smallest selection weight σ(−s) among the layers."""
    w = 1 / (1 + np.exp(np.asarray(scores)))
    return float(w.max() / w.min())


table = {}
for (name, seed), rows in sorted(logs.items()):
    final = rows[-1]["scores"]
    counts = np.bincount([i for r in rows for i in r["selected"]], minlength=len(final))
    table[f"{name}-s{seed}"] = {
        "score_lr": next(r.config["ist"]["lr"] for r in runs if (r.name, r.seed) == (name, seed)),
        "updates": sum(1 for r in rows if r["probe_losses"]), "final_spread": float(np.ptp(final)),
        "final_weight_ratio": weight_ratio(final),
        "selection_counts_min_max": [int(counts.min()), int(counts.max())],
        "most_important_5": np.argsort(final)[:5].tolist()}
verdicts = []
for name in sorted({n for n, _ in logs}):
    # the claim: selection departs from uniform, i.e. log of the largest selection-weight ratio > 0 over seeds
    logs_ratio = [np.log(row["final_weight_ratio"]) for k, row in table.items() if k.rsplit("-s", 1)[0] == name]
    if len(logs_ratio) >= 3:
        iv = t_interval(logs_ratio)
        verdict, ours = decide(iv, None, mde_of(logs_ratio), +1), f"log weight ratio {fmt_interval(iv)}"
    else:
        verdict, ours = inconclusive(float("inf")), f"{len(logs_ratio)} seed(s): no interval"
    verdicts.append(Verdict(paper_claim("ist", "scores"), verdict, ours, name))
print(table)

# %%
names = sorted({n for n, _ in logs})
fig, axes = figure(ncols=len(names) + 1, height=4.2)
for ax, name in zip(axes, names):
    seed = min(s for n, s in logs if n == name)
    rows = logs[(name, seed)]
    steps = [r["step"] for r in rows]
    scores = np.array([r["scores"] for r in rows])
    for i in range(scores.shape[1]):
        ax.plot(steps, scores[:, i], color=plt.cm.viridis(i / max(scores.shape[1] - 1, 1)), lw=1)
    ax.set_title(f"{name} s{seed}: score lr {table[f'{name}-s{seed}']['score_lr']:g}", fontsize=10)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("score s_i (low = important)")
for (name, seed), rows in sorted(logs.items()):
    axes[-1].plot([r["step"] for r in rows], [max(r["spread"], 1e-6) for r in rows],
                  color=f"C{names.index(name)}", alpha=0.8, label=f"{name} s{seed}")
axes[-1].set_yscale("log")
axes[-1].set_xlabel("optimizer step")
axes[-1].set_ylabel("score spread max s − min s")
axes[-1].legend(fontsize=9)
axes[-1].set_title("spread (e^spread bounds the weight ratio)", fontsize=10)
finish(fig, figure_path, table, verdicts, "IST score trajectories (colour: layer 0 dark) and their spread")

# %% [markdown]
# ## Reading
# The table gives, per run, the final spread and the largest selection-weight ratio it implies. A ratio near 1
# means the scores leave selection practically uniform, i.e. that arm is the random-selection control by
# construction; the README's claim 4 row quotes these numbers from this figure's manifest entry.

# %%
for run, row in table.items():
    print(f"{run}: {row['updates']} updates, spread {row['final_spread']:.3g}, "
          f"weight ratio {row['final_weight_ratio']:.3g}")

# %%
verdict_cell(verdicts)

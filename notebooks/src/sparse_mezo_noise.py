# %% [markdown]
# # Sparse MeZO: does ZO noise hurt more on large weights? (paper §3 observation, abstract)
# Paper claim: "the estimation error will hurt more when adding to large weights instead of small weights";
# that motivates perturbing and updating only the small-magnitude entries. The paper's own figure values were
# not reachable (papers/sparse_mezo/claims.yaml), so only the direction is compared.
# Here (`papers/sparse_mezo/noise.py`): pre-trained SmolLM2-135M and all-MiniLM-L6-v2 (as a verbalizer
# classifier), one fixed batch of 8 sentiment training examples, 10 SPSA directions z. Each tensor's entries
# are split into magnitude quintiles (Q1 smallest |θ|). Per quintile: (left) loss change of the same noise
# σ·m⊙z, σ = 1e-2; (middle) loss change of MeZO's update −lr·g·m⊙z kept on that quintile (lr = the model's ZO lr);
# (right) relative error of the dense SPSA estimate against backprop on that quintile, E‖ĝ_b − ∇_b‖² / E‖∇_b‖²,
# with the quintile's share of ‖∇L‖². Means over the 10 directions with 95 % bootstrap CIs.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_noise.png"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.results import load_json, save_figure
from core.stats import bootstrap_ci, bootstrap_ratio_ci

data = load_json(Path(results_root) / "sparse_mezo" / "noise" / f"{profile}.json")
labels = [f"Q{i + 1}" for i in range(len(data["bands"]))]
table = {}
for model, res in data["models"].items():
    draws = res["draws"]
    col = lambda key: np.array([d[key] for d in draws])  # noqa: E731  (draws x bands)
    err, gsq, dot, est = col("err"), col("grad_sq"), col("dot"), col("est_sq")
    table[model] = {
        "base_loss": res["base_loss"], "lr": res["lr"], "n_params": res["n_params"],
        "mean_abs_weight": (col("abs_sum")[0] / col("count")[0]).tolist(),
        "entries": col("count")[0].tolist(),
        "grad_share": (gsq[0] / res["grad_sq_total"]).tolist(),
        "noise_dL": [bootstrap_ci(col("noise")[:, b]) for b in range(len(labels))],
        "step_dL": [bootstrap_ci(col("step")[:, b]) for b in range(len(labels))],
        "relative_error": [bootstrap_ratio_ci(err[:, b], gsq[:, b]) for b in range(len(labels))],
        "cosine": [bootstrap_ci(dot[:, b] / np.sqrt(est[:, b] * gsq[:, b])) for b in range(len(labels))],
    }
    t = table[model]
    t["noise_ratio_Q5_over_Q1"] = t["noise_dL"][-1][0] / t["noise_dL"][0][0]
    t["step_ratio_Q5_over_Q1"] = t["step_dL"][-1][0] / t["step_dL"][0][0]

# %%
def bars(ax, rows, title, ylabel, log=False):
    mean = np.array([r[0] for r in rows])
    err = np.array([[r[0] - r[1], r[2] - r[0]] for r in rows]).T
    ax.bar(labels, mean, yerr=err, capsize=3, color=[plt.cm.viridis(i / 4) for i in range(len(labels))])
    ax.axhline(0, color="k", lw=0.6)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)


models = list(table)
fig, axes = plt.subplots(len(models), 3, figsize=(15, 3.6 * len(models)), squeeze=False)
for row, model in zip(axes, models):
    t = table[model]
    bars(row[0], t["noise_dL"], f"{model}: noise σ·m⊙z on one quintile", "ΔL (mean over z)")
    bars(row[1], t["step_dL"], f"{model}: ZO step (lr {t['lr']:g}) on one quintile", "ΔL (mean over z)")
    bars(row[2], t["relative_error"], f"{model}: SPSA error vs backprop", "E‖ĝ_b−∇_b‖² / E‖∇_b‖²", log=True)
    ax2 = row[2].twinx()
    ax2.plot(labels, t["grad_share"], "ro-", ms=4)
    ax2.set_ylabel("share of ‖∇L‖² (red)", fontsize=8)
    for ax in row:
        ax.set_xlabel("magnitude quintile (Q1 = smallest |θ|)", fontsize=8)
fig.tight_layout()
save_figure(fig, figure_path, table)

# %%
for model, t in table.items():
    print(model, "mean |θ|", [f"{x:.3g}" for x in t["mean_abs_weight"]])
    print("  noise ΔL", [f"{m:+.2e} [{lo:+.1e}, {hi:+.1e}]" for m, lo, hi in t["noise_dL"]])
    print("  step  ΔL", [f"{m:+.2e} [{lo:+.1e}, {hi:+.1e}]" for m, lo, hi in t["step_dL"]])
    print("  rel. error", [f"{m:.3g}" for m, _, _ in t["relative_error"]], " grad share", [f"{x:.3f}" for x in t["grad_share"]])
    print("  Q5/Q1 noise", round(t["noise_ratio_Q5_over_Q1"], 2), " Q5/Q1 step", round(t["step_ratio_Q5_over_Q1"], 2))

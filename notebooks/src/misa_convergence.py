# %% [markdown]
# # MISA convergence: gradient norm vs number of block updates K
# MISA's theorem (as summarised in papers/misa/claims.yaml; the statement itself was not reachable) gives
# min_{k≤K} E‖∇f(θ_k)‖² = O(1/√K) for non-convex f. We track ‖∇f(θ_k)‖² w.r.t. *all* parameters on a fixed
# batch of 8 validation examples every 5 optimizer steps (`FullGradNormCallback`) for full FT, LISA (1 layer +
# embeddings + head), BAdam (1 layer) and MISA (δ = 3 %), and fit log(running mean of ‖∇f‖²) = a + b·log K.
# b ≤ −0.5 is what the bound allows for the best iterate; a bound is not a rate, so b is reported, not judged
# against −0.5 alone. One seed, `max_steps` steps (30 in the `cpu` profile; 40 before v002): a short-horizon check.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_convergence.png"

# %%
import matplotlib.pyplot as plt
import numpy as np
from core.results import load_runs, save_figure

runs = {r.name: r for r in load_runs("misa", "convergence", profile, results_root)}


def fit_exponent(steps, values):
    """Least-squares slope of log(values) on log(steps) with its standard error."""
    x, y = np.log(steps), np.log(values)
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    dof = max(len(x) - 2, 1)
    sigma2 = float(res[0]) / dof if res.size else 0.0
    se = float(np.sqrt(sigma2 / np.sum((x - x.mean()) ** 2)))
    return float(coef[0]), se, float(coef[1])


fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
table = {}
for name, run in runs.items():
    probes = [p for p in run.read("probes.jsonl")]
    steps = np.array([p["step"] for p in probes])
    gsq = np.array([p["full_grad_sq"] for p in probes])
    k, g = steps[steps > 0], gsq[steps > 0]
    running = np.cumsum(g) / np.arange(1, len(g) + 1)
    best = np.minimum.accumulate(g)
    b, se, a = fit_exponent(k, running)
    b_min, se_min, _ = fit_exponent(k, best)
    table[name] = {"exponent_running_mean": b, "exponent_se": se, "exponent_best_iterate": b_min,
                   "exponent_best_se": se_min, "grad_sq_start": float(gsq[0]), "grad_sq_end": float(gsq[-1]),
                   "probe_loss_start": probes[0]["probe_loss"], "probe_loss_end": probes[-1]["probe_loss"],
                   "final_train_loss": run.result["final_train_loss"], "eval_loss": run.result["eval_loss"],
                   "trainable_params_end": run.result["trainable_params_end"]}
    line, = axes[0].plot(k, running, "o-", label=f"{name}: b = {b:.2f} ± {se:.2f}")
    axes[0].plot(k, np.exp(a) * k ** b, ":", color=line.get_color())
    axes[1].plot(steps, gsq, "o-", label=name)
    axes[2].plot(run.losses, label=name, alpha=0.8)
ref_k = np.array([k.min(), k.max()], dtype=float)
first = np.mean([t["grad_sq_start"] for t in table.values()])
axes[0].plot(ref_k, first * (ref_k / ref_k[0]) ** -0.5, "k--", label="O(1/sqrt(K)) reference")
for ax in axes[:2]:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("block updates K (optimizer steps)")
axes[0].set_ylabel("running mean of ||grad f||^2 (fixed probe batch)")
axes[0].set_title("fitted exponent b of the running mean")
axes[1].set_ylabel("||grad f(theta_K)||^2")
axes[1].set_title("probe gradient norm per iterate")
axes[2].set_xlabel("optimizer step")
axes[2].set_ylabel("training loss")
axes[2].set_title("training loss")
for ax in axes:
    ax.legend(fontsize=7)
save_figure(fig, figure_path, table)

# %%
for name, row in table.items():
    print(f"{name:6s} b = {row['exponent_running_mean']:.3f} ± {row['exponent_se']:.3f}  best-iterate b = "
          f"{row['exponent_best_iterate']:.3f}  |grad|^2 {row['grad_sq_start']:.2f} -> {row['grad_sq_end']:.2f}")

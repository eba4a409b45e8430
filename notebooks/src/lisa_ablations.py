# %% [markdown]
# # LISA ablations: number of sampled layers γ (`layers_ablation`) and sampling period K (`K_ablation`)
# Paper (§4.5, App. A.4): "more sampling layers and higher sampling period lead to better performance";
# γ = 8 gave the lowest loss on LLaMA-2-7B (Fig. 8), K = 13 was optimal over 122 steps (Fig. 9).
# Each setting's validation loss (every seed a point); the base setting (γ = 2, K = 4) is the loss-curve LISA runs.
# One run per other setting, so the verdict is the difference of the extreme settings (largest − smallest γ, resp.
# K) with the seed-to-seed sd taken from the base setting's seeds (`core.stats.reference_sd_interval`, the same
# comparison as the claims table's `papers/lisa/claims.py`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_ablations.png"

# %%
import numpy as np

from core.claims import fmt_interval, judge, verdict_cell
from core.plotting import color, figure, finish, name
from core.results import load_runs
from core.stats import mde_reference, reference_sd_interval, t_interval

base = [r for r in load_runs("lisa", "loss_curves", profile, results_root) if r.name == "lisa"]
studies = {
    "gamma": load_runs("lisa", "layers_ablation", profile, results_root) + base,
    "interval": load_runs("lisa", "K_ablation", profile, results_root) + base,
}
fixed = {"gamma": base[0].config["lisa"]["interval"], "interval": base[0].config["lisa"]["gamma"]}
table, verdicts = {}, []
reference = [r.result["eval_loss"] for r in base]
for key, runs in studies.items():
    runs = [r for r in runs if r.config["lisa"]["gamma" if key == "interval" else "interval"] == fixed[key]]
    points = {}
    for r in runs:
        points.setdefault(r.config["lisa"][key], []).append(r.result["eval_loss"])
    lo, hi = min(points), max(points)
    seed0 = {
        v: next(r.result["eval_loss"] for r in runs if r.config["lisa"][key] == v and r.seed == 0)
        for v in (lo, hi)
    }
    diff = reference_sd_interval(seed0[hi], seed0[lo], reference)
    table[key] = {
        "eval_loss": dict(sorted(points.items())),
        "largest_minus_smallest": diff,
        "mde": mde_reference(reference),
    }
    claim, label = (
        ("ablations", f"more layers (γ = {hi} − γ = {lo})")
        if key == "gamma"
        else ("ablations_K", f"longer period (K = {hi} − K = {lo})")
    )
    verdicts.append(
        judge(
            "lisa",
            claim,
            diff,
            table[key]["mde"],
            direction="lower",
            label=label,
            ours=f"validation loss {fmt_interval(diff, over='runs')}, seed sd from the {len(reference)} "
            f"γ = {fixed['interval']}, K = {fixed['gamma']} seeds",
        )
    )

# %%
fig, axes = figure(2, 1, width=6.4)
for ax, (key, t) in zip(axes, table.items()):
    settings = list(t["eval_loss"])
    ax.plot(settings, [np.mean(t["eval_loss"][v]) for v in settings], color=color("lisa"), lw=1, alpha=0.6)
    for i, v in enumerate(settings):
        ys = t["eval_loss"][v]
        ax.scatter(
            [v] * len(ys), ys, color=color("lisa"), s=36, zorder=3, label="one run" if i == 0 else None
        )
        if len(ys) > 1:
            iv = t_interval(ys)
            ax.errorbar(
                v * 1.08,
                iv.estimate,
                yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]],
                fmt="D",
                color="black",
                capsize=4,
                label=f"mean and 95 % t-interval over {len(ys)} seeds",
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(settings, [str(v) for v in settings])
    sym = "γ (sampled middle layers)" if key == "gamma" else "K (steps between switches)"
    ax.set_xlabel(sym)
    ax.set_ylabel("validation loss after training")
    ax.set_title(
        f"{'layers ablation' if key == 'gamma' else 'K ablation'}: {'K' if key == 'gamma' else 'γ'} = {fixed[key]}"
    )
    ax.legend()
finish(fig, figure_path, table, verdicts, f"LISA ablations, {name('lisa')} on SmolLM2-135M, instruction data")

# %%
verdict_cell(verdicts)

# %% [markdown]
# # LISA ablations: number of sampled layers γ (`layers_ablation`) and sampling period K (`K_ablation`)
# Paper (§4.5, App. A.4): "more sampling layers and higher sampling period lead to better performance";
# γ = 8 gave the lowest loss on LLaMA-2-7B (Fig. 8), K = 13 was optimal over 122 steps (Fig. 9).
# Each setting's validation loss (every seed a point); the base setting is the loss-curve LISA runs. The verdict
# is the slope of validation loss per doubling of γ (resp. K) with the 95 % t-interval of the fit: with one run
# per setting, the settings' scatter around the line is the noise the slope is judged against.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_ablations.png"

# %%
import numpy as np
from core.plotting import figure, finish, fmt_interval, judge, name, trend, verdict_cell
from core.results import load_runs
from core.stats import t_interval

base = [r for r in load_runs("lisa", "loss_curves", profile, results_root) if r.name == "lisa"]
studies = {"gamma": load_runs("lisa", "layers_ablation", profile, results_root) + base,
           "interval": load_runs("lisa", "K_ablation", profile, results_root) + base}
fixed = {"gamma": base[0].config["lisa"]["interval"], "interval": base[0].config["lisa"]["gamma"]}
table, verdicts = {}, []
for key, runs in studies.items():
    runs = [r for r in runs if r.config["lisa"]["gamma" if key == "interval" else "interval"] == fixed[key]]
    points = [(r.config["lisa"][key], r.result["eval_loss"]) for r in runs]
    slope, mde = trend(np.log2([p[0] for p in points]), [p[1] for p in points])
    table[key] = {"eval_loss": {v: [l for s, l in points if s == v] for v in sorted({p[0] for p in points})},
                  "slope_per_doubling": slope, "mde": mde}
    claim, label = ("ablations", "more layers γ") if key == "gamma" else ("ablations_K", "longer period K")
    verdicts.append(judge("lisa", claim, slope, mde, direction="lower", label=label, over="runs",
                          ours=f"validation loss per doubling of {'γ' if key == 'gamma' else 'K'}: {fmt_interval(slope, over='runs')}"))

# %%
fig, axes = figure(2, 1, width=6.4)
for ax, (key, t) in zip(axes, table.items()):
    settings = list(t["eval_loss"])
    for i, v in enumerate(settings):
        ys = t["eval_loss"][v]
        ax.scatter([v] * len(ys), ys, color="C3", s=36, zorder=3, label="one run" if i == 0 else None)
        if len(ys) > 1:
            iv = t_interval(ys)
            ax.errorbar(v * 1.06, iv.estimate, yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]], fmt="D",
                        color="black", capsize=4, label="mean and 95 % t over seeds" if v == settings[-1] else None)
    s = t["slope_per_doubling"]
    xs = np.array([min(settings), max(settings)], dtype=float)
    mean_y = np.mean([y for ys in t["eval_loss"].values() for y in ys])
    x0 = np.mean([np.log2(v) for v, ys in t["eval_loss"].items() for _ in ys])
    ax.plot(xs, mean_y + s.estimate * (np.log2(xs) - x0), "k:", label=f"fit: {s.estimate:+.3f} per doubling")
    ax.set_xscale("log", base=2)
    ax.set_xticks(settings, [str(v) for v in settings])
    sym = "γ (sampled middle layers)" if key == "gamma" else "K (steps between switches)"
    ax.set_xlabel(sym)
    ax.set_ylabel("validation loss after training")
    ax.set_title(f"{'layers_ablation' if key == 'gamma' else 'K_ablation'}: "
                 f"{'K' if key == 'gamma' else 'γ'} = {fixed[key]}".replace("_", " "))
    ax.legend()
finish(fig, figure_path, table, verdicts, f"LISA ablations, {name('lisa')} on SmolLM2-135M, instruction data")

# %%
verdict_cell(verdicts)

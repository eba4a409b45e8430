# %% [markdown]
# # Sparse MeZO vs MeZO vs R-MeZO, steps to MeZO's accuracy, and the sparsity sweep
# Paper (Sparse MeZO, LLaMA-7b SuperGLUE table, papers/sparse_mezo/claims.yaml): MeZO → S-MeZO SST-2 94.6 → 95.0,
# RTE 71.7 → 80.7, BoolQ 75.9 → 80.9; R-MeZO average 76.9 vs S-MeZO 80.3; sparsity 0.8 best; S-MeZO reaches 70 %
# RTE in ~5,000 steps vs ~17,500 for MeZO (3.5×).
# Here (`compare_sentiment.yaml`, cpu profile): all-MiniLM-L6-v2 as a verbalizer classifier (`core.encoder_cls`)
# on bigbench multiemo sentiment (SST-2-like; 1,000 training examples), 2,000 ZO steps of batch 8, eps 1e-3,
# constant lr, each arm at its own lr from a 200-step probe, 3 seeds (data order and z). Validation accuracy and
# loss every 100 steps on all 200 validation items; test accuracy and balanced accuracy on all 500 test items.
# Full FT (AdamW, 500 steps) and zero-shot are the learnability gate's baseline and reference
# (`core.learnability`): a metric enters a comparison only if full FT beats zero-shot and the majority class on it.
# Panels: validation accuracy and loss over steps (mean and 95 % t band over seeds; dotted: majority class,
# dashed: zero-shot); test accuracy and balanced accuracy per seed; steps to MeZO's final validation accuracy
# per seed; the sparsity sweep (0 = MeZO).
# Verdicts: S-MeZO − MeZO and S-MeZO − R-MeZO test accuracy on the same 500 items (crossed seeds × items
# interval, `core.stats.accuracy_diff`); balanced accuracy and validation loss paired over seeds (t); the
# speed-up MeZO steps / S-MeZO steps to MeZO's final validation accuracy, paired per seed (t on log ratios).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_accuracy.png"

# %%
import numpy as np

from core.claims import Verdict, judge, paper_claim, verdict_cell
from core.data import load_task
from core.plotting import color, figure, finish, name, seed_points, tilt
from core.results import by_method
from core.stats import curve_band, mde_from, t_interval
from core.verdicts import inconclusive
from papers.sparse_mezo.compare import PAIRS, SWEEP, ZO, SentimentComparison

data = SentimentComparison(profile, results_root)
runs, present, cfg, labels, gate = data.runs, data.present, data.config, data.labels, data.gate
arms = list(dict.fromkeys(a for a in ["zero_shot", "full", *ZO, *SWEEP.values()] if a in present))
table = {
    "gate": gate["metrics"],
    "gate_passes": gate["passes"],
    "majority_class_test": float(max(np.bincount(labels)) / len(labels)),
    "lr": {a: sorted({r.config["lr"] for r in runs if r.name == a}) for a in arms if a != "zero_shot"},
    "per_seed": {},
    "comparisons": {},
}
for metric, (fn, _) in data.metrics().items():
    per = by_method(runs, fn, arms)
    table["per_seed"][metric] = {
        m: {"per_seed": s, "mean": t_interval(list(s.values())) if len(s) > 1 else None} for m, s in per.items()
    }

# %%
verdicts = []
for ours, comparator, claim, paper_effect in PAIRS:
    if not data.comparable(ours, comparator):  # an arm with fewer than 2 finished seeds: no paired interval yet
        continue
    for metric, c in data.paired(ours, comparator).items():
        table["comparisons"][f"{metric}: {ours} - {comparator}"] = {"interval": c.interval, "mde": c.mde}
        label = f"{name(metric)}, {name(ours)} − {name(comparator)}"
        text = f"{c.interval.estimate:+.3f} [{c.interval.lo:+.3f}, {c.interval.hi:+.3f}], MDE {c.mde:.2g}"
        if not gate["passes"]["eval_loss" if metric == "eval_loss" else "test_accuracy"]:
            verdicts.append(Verdict(paper_claim("sparse_mezo", claim), "not testable at this budget (learnability "
                                    "gate fails)", text, label))
            continue
        lower = metric == "eval_loss"
        verdicts.append(judge("sparse_mezo", claim, c.interval, c.mde, ours=text, label=label, unit="accuracy",
                              paper_effect=paper_effect if metric == "test_accuracy" else None,
                              direction="lower" if lower else "higher"))

# %% [markdown]
# Steps to MeZO's final accuracy (the paper's convergence figure): per seed s, the target is MeZO seed s's
# validation accuracy at its last evaluation; MeZO's own count is its first evaluation at or above that value, an
# arm's count its first evaluation at or above it (None: never within the run). Speed-up = MeZO steps / arm steps.

# %%
reach = {a: data.steps_to_mezo_final(a) for a in [*ZO, *SWEEP.values()] if a in present and a != "mezo"}
table["steps_to_mezo_final"] = reach
last_step = cfg["max_steps"]
if "s-mezo-0.8" in reach:
    rows = reach["s-mezo-0.8"]
    iv = data.speedup(rows)
    table["speedup"] = iv
    if iv is not None:
        verdicts.append(judge("sparse_mezo", "convergence_speed", iv, mde_from(iv), label="speed-up",
                              ours=f"MeZO steps / S-MeZO steps to MeZO's final validation accuracy: {iv.estimate:.2f}× "
                              f"[{iv.lo:.2f}, {iv.hi:.2f}] over {iv.n} seeds (resolution {cfg['eval_every']} steps)"))
    else:
        reached = sum(r["steps"] is not None for r in rows.values())
        verdicts.append(Verdict(paper_claim("sparse_mezo", "convergence_speed"), inconclusive(float("inf")),
                                f"S-MeZO reached MeZO's final validation accuracy in {reached} of {len(rows)} "
                                f"seeds within {last_step} steps", "speed-up"))

# %%
if {"zero_shot", "full", "mezo"} <= present and gate["passes"]["test_accuracy"]:
    zs = next(r for r in runs if r.name == "zero_shot").result["test_accuracy"]
    full = table["per_seed"]["test_accuracy"]["full"]["mean"]
    zo = table["per_seed"]["test_accuracy"]["mezo"]["mean"]
    above, below = zo.lo > zs, zo.hi < full.lo
    verdict = "holds" if above and below else inconclusive(mde_from(zo))
    verdicts.append(Verdict(paper_claim("sparse_mezo", "zo_between_zero_shot_and_ft"), verdict,
                            f"test accuracy zero-shot {zs:.3f} < MeZO {zo.estimate:.3f} [{zo.lo:.3f}, {zo.hi:.3f}] < "
                            f"full FT {full.estimate:.3f} [{full.lo:.3f}, {full.hi:.3f}] (t over seeds)", "MeZO"))

# %%
fig, axes = figure(3, 2, width=4.2, height=3.9)
axes = np.asarray(axes).reshape(2, 3)
fig.subplots_adjust(top=0.8, hspace=0.7, wspace=0.32)
zero = next((r for r in runs if r.name == "zero_shot"), None)
for ax, key, ylabel in ((axes[0, 0], "eval_accuracy", "validation accuracy"), (axes[0, 1], "eval_loss",
                                                                               "validation loss")):
    for arm in [a for a in ZO if a in present]:
        curves = [r.curve(key) for r in runs if r.name == arm]
        steps = sorted(set.intersection(*(set(c) for c in curves)) - {0})
        band = curve_band([[c[s] for s in steps] for c in curves]) if len(curves) > 1 else None
        mean = band["mean"] if band else [curves[0][s] for s in steps]
        ax.plot(steps, mean, color=color(arm), label=name(arm), lw=1.5)
        if band:
            ax.fill_between(steps, band["lo"], band["hi"], color=color(arm), alpha=0.2, lw=0)
    if zero is not None and key == "eval_loss":
        ax.axhline(zero.result["eval_loss"], color="0.3", ls="--", lw=1, label="zero-shot")
    if key == "eval_accuracy":
        val_labels = load_task(cfg["task"], "validation", cfg["eval_examples"])["label"]
        ax.axhline(max(np.bincount(val_labels)) / len(val_labels), color="0.3", ls=":", lw=1, label="majority class")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{ylabel} ({cfg['eval_examples']} items)")
    ax.legend(fontsize=9)
for ax, metric in ((axes[0, 2], "test_accuracy"), (axes[1, 0], "balanced_accuracy")):
    rows = {m: r for m, r in table["per_seed"][metric].items() if m in ["zero_shot", "full", *ZO]}
    seed_points(ax, {m: list(r["per_seed"].values()) for m, r in rows.items()},
                {m: r["mean"] for m, r in rows.items() if r["mean"] is not None}, ylabel=name(metric))
    ax.axhline(table["majority_class_test"] if metric == "test_accuracy" else 0.5, color="0.3", ls=":", lw=1,
               label="majority class")
    ax.set_title(f"test, {len(labels)} items", fontsize=10)
    ax.legend(fontsize=9)
    tilt(ax, 35)
ax = axes[1, 1]
for arm, rows in reach.items():
    if arm in ZO:
        for s, row in rows.items():
            ax.plot([0, 1], [row["mezo_steps"], row["steps"] or last_step + cfg["eval_every"]], "o-",
                    color=color(arm), alpha=0.8, label=name(arm) if s == min(rows) else None)
ax.axhline(last_step, color="0.3", ls=":", lw=1)
ax.set_xticks([0, 1], ["MeZO", "arm"])
ax.set_ylabel("steps to MeZO's final val. accuracy")
ax.set_title("per seed (above dotted: never)", fontsize=10)
ax.legend(fontsize=9)
ax = axes[1, 2]
for k, metric in enumerate(("test_accuracy", "eval_accuracy")):
    xs, ms, lo, hi = [], [], [], []
    for sparsity, arm in SWEEP.items():
        iv = table["per_seed"][metric].get(arm, {}).get("mean")
        if iv is not None:
            xs.append(sparsity + 0.01 * k)
            ms.append(iv.estimate)
            lo.append(iv.estimate - iv.lo)
            hi.append(iv.hi - iv.estimate)
    ax.errorbar(xs, ms, yerr=[lo, hi], fmt="o-", capsize=4, label=name(metric))
ax.set_xlabel("sparsity (0 = MeZO)")
ax.set_ylabel("accuracy (mean, 95 % t)")
ax.set_title("sparsity sweep, magnitude mask", fontsize=10)
ax.legend(fontsize=9)
finish(fig, figure_path, table, verdicts,
       f"Sparse MeZO vs MeZO vs R-MeZO, MiniLM on sentiment, {last_step} steps, 3 seeds (dotted: majority class)")

# %%
verdict_cell(verdicts)

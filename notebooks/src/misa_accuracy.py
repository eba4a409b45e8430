# %% [markdown]
# # MISA accuracy comparison (paper: math and commonsense tables, LLaMA3-8B), CPU stand-in
# SmolLM2-135M fine-tuned on the bigbench arithmetic split (200 steps of batch 2 in the cpu profile) by full FT,
# LoRA (r 8), LISA (γ = 1 middle layer + embeddings + head), BAdam (one layer), MISA (δ = 3 %, η = 1, T = 10) and
# MISA with η = 0 (module-uniform: the same blocks, budget, warm-up and lr, without the importance scores), each at
# its own lr from a 30-step probe, 3 seeds (data order and sampler seeds). Scored by multiple-choice accuracy on the
# test examples (per-example correctness, so MISA − arm is the crossed seeds × items interval of
# `core.stats.accuracy_diff`) and by validation loss (paired t over seeds). A metric enters the comparison only if
# full FT passes the learnability gate on it (`core.learnability`: better than zero-shot and, for accuracy, the
# majority class, by an interval excluding 0). The last panel is the stand-in for the C4 pre-training claim: a tiny
# Llama trained from scratch by Adam, GaLore and MISA (δ = 25 %, η = 500), validation loss.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_accuracy.png"

# %%
from core.claims import Verdict, judge, paper_claim, verdict_cell
from core.learnability import gate_path
from core.plotting import figure, finish, name, seed_points, tilt
from core.results import by_method, load_json, load_runs
from core.stats import t_interval
from core.verdicts import compare_runs

ARMS = ["zero_shot", "full", "lora", "dora", "lisa", "badam", "misa_uniform", "misa"]
COMPARATORS = ["misa_uniform", "lisa", "badam", "lora", "dora", "full"]
METRICS = {"test_accuracy": ("test_correct", +1), "eval_loss": ("eval_loss", -1)}
runs = load_runs("misa", "accuracy_math", profile, results_root)
present = {r.name for r in runs}
gate = load_json(gate_path("misa", "accuracy_math", profile, results_root))
value = {"test_accuracy": lambda r: r.result["test_accuracy"], "eval_loss": lambda r: r.result["eval_loss"]}
table = {"gate": gate["metrics"], "per_seed": {}, "comparisons": {}}
for metric in METRICS:
    per_seed = by_method(runs, value[metric], [a for a in ARMS if a in present])
    table["per_seed"][metric] = {
        m: {"per_seed": s, "mean": t_interval(list(s.values())) if len(s) > 1 else None} for m, s in per_seed.items()
    }


def gate_words(metric: str) -> str:
    refs = gate["metrics"][metric]["references"]
    return "; ".join(f"full − {k.replace('_', '-')} {r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]" for k, r in refs.items())


verdicts = []
for metric, (key, direction) in METRICS.items():
    for comparator in [c for c in COMPARATORS if c in present]:
        c = compare_runs(runs, "misa", comparator, key, None, direction)
        table["comparisons"][f"{metric}: misa - {comparator}"] = {"interval": c.interval, "mde": c.mde}
        label = f"{name(metric)}, MISA − {name(comparator)}"
        ours = f"{c.interval.estimate:+.3f} [{c.interval.lo:+.3f}, {c.interval.hi:+.3f}] over 3 seeds, MDE {c.mde:.2g}"
        if gate["passes"][metric]:
            verdicts.append(judge("misa", "accuracy", c.interval, c.mde, ours=ours, label=label,
                                  direction="higher" if direction > 0 else "lower"))
        else:
            verdicts.append(Verdict(paper_claim("misa", "accuracy"),
                                    f"not testable at this budget (learnability gate fails: {gate_words(metric)})",
                                    ours, label))
try:
    pretrain = load_runs("misa", "pretrain", profile, results_root)
except FileNotFoundError:
    pretrain = []
if pretrain:
    table["pretrain"] = {m: {"per_seed": s, "mean": t_interval(list(s.values()))}
                         for m, s in by_method(pretrain, value["eval_loss"], ["adam", "galore", "misa"]).items()}
    for comparator in ("adam", "galore"):
        c = compare_runs(pretrain, "misa", comparator, "eval_loss", None, -1)
        table["comparisons"][f"pretrain eval_loss: misa - {comparator}"] = {"interval": c.interval, "mde": c.mde}
        verdicts.append(judge("misa", "c4_pretraining", c.interval, c.mde, direction="lower",
                              label=f"pre-training stand-in, MISA − {'Adam' if comparator == 'adam' else 'GaLore'}",
                              ours=f"validation loss {c.interval.estimate:+.3f} [{c.interval.lo:+.3f}, "
                              f"{c.interval.hi:+.3f}] over 3 seeds, MDE {c.mde:.2g}"))

# %%
fig, axes = figure(2, 2, width=7.6, height=4.6)
axes = axes.ravel()
fig.subplots_adjust(top=0.68, hspace=0.75, wspace=0.25)
for ax, metric in zip(axes, METRICS):
    rows = table["per_seed"][metric]
    trained = {m: r for m, r in rows.items() if m != "zero_shot"}
    seed_points(ax, {m: list(r["per_seed"].values()) for m, r in trained.items()},
                {m: r["mean"] for m, r in trained.items()}, ylabel=name(metric))
    refs = gate["metrics"][metric]["references"]
    for ref, style in (("zero_shot", "--"), ("majority", ":")):
        if ref in refs:
            ax.axhline(refs[ref]["reference"], color="0.3", ls=style, lw=1.2,
                       label="zero-shot" if ref == "zero_shot" else "majority class")
    verdict = "gate passes" if gate["passes"][metric] else "gate FAILS: not compared"
    ax.set_title(f"arithmetic: {name(metric)} ({verdict})")
    ax.legend(fontsize=9)
    tilt(ax)
ax = axes[2]
keys = [k for k in table["comparisons"] if k.startswith("eval_loss")]
for i, k in enumerate(keys):
    iv = table["comparisons"][k]["interval"]
    ax.errorbar(i, iv.estimate, yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]], fmt="D", capsize=5,
                color="black")
ax.axhline(0, color="0.4", lw=0.8)
ax.set_xticks(range(len(keys)), [name(k.split("misa - ")[1]) for k in keys])
ax.set_ylabel("MISA − arm, validation loss")
ax.set_title("paired over seeds (95 % t); below 0: MISA better")
tilt(ax)
if pretrain:
    rows = table["pretrain"]
    seed_points(axes[3], {m: list(r["per_seed"].values()) for m, r in rows.items()},
                {m: r["mean"] for m, r in rows.items()}, ylabel="validation loss",
                labels={"adam": "Adam (full)", "galore": "GaLore", "misa": "MISA δ = 25 %"})
    axes[3].set_title(f"pre-training stand-in: tiny Llama from scratch, {pretrain[0].config['max_steps']} steps")
    tilt(axes[3])
else:
    axes[3].set_axis_off()
steps = {r.config["max_steps"] for r in runs if r.name != "zero_shot"}
finish(fig, figure_path, table, verdicts,
       f"MISA vs full FT, LoRA, LISA, BAdam and MISA η = 0 on SmolLM2-135M ({max(steps)} steps, 3 seeds)")

# %%
verdict_cell(verdicts)

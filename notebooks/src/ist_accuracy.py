# %% [markdown]
# # IST vs random layer selection vs LoRA: the deciding comparison, with memory and the adapter state
# Paper claim (IST abstract): importance-aware sparse tuning improves LoRA-family PEFT on commonsense and arithmetic
# tasks while updating only part of the layers per step. No numeric table of the paper was reachable, so only the
# direction is compared. Here (`papers/ist/configs/compare_math.yaml`, cpu profile): SmolLM2-135M-Instruct on
# bigbench arithmetic, LoRA r 16 / α 32 on q, k, v, up, down (dropout 0.05, linear decay), 310 steps of batch 2,
# 3 seeds; IST with the reference's score lr 10 (`ist`), the random-selection control at the same fraction of
# layers (`ist_random`, RST: isolates the scores), our variant with score lr 100 (`ist_slr100`), IST keeping the
# deselected adapters' AdamW state as the reference code does (`ist_keep`; ours frees it) and plain LoRA,
# each method at its own lr from a 40-step probe (the control and the variant take IST's). Metrics: validation loss
# on 64 examples (primary; paired t over seeds) and multiple-choice test accuracy on 64 questions (crossed seeds ×
# items interval, `core.stats.accuracy_diff`). A metric enters a comparison only if plain LoRA passes the
# learnability gate on it (`core.learnability`: better than zero-shot and, for accuracy, the majority answer, by an
# interval excluding 0). Right: measured peak memory of one step (`papers/ist/memory.py`) and the AdamW state of
# IST with deselected adapters' state freed (ours) vs kept (the reference) (`configs/adapter_state.yaml`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_accuracy.png"

# %%
from core.claims import Verdict, judge, measured, paper_claim, verdict_cell
from core.learnability import gate_path
from core.plotting import bars, figure, finish, name, seed_points, tilt
from core.results import by_method, load_json, load_runs
from core.stats import t_interval
from core.study import study_path
from core.verdicts import compare_runs

ARMS = ["zero_shot", "lora", "ist_random", "ist", "ist_slr100", "ist_keep", "lisa"]
PAIRS = [("ist", "lora", "accuracy"), ("ist", "ist_random", "ist_vs_random"),
         ("ist_slr100", "lora", "accuracy"), ("ist_slr100", "ist_random", "ist_vs_random"),
         ("ist", "ist_keep", "adapter_state")]
METRICS = {"eval_loss": ("eval_loss", -1), "test_accuracy": ("test_correct", +1)}
runs = load_runs("ist", "compare_math", profile, results_root)
present = {r.name for r in runs}
gate = load_json(gate_path("ist", "compare_math", profile, results_root))
value = {"test_accuracy": lambda r: r.result["test_accuracy"], "eval_loss": lambda r: r.result["eval_loss"]}
table = {"gate": gate["metrics"], "gate_passes": gate["passes"], "per_seed": {}, "comparisons": {},
         "lr": {a: sorted({r.config["lr"] for r in runs if r.name == a}) for a in present if a != "zero_shot"}}
for metric in METRICS:
    per = by_method(runs, value[metric], [a for a in ARMS if a in present])
    table["per_seed"][metric] = {m: {"per_seed": s, "mean": t_interval(list(s.values())) if len(s) > 1 else None}
                                 for m, s in per.items()}

verdicts = []
for ours, comparator, claim in (p for p in PAIRS if {p[0], p[1]} <= present):
    for metric, (key, direction) in METRICS.items():
        c = compare_runs(runs, ours, comparator, key, None, direction)
        table["comparisons"][f"{metric}: {ours} - {comparator}"] = {"interval": c.interval, "mde": c.mde}
        label = f"{name(metric)}, {name(ours)} − {name(comparator)}"
        text = f"{c.interval.estimate:+.3f} [{c.interval.lo:+.3f}, {c.interval.hi:+.3f}] over 3 seeds, MDE {c.mde:.2g}"
        if gate["passes"][metric]:
            verdicts.append(judge("ist", claim, c.interval, c.mde, ours=text, label=label,
                                  direction="higher" if direction > 0 else "lower"))
        else:
            verdicts.append(Verdict(paper_claim("ist", claim), "not testable at this budget (learnability gate "
                                    "fails on this metric)", text, label))

memory = load_json(study_path("ist", "memory", "cpu" if profile == "quick" else profile, results_root))
table["memory_mb"] = {r["label"]: r["peak_mb"] for r in memory["rows"] if "skipped" not in r}
ist_key = next(k for k in table["memory_mb"] if k.startswith("ist"))
ratio = table["memory_mb"][ist_key] / table["memory_mb"]["lora"]
state = {r.name: r.read("ist_scores.jsonl") for r in load_runs("ist", "adapter_state", "cpu", results_root)}
table["adamw_state_mb"] = {k: [row["optimizer_state_bytes"] / 1e6 for row in rows] for k, rows in state.items()}
verdicts.append(judge("ist", "memory", measured(ratio), 0.0, unit="x", label="memory, AdamW state freed",
                      ours=f"measured peak {name(ist_key)} ÷ LoRA = {ratio:.2f}×; AdamW state freed "
                      f"{max(table['adamw_state_mb']['free']):.2f} MB vs kept (the reference) "
                      f"{max(table['adamw_state_mb']['keep']):.2f} MB = LoRA's once every layer was drawn"))

# %%
fig, axes = figure(2, 2, width=5.0, height=4.2)
axes = axes.ravel()
fig.subplots_adjust(top=0.8, hspace=0.8, wspace=0.3)
for ax, metric in zip(axes, METRICS):
    rows = {m: r for m, r in table["per_seed"][metric].items() if m != "zero_shot"}
    seed_points(ax, {m: list(r["per_seed"].values()) for m, r in rows.items()},
                {m: r["mean"] for m, r in rows.items() if r["mean"] is not None}, ylabel=name(metric))
    refs = gate["metrics"][metric]["references"]
    for ref, style in (("zero_shot", "--"), ("majority", ":")):
        if ref in refs:
            ax.axhline(refs[ref]["reference"], color="0.3", ls=style, lw=1.2,
                       label="zero-shot" if ref == "zero_shot" else "majority answer")
    ax.set_title(f"arithmetic: {name(metric)} ({'gate passes' if gate['passes'][metric] else 'gate FAILS'})",
                 fontsize=10)
    ax.legend(fontsize=9)
    tilt(ax)
bars(axes[2], table["memory_mb"], ylabel="peak memory of one step (MB)", fmt="{:.0f}")
axes[2].set_title("memory, batch 4×64 (measured)", fontsize=10)
tilt(axes[2])
for key, rows in table["adamw_state_mb"].items():
    axes[3].plot(range(1, len(rows) + 1), rows, label=f"IST, state {'freed (ours)' if key == 'free' else 'kept (reference)'}")
axes[3].set_xlabel("step")
axes[3].set_ylabel("AdamW state (MB)")
axes[3].set_title("deselected adapters' AdamW state", fontsize=10)
axes[3].legend(fontsize=9)
steps = max(r.config["max_steps"] for r in runs)
finish(fig, figure_path, table, verdicts,
       f"IST vs random selection vs LoRA on SmolLM2-135M, arithmetic, {steps} steps, 3 seeds")

# %%
verdict_cell(verdicts)

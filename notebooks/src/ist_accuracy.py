# %% [markdown]
# # Does IST beat plain LoRA? (the deciding comparison, `configs/compare_math.yaml`)
# Paper claim (IST abstract): importance-aware sparse tuning improves LoRA-family fine-tuning over updating every
# layer. No table of the paper was reachable, so only the direction is compared. Here: SmolLM2-135M-Instruct on
# bigbench arithmetic, LoRA r 16 / α 32 on q, k, v, up, down, 310 steps of batch 2, 3 seeds (IST 8: the seeds in
# common are paired), each method at its probed lr; IST with the reference's score lr 10 decides, our variant
# with score lr 100 is shown beside it.
# Every point is one seed's difference IST − LoRA (same seed = same data order). Validation loss (64 examples,
# paired t over seeds) is the pre-registered primary metric; test accuracy (64 multiple-choice questions, the same
# in every seed: crossed seeds × items interval, `core.analysis.item_stats.accuracy_diff`) is shown. Plain LoRA passes the
# learnability gate on both metrics (`papers.ist.claims.gate_verdict`). Intervals: `papers/ist/compare.py`, the
# call `papers/ist/claims.py` makes; the verdict: the claims file (`python -m core.reporting.claims_file ist`).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_accuracy.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import finish
from papers.ist.compare import Comparison
from papers.ist.plots import paired_figure

c = Comparison(profile, results_root)
pairs = [(ours, comparator, primary) for ours, comparator, claim, primary in c.pairs() if claim == "accuracy"]
fig, table = paired_figure(c, pairs)
table["gate_passes"] = c.gate["passes"]
table["lr"] = {
    a: sorted({r.config["lr"] for r in c.runs if r.name == a}) for a in sorted(c.present) if a != "zero_shot"
}
verdicts = from_file("ist", ["accuracy"], profile)
steps = max(r.config["max_steps"] for r in c.runs)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    f"Does IST beat LoRA? Arithmetic, SmolLM2-135M, {steps} steps, per seed",
)

# %%
verdict_cell(verdicts)

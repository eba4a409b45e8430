# %% [markdown]
# # Sparse MeZO memory and time: inference vs MeZO vs S-MeZO vs R-MeZO vs LoRA vs full FT
# Paper (LLaMA-7b, papers/sparse_mezo/claims.yaml): FT (Adam) 128.2 GB, LoRA 22.4 GB [S], MeZO 14.6 GB, S-MeZO with a
# stored mask ("vanilla") 28.3 GB, S-MeZO with the mask computed in the forward pass (efficient implementation)
# 14.6 GB = MeZO. Our ZO (`core.zo`) always perturbs inside the forward, i.e. the efficient implementation, one
# row group at a time (z: the chunked counter-based stream `core.zo_stream`, version chunked-v2).
# Left: measured peak of one step (SmolLM2-135M, batch 4 × 64, fp32, CPU; `papers/sparse_mezo/memory.py`, the
# `make bench` procedure) next to the analytic model (`core.memory.predict_memory`). Middle: step time ÷ one forward
# (MeZO's metric) from the ZO throughput benchmark, forward and ZO steps back to back in one process, at batch 4 × 64
# and MeZO's 16 × 128 (issue 20's targets: MeZO ≤ 2.2× a forward at 16 × 128 and ≤ 3.5× at 4 × 64, S-MeZO ≤ 1.05×
# and R-MeZO ≤ 1.10× MeZO time). Right: the analytic model extrapolated to LLaMA-7b and LLaMA-30b in fp16 (batch
# 16 × 256 tokens: an assumption, the paper's measurement setting was not reachable)
# beside the paper's numbers; "stored mask" adds one fp16 copy of the weights (the vanilla mask). Peaks are
# deterministic byte counts; step-time ratios have a 95 % Welch t-interval over the benchmark's rounds. The paper's
# claim is equality (S-MeZO = MeZO memory): it holds when the measured ratio is within 2 % of 1.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/sparse_mezo_memory.png"

# %%
import numpy as np

from core.claims import Verdict, fmt_interval, paper_claim, ratio_interval, verdict_cell
from core.memory import PAPER_MODELS, param_counts, predict_memory
from core.plotting import bars, color, figure, finish, name, tilt
from core.results import load_json
from core.study import study_path
from core.verdicts import DOES_NOT_HOLD, HOLDS

bench = load_json(study_path("sparse_mezo", "memory", profile, results_root))
rows = {r["label"]: r for r in bench["rows"] if "skipped" not in r}
sparse = next(k for k in rows if k.startswith("s-mezo") and k.endswith("0.8"))
table = {
    "measured": {
        k: {
            "peak_mb": r["peak_mb"],
            "analytic_mb": r["predicted_peak_mb"],
            "step_s": r["step_s_all"],
            "time_vs_forward": r["time_vs_inference"],
            "memory_vs_mezo": r["memory_vs_mezo"],
        }
        for k, r in rows.items()
    }
}
table["time_vs_mezo"] = {k: ratio_interval(rows[k]["step_s_all"], rows["mezo"]["step_s_all"]) for k in rows}
GB = 1024**3
fp16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=4, act_bytes=2)
# the paper's GB values that claims.yaml carries as numbers (the others are in the verdict cell's paper text)
paper = {
    "full": paper_claim("sparse_mezo", "memory_ft")["paper_value"],
    "stored mask": paper_claim("sparse_mezo", "memory_stored_mask")["paper_value"],
}
extrap = {}
for key in ("llama-7b", "llama-30b"):
    spec = PAPER_MODELS[key]
    pred = {
        m: predict_memory(spec, m, 16, 256, lora_r=16, master_weights=(m == "full"), **fp16)["total"] / GB
        for m in ("inference", "mezo", "sparse_mezo", "lora", "full")
    }
    n = (
        sum(v for k, v in param_counts(spec).items() if k in ("embed", "head", "norm"))
        + spec.layers * param_counts(spec)["layer"]
    )
    pred["stored mask"] = pred["sparse_mezo"] + n * 2 / GB
    extrap[spec.name] = pred
table["analytic_fp16_b16_s256_GB"] = extrap
ratio = rows[sparse]["peak_mb"] / rows["mezo"]["peak_mb"]
verdicts = [
    Verdict(
        paper_claim("sparse_mezo", "memory"),
        HOLDS if abs(ratio - 1) <= 0.02 else DOES_NOT_HOLD,
        f"measured peak {name(sparse)} ÷ MeZO = {ratio:.3f}× (SmolLM2-135M, CPU)",
        "S-MeZO vs MeZO memory",
    )
]
time_iv = table["time_vs_mezo"][sparse]
# the ZO throughput benchmark (papers/sparse_mezo/memory.py), when made: forward and ZO steps back to back per round
zo_path = study_path("sparse_mezo", "throughput", profile, results_root)
zo = load_json(zo_path) if zo_path.exists() else None
zo_methods = ["mezo", "s-mezo_0.8", "r-mezo_0.8"]
if zo:
    table["zo_time_vs_forward"] = {
        f"batch {r['batch']}×{r['seq']}": {
            m: ratio_interval(r["step_s_all"][m], r["step_s_all"]["forward"]) for m in zo_methods
        }
        for r in zo["rows"]
    }

# %%
fig, (ax_m, ax_t, ax_x) = figure(3, 1, width=4.9, height=4.4)
labels = list(rows)
bars(ax_m, {k: rows[k]["peak_mb"] for k in labels}, ylabel="peak memory of one step (MB)", fmt="{:.0f}")
ax_m.scatter(
    range(len(labels)),
    [rows[k]["predicted_peak_mb"] for k in labels],
    marker="_",
    s=250,
    color="black",
    zorder=3,
    label="analytic model",
)
ax_m.legend()
ax_m.set_title("SmolLM2-135M, batch 4×64, fp32, CPU")
tilt(ax_m)
if zo:  # step time ÷ one forward, per round (back to back), with the two-forward floor of a ZO step
    settings = list(table["zo_time_vs_forward"])
    for j, setting in enumerate(settings):
        for i, m in enumerate(zo_methods):
            iv = table["zo_time_vs_forward"][setting][m]
            x0 = i + (j - (len(settings) - 1) / 2) * 0.3
            ax_t.errorbar(
                x0,
                iv.estimate,
                yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]],
                fmt="os"[j % 2],
                color=color(m),
                capsize=4,
                ms=7,
            )
        ax_t.plot([], [], "os"[j % 2], color="0.4", label=setting)
    ax_t.axhline(2.0, color="black", ls=":", lw=1.2, label="floor: two forwards")
    ax_t.set_xticks(range(len(zo_methods)), [name(m) for m in zo_methods])
    ax_t.set_ylabel("step time ÷ one forward")
    ax_t.set_title(f"ZO step vs forward, 95 % Welch t over {zo['repeats']} rounds", fontsize=10)
    ax_t.legend(fontsize=9)
else:
    bars(
        ax_t,
        {k: rows[k]["time_vs_inference"] for k in labels},
        ylabel="step time ÷ one forward",
        fmt="{:.1f}×",
    )
    ax_t.set_title(
        f"step time; S-MeZO ÷ MeZO {time_iv.estimate:.2f}× [{time_iv.lo:.2f}, {time_iv.hi:.2f}]", fontsize=10
    )
tilt(ax_t)
names = list(extrap["LLaMA-7B"])
w = 0.27
for j, (model, pred) in enumerate(extrap.items()):
    ax_x.bar(
        np.arange(len(names)) + (j - 1) * w,
        [pred[m] for m in names],
        w,
        label=f"analytic {model}",
        color=f"C{j}",
    )
ax_x.scatter(
    np.arange(len(names)) + w,
    [paper.get(m, np.nan) for m in names],
    marker="D",
    s=50,
    color="black",
    label="paper, LLaMA-7b",
    zorder=3,
)
ax_x.set_xticks(
    range(len(names)),
    [name(m) if m in ("full", "lora", "mezo", "sparse_mezo", "inference") else m for m in names],
)
tilt(ax_x)
ax_x.set_yscale("log")
ax_x.set_ylabel("GB")
ax_x.legend(fontsize=9)
ax_x.set_title("analytic (fp16, batch 16 × 256) vs paper")
finish(fig, figure_path, table, verdicts, "Sparse MeZO memory and time vs MeZO, inference, LoRA, full FT")

# %% [markdown]
# Step-time ratios to MeZO (95 % Welch t over the repeated steps):

# %%
from IPython.display import Markdown

Markdown(
    "\n".join(f"- {name(k)}: {fmt_interval(iv, 'x', 'steps')}" for k, iv in table["time_vs_mezo"].items())
)

# %%
verdict_cell(verdicts)

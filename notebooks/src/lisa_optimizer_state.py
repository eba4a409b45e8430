# %% [markdown]
# # Optimizer state across layer switches: ours vs the reference LISA callback
# LMFlow's callback toggles `requires_grad` but never frees AdamW state, so memory grows with every newly
# visited layer (LMFlow issues #768, #778; papers/lisa/REFERENCE.md §2). `core.training.callbacks.LisaCallback` drops
# the state of layers that go inactive. 50 switches (K = 1), γ = 1, same seed: optimizer-state bytes after every
# switch and the measured peak of the step at every 10th switch (`papers/lisa/optimizer_state.py`). Deterministic
# byte counts: no interval. The verdict (reference − ours growth of the AdamW state) is read from the claims file.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_optimizer_state.png"

# %%
from core.infra.paths import study_path
from core.infra.results import load_json
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish, name

res = load_json(study_path("lisa", "optimizer_state", profile, results_root))
table = {}
for key in ("ours", "reference"):
    rows = res[key]
    peaks = [(r["switch"], r["peak_mb"]) for r in rows if "peak_mb" in r]
    table[key] = {
        "optimizer_state_mb_first": rows[0]["optimizer_state_mb"],
        "optimizer_state_mb_last": rows[-1]["optimizer_state_mb"],
        "peak_mb_first": peaks[0][1],
        "peak_mb_last": peaks[-1][1],
    }
growth = {k: t["optimizer_state_mb_last"] - t["optimizer_state_mb_first"] for k, t in table.items()}
table["extra_growth_of_reference_mb"] = growth["reference"] - growth["ours"]
verdicts = from_file("lisa", ["optimizer_state"], profile)

# %%
fig, (ax_state, ax_peak) = figure(2, 1, width=6.2)
for key in ("ours", "reference"):
    rows = res[key]
    ax_state.plot(
        [r["switch"] for r in rows],
        [r["optimizer_state_mb"] for r in rows],
        color=color(key),
        lw=2,
        label=name(key),
    )
    peaks = [(r["switch"], r["peak_mb"]) for r in rows if "peak_mb" in r]
    ax_peak.plot(*zip(*peaks), marker="o", color=color(key), lw=2, label=name(key))
for ax, ylabel in ((ax_state, "AdamW state (MB)"), (ax_peak, "measured peak of the step (MB)")):
    ax.set_xlabel("layer switch")
    ax.set_ylabel(ylabel)
    ax.legend()
ax_state.set_title("optimizer state after each switch")
ax_peak.set_title("peak memory of the step")
finish(
    fig,
    figure_path,
    table,
    verdicts,
    f"LISA optimizer state: {name(res['setting']['model'])}, γ = {res['setting']['gamma']}, CPU",
)

# %%
verdict_cell(verdicts)

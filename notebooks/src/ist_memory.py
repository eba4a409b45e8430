# %% [markdown]
# # Does IST take less memory than LoRA?
# Paper claim (IST abstract): updating only the selected layers' adapters reduces memory against plain PEFT. Left:
# the measured peak memory of one training step (`papers/ist/memory.py`, batch 4 × 64, LoRA r 8 on every linear
# layer, the bench setting): deterministic measurements, so bars without intervals; IST 25 % of layers ÷ LoRA is
# the claim's primary row. Right: why the saving needs the deselected adapters' AdamW state freed: the AdamW state
# at every step of IST with it freed (ours) and kept (the reference code), `configs/adapter_state.yaml` (30 steps,
# seed 0); the kept state grows to LoRA's full state once every layer was drawn.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/ist_memory.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import bars, color, figure, finish, tilt
from papers.ist.compare import adamw_state, ist_variant, memory_peaks

peaks = memory_peaks(profile, results_root)
state, _ = adamw_state(results_root)
ist = ist_variant(peaks)
table = {"memory_mb": peaks, "ist_over_lora": peaks[ist] / peaks["lora"], "adamw_state_mb": state}
verdicts = from_file("ist", ["memory"], profile)

# %%
fig, axes = figure(2, 1, width=5.4, height=4.2)
bars(axes[0], peaks, ylabel="peak memory of one step (MB)", fmt="{:.0f}")
axes[0].set_title(f"measured, batch 4 × 64: IST 25 % ÷ LoRA = {table['ist_over_lora']:.2f}×", fontsize=10)
tilt(axes[0])
for key, label in (("free", "freed (ours)"), ("keep", "kept (reference)")):
    axes[1].plot(
        range(1, len(state[key]) + 1),
        state[key],
        color=color("ist" if key == "free" else "ist_keep"),
        lw=2,
        label=f"IST, deselected state {label}",
    )
axes[1].set_ylim(bottom=0)
axes[1].set_xlabel("optimizer step")
axes[1].set_ylabel("AdamW state (MB)")
axes[1].set_title("AdamW state of deselected adapters", fontsize=10)
axes[1].legend(loc="lower right")
finish(
    fig, figure_path, table, verdicts, "Does IST take less memory than LoRA? Only with deselected state freed"
)

# %%
verdict_cell(verdicts)

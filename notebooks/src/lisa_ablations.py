# %% [markdown]
# # LISA ablations: number of sampled layers γ (`layers_ablation`) and sampling period K (`K_ablation`)
# Paper (§4.5, App. A.4): "more sampling layers and higher sampling period lead to better performance";
# γ = 8 gave the lowest loss on LLaMA-2-7B (Fig. 8), K = 13 of 122 steps was optimal (Fig. 9).
# One question per row of panels. Left: each setting's validation loss after 150 steps (descriptive; one run per
# setting, seed 0, and the seeds of the main setting γ = 2, K = 3). Right: the claims file's differences
# (lower = better for the first setting) with their 95 % t-intervals; one run per setting, so the seed-to-seed sd is
# borrowed from the main setting's seeds (core.analysis.stats.reference_sd_interval). γ: largest − smallest is primary;
# K: the middle K against each other K, both primary (the paper's best K is a middle one).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/lisa_ablations.png"

# %%
from core.reporting.claims import from_file, verdict_cell
from core.reporting.plotting import color, figure, finish
from papers.lisa import design as d
from papers.lisa.panels import claim_rows, difference_panel

settings = d.ablation_settings(profile, results_root)
reference = d.reference_seeds(profile, results_root)
rows = {key: claim_rows(claim, profile, results_root) for key, (_, claim) in d.ABLATIONS.items()}
table = {
    key: {"eval_loss_seed0": {v: d.eval_loss(r) for v, r in s.items()}, "rows": rows[key]}
    for key, s in settings.items()
}
table["main_setting_seeds"] = reference
verdicts = from_file("lisa", [claim for _, claim in d.ABLATIONS.values()], profile)

# %%
fig, axes = figure(2, 2, width=6.2, height=3.8)
main = {"gamma": settings["interval"], "interval": settings["gamma"]}
for (ax_loss, ax_diff), (key, s) in zip(axes, settings.items()):
    sym = d.SYMBOL[key]
    values = list(s)
    main_value = next(v for v, r in s.items() if r.name == d.OURS)
    ax_loss.scatter(
        range(len(values)),
        [d.eval_loss(s[v]) for v in values],
        color=color("lisa"),
        s=45,
        zorder=3,
        label="seed 0",
    )
    i = values.index(main_value)
    ax_loss.scatter(
        [i + 0.12] * len(reference),
        reference,
        color="0.5",
        s=25,
        marker="x",
        label=f"main setting, {len(reference)} seeds",
    )
    ax_loss.set_xticks(range(len(values)), [f"{sym} = {v}" for v in values])
    ax_loss.set_ylabel("validation loss after training")
    centre = sum(reference) / len(reference)  # the axis spans ±0.6, the scale of the design's MDE (~1.0)
    ax_loss.set_ylim(centre - 0.6, centre + 0.6)
    ax_loss.set_title(f"{sym} ablation: loss per setting (descriptive)")
    ax_loss.legend(loc="best")
    items = [(r["comparison"], r, []) for r in rows[key]]
    difference_panel(ax_diff, items, "difference of validation loss", interval="t, sd of the main seeds")
    ax_diff.set_title("lower for more layers?" if key == "gamma" else "is the middle K lowest?")
    ax_diff.set_xticks(
        range(len(items)), [f"{c}\n{'primary' if r['primary'] else 'secondary'}" for c, r, _ in items]
    )
finish(
    fig,
    figure_path,
    table,
    verdicts,
    "LISA ablations on SmolLM2-135M: do more layers (γ) or the period K lower the loss?",
)

# %%
verdict_cell(verdicts)

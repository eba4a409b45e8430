# %% [markdown]
# # LISA ablations: number of sampled layers γ (`layers_ablation`) and sampling period K (`K_ablation`)
# Paper (§4.5, App. A.4): "more sampling layers and higher sampling period lead to better performance";
# γ = 8 gave the lowest loss on LLaMA-2-7B (Fig. 8), K = 13 of 122 steps was optimal (Fig. 9).
# One question per row of panels. Left: each setting's validation loss after 150 steps, one dot per seed (descriptive;
# the main setting γ = 2, K = 3 is the main LISA run, whose other seeds are shown as crosses). Right: the claims
# file's differences (lower = better for the first setting) with their 95 % intervals: paired t over the seeds both
# settings ran (cpu: seeds 0-2, same seed = same data order), or, with one seed per setting (cpu32), the seed-to-seed
# sd borrowed from the main setting's seeds (core.analysis.stats.reference_sd_interval). γ: largest − smallest is
# primary; K: the middle K against each other K, both primary (the paper's best K is a middle one).

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
main_losses = d.main_seed_losses(profile, results_root)  # {seed: loss} of the main setting
reference = list(main_losses.values())
rows = {key: claim_rows(claim, profile, results_root) for key, (_, claim) in d.ABLATIONS.items()}
table = {
    key: {
        "eval_loss_per_seed": {
            v: {seed: d.eval_loss(r) for seed, r in runs.items()} for v, runs in s.items()
        },
        "rows": rows[key],
    }
    for key, s in settings.items()
}
table["main_setting_seeds"] = reference
verdicts = from_file("lisa", [claim for _, claim in d.ABLATIONS.values()], profile)


def paired_differences(a: dict, b: dict) -> list[float]:
    """Per-seed differences of two settings' runs ({seed: run}; none with one seed: its interval borrows the sd)."""
    return [d.eval_loss(a[seed]) - d.eval_loss(b[seed]) for seed in a] if len(a) > 1 else []


# %%
fig, axes = figure(2, 2, width=6.2, height=3.8)
for (ax_loss, ax_diff), (key, s) in zip(axes, settings.items()):
    sym = d.SYMBOL[key]
    values = list(s)
    seeds = sorted(next(iter(s.values())))
    main_value = next(v for v, runs in s.items() if next(iter(runs.values())).name == d.OURS)
    for k, v in enumerate(values):
        losses = [d.eval_loss(s[v][seed]) for seed in seeds]
        x = [k - 0.06 + 0.12 * j / max(len(losses) - 1, 1) for j in range(len(losses))]
        ax_loss.scatter(
            x,
            losses,
            color=color("lisa"),
            s=40,
            zorder=3,
            label=f"seeds {seeds[0]}-{seeds[-1]}"
            if k == 0 and len(seeds) > 1
            else ("seed 0" if k == 0 else None),
        )
    others = [v for seed, v in main_losses.items() if seed not in seeds]
    i = values.index(main_value)
    ax_loss.scatter(
        [i + 0.15] * len(others),
        others,
        color="0.5",
        s=25,
        marker="x",
        label=f"main setting, its other {len(others)} seeds",
    )
    ax_loss.set_xticks(range(len(values)), [f"{sym} = {v}" for v in values])
    ax_loss.set_ylabel("validation loss after training")
    centre = sum(reference) / len(reference)
    ax_loss.set_ylim(centre - 0.6, centre + 0.6)
    ax_loss.set_title(f"{sym} ablation: loss per setting (descriptive)")
    ax_loss.legend(loc="best")
    pairs = {
        f"{sym} {o} − {sym} {c}": (s[o], s[c]) for o, c, _ in d.ablation_pairs(s, key)
    }  # claims rows' words
    items = [(r["comparison"], r, paired_differences(*pairs[r["comparison"]])) for r in rows[key]]
    interval = "paired t" if len(seeds) > 1 else "t, sd of the main seeds"
    difference_panel(ax_diff, items, "difference of validation loss", interval=interval)
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

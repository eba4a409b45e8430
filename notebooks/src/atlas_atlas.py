# %% [markdown]
# # Method atlas: memory against quality for every method, on one task (descriptive)
# SmolLM2-135M-Instruct on the bigbench arithmetic split, MISA's deciding accuracy_math design (batch 2 × ≤ 64
# tokens, 64 validation examples, 64 multiple-choice test questions, seeds 0, 1, 2 with the same data order for every
# arm), every method at its own probed lr (`papers/atlas/configs/atlas.yaml`). First-order arms train 200 steps; the
# zeroth-order arms (MeZO, S-MeZO, R-MeZO) train the steps that take the same training wall-clock at the bench's step
# times (the config states the count). x: the peak memory measured by the bench on the same batch (`core.costs.bench
# --profile atlas`, 1 thread); y: test accuracy and validation loss, one dot per seed, the mean with the 95 % t
# interval over seeds; the line joins the Pareto front of the means (no other arm has less memory and better
# quality). (c) the bench's median step time; (d) the same accuracies against `core.costs.memory`'s analytic peak at
# LLaMA-2-7B (bf16, batch 1 × 1024, eager attention). The closing table holds every method − LoRA paired by seed
# with the claims engine's interval and MDE; nothing is judged. Arms without finished runs are named as pending.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/atlas_atlas.png"

# %%

from core.reporting.plotting import color, figure, finish, numbers_cell
from papers.atlas import atlas, tables

rows = atlas.rows(profile, results_root)
diffs = atlas.differences(profile, results_root)
bench = atlas.bench_rows(results_root, profile)
done = [r for r in rows if r["test_accuracy"]["mean"] is not None and r["peak_mb"] is not None]
pending = [r["label"] for r in rows if r["status"] == atlas.PENDING]
partial = [
    f"{r['label']} ({len(r['seeds'])} of {len(r['expected_runs'])} seeds)"
    for r in rows
    if r["seeds"] and len(r["seeds"]) < len(r["expected_runs"])
]


def label_sides(points: list[tuple[float, float]]) -> list[int]:
    """+1 (label right of the point) or -1 (left), alternating among points closer than 6 % of the x range, in
    order of y: two points at one memory with close qualities (MeZO, R-MeZO) get labels on opposite sides."""
    xs = [x for x, _ in points]
    span = (max(xs) - min(xs)) or 1.0
    sides, last_x, side = [0] * len(xs), None, 1
    for i in sorted(range(len(xs)), key=lambda i: points[i]):
        side = -side if last_x is not None and xs[i] - last_x < 0.06 * span else 1
        sides[i], last_x = side, xs[i]
    return sides


def quality_panel(ax, x_key: str, metric: str, higher: bool, xlabel: str, title: str) -> list[str]:
    """Per-seed dots, mean ± seed interval, each point named, the Pareto front of the means; returns the front."""
    seeds_key = "per_seed_accuracy" if metric == "test_accuracy" else "per_seed_loss"
    points = [(r[x_key], r[metric]["mean"]) for r in done]
    for r, (x, y), side in zip(done, points, label_sides(points)):
        stat, dots = r[metric], list(r[seeds_key].values())
        ax.plot([x] * len(dots), dots, "o", ms=5, alpha=0.45, color=color(r["arm"]))
        err = None if stat["lo"] is None else [[y - stat["lo"]], [stat["hi"] - y]]
        ax.errorbar(x, y, yerr=err, fmt="D", ms=7, capsize=4, color=color(r["arm"]), mec="black")
        ax.annotate(
            r["label"],
            (x, y),
            xytext=(7 * side, 4),
            textcoords="offset points",
            fontsize=9,
            ha="left" if side > 0 else "right",
        )
    front = atlas.pareto(points, higher)
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--", color="0.3", lw=1.2, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy" if metric == "test_accuracy" else "validation loss")
    ax.set_title(title)
    return [done[i]["label"] for i in front]


# %%
fig, axes = figure(2, 2, width=6.6, height=4.6)
axes = axes.ravel()
measured = "peak memory, measured (MB, bench 2 × 64)"
table = {"arms": rows, "differences": diffs}
table["front_accuracy"] = quality_panel(
    axes[0], "peak_mb", "test_accuracy", True, measured, "(a) test accuracy vs measured peak"
)
table["front_loss"] = quality_panel(
    axes[1],
    "peak_mb",
    "validation_loss",
    False,
    measured,
    "(b) validation loss vs measured peak (lower: better)",
)
order = [r for r in rows if r["step_s"] is not None]
ax = axes[2]
ax.barh(range(len(order)), [r["step_s"] for r in order], color=[color(r["arm"]) for r in order])
ax.set_yticks(
    range(len(order)),
    [
        f"{r['label']} ({r['steps']} steps{', pending' if r['status'] == atlas.PENDING else ''})"
        for r in order
    ],
)
ax.invert_yaxis()
ax.set_xlabel("seconds per step, median (bench, 1 thread)")
ax.set_title("(c) wall-clock per step (the runs' steps in brackets)")
table["front_7B"] = quality_panel(
    axes[3],
    "predicted_gib_7B",
    "test_accuracy",
    True,
    "predicted peak at LLaMA-2-7B (GiB, bf16, 1 × 1024)",
    "(d) the same accuracies vs the analytic peak at 7B",
)
table["zo_steps_from_bench"] = atlas.zo_steps(bench) if bench else None
table["pending"] = pending
table["partial"] = partial
notes = ["pending (not run yet), not drawn in (a), (b), (d): " + ", ".join(pending)] if pending else []
notes += ["drawn with the seeds finished so far: " + ", ".join(partial)] if partial else []
if notes:
    fig.text(0.01, -0.01, "\n".join(notes), fontsize=10, va="top")
finish(
    fig, figure_path, table, [], "Method atlas: memory against quality (SmolLM2-135M, arithmetic, 3 seeds)"
)

# %%
numbers_cell(tables.arms_table(rows) + "\n\n" + tables.differences_table(diffs))

"""Drawing for the Sparse MeZO figures, once: the paired difference a verdict reads (per-seed dots, the interval of
the verdict's design, the ±MDE band around 0 and the paper's effect where it has the row's unit) and the
per-seed validation curves of the convergence figure. The numbers come from papers.sparse_mezo.compare; the
verdict words from the claims file (core.reporting.claims.from_file): nothing is judged here.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from core.reporting.claims import describe
from core.reporting.plotting import color, name

METRIC_LABELS = {
    "test_accuracy": "test accuracy difference",
    "balanced_accuracy": "balanced accuracy difference",
    "eval_loss": "validation loss difference",
}


def pair_label(ours: str, comparator: str) -> str:
    return f"{name(ours)}\n− {name(comparator)}"


def column(ax, i: int, dots, iv, mde: float, colour, hollow: bool = False) -> None:
    """One comparison at x = i: its units' differences as dots (one seed, one direction, one round), the interval
    the verdict uses as a black bar with a diamond at the estimate, and the ±MDE band around 0 in grey."""
    ax.fill_between([i - 0.4, i + 0.4], -mde, mde, color="0.88", lw=0, zorder=0)
    xs = (
        i - 0.12 + np.linspace(-0.06, 0.06, len(dots))
        if len(dots) < 10
        else i - 0.12 + np.random.default_rng(i).uniform(-0.08, 0.08, len(dots))
    )
    ax.scatter(
        xs,
        dots,
        s=36 if len(dots) < 10 else 14,
        facecolor="none" if hollow else colour,
        edgecolor=colour,
        zorder=2,
    )
    ax.errorbar(
        i + 0.14,
        iv.estimate,
        yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]],
        fmt="D",
        mfc="white" if hollow else "black",
        color="black",
        capsize=5,
        ms=6,
        lw=1.6,
        zorder=3,
    )


def difference_panel(ax, data, pairs, metric: str, title: str, secondary=()) -> dict:
    """ours − comparator on `metric` for each (ours, comparator, paper effect) in `pairs`, one column each: every
    seed's difference as a dot, the interval the verdict uses (black: crossed seeds × items for test accuracy,
    paired t over seeds otherwise) with a diamond at the estimate, the ±MDE band around 0 (grey) and the paper's
    effect (open diamond; accuracy rows only). Pairs in `secondary` are drawn hollow: shown, never deciding.
    The axis always holds 0 and the ±MDE band, so an undecided gap is drawn at its true size. Returns the table."""
    table, top = {}, 0.0
    for i, (ours, comparator, effect) in enumerate(pairs):
        c = data.paired(ours, comparator)[metric]
        iv, dots = c.interval, data.seed_differences(ours, comparator, metric)
        hollow = (ours, comparator) in secondary
        column(ax, i, list(dots.values()), iv, c.mde, color(ours), hollow)
        if effect is not None and metric == "test_accuracy":
            ax.plot([i + 0.32], [effect], "D", mfc="white", mec="tab:red", ms=7, zorder=4)
        top = max(top, c.mde, *(abs(v) for v in (iv.lo, iv.hi, *dots.values())))
        table[f"{ours} - {comparator}"] = {
            "interval": iv,
            "mde": c.mde,
            "per_seed": dots,
            "paper_effect": effect if metric == "test_accuracy" else None,
            "role": "secondary" if hollow or metric != "test_accuracy" else "primary",
        }
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylim(-1.15 * top, 1.15 * top)
    ax.set_xlim(-0.6, len(pairs) - 0.4)
    ax.set_xticks(range(len(pairs)), [pair_label(o, c) for o, c, _ in pairs])
    ax.set_ylabel(f"{METRIC_LABELS[metric]} (ours − comparator)")
    ax.set_title(title, loc="left", fontsize=10)
    handles = [
        Line2D([], [], ls="", marker="o", color="0.4", label="one seed"),
        Line2D([], [], ls="-", marker="D", color="black", label=describe(iv, "seeds")),
        Line2D([], [], lw=6, color="0.88", label="±MDE (80 % power)"),
    ]
    if any(e is not None for _, _, e in pairs) and metric == "test_accuracy":
        handles.append(
            Line2D([], [], ls="", marker="D", mfc="white", mec="tab:red", label="paper (SST-2 column)")
        )
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=9)
    ax.grid(axis="x", visible=False)
    return table


def claim_word(verdicts, claim: str) -> str:
    """The claim's verdict as the claims file gives it (core.reporting.claims.from_file), for a panel title."""
    return next(v.verdict for v in verdicts if v.claim["id"] == claim)


def seed_curves(ax, data, seed: int, arms, steps_to: dict) -> dict:
    """One seed's validation accuracy over steps for each arm, MeZO's final value (the seed's target) as a dashed
    line and each arm's first evaluation at or above it as a vertical tick (none: never reached)."""
    runs = {r.name: r for r in data.runs if r.seed == seed and r.name in arms}
    target = steps_to[seed]["target"]
    for arm, run in runs.items():
        curve = {s: v for s, v in run.curve().items() if s > 0}
        ax.plot(list(curve), list(curve.values()), color=color(arm), lw=1.6, label=name(arm))
    ax.axhline(target, color="0.3", ls="--", lw=1, label=f"MeZO's final ({target:.3f})")
    marks = {"mezo": steps_to[seed]["mezo_steps"], arms[-1]: steps_to[seed]["steps"]}
    for arm, step in marks.items():
        if step is not None:
            ax.axvline(step, color=color(arm), ls=":", lw=1.4)
    ax.set_xlabel("step")
    ax.set_ylabel("validation accuracy (200 items)")
    shown = {k: "never" if v is None else v for k, v in marks.items()}
    ax.set_title(
        f"seed {seed}: first step at the target, MeZO {shown['mezo']}, {name(arms[-1])} {shown[arms[-1]]}",
        loc="left",
        fontsize=10,
    )
    ax.legend(fontsize=9, loc="lower right")
    return {"target": target, **{f"steps_{k}": v for k, v in marks.items()}}

"""The IST figures' one drawing of a paired comparison: ours − comparator per seed (points) with the interval its
verdict uses (papers/ist/compare.py, the same call as papers/ist/claims.py), one panel per metric."""

from __future__ import annotations

import textwrap

from core.reporting.plotting import figure, seed_points
from papers.ist.compare import METRICS, Comparison, comparison


def paired_figure(c: Comparison, pairs, width: float = 5.2, height: float = 4.2):
    """(figure, table): one panel per metric (validation loss: paired t over seeds; test accuracy: seeds × items)
    with every pair (ours, comparator, primary) of `pairs` as per-seed differences and its interval; the row
    that decides the claim is marked."""
    fig, axes = figure(len(METRICS), 1, width=width, height=height)
    table = {}
    for ax, (metric, (_, direction, words)) in zip(axes, METRICS.items()):
        values, intervals, labels = {}, {}, {}
        for ours, comparator, primary in pairs:
            compared = c.compared(ours, comparator, metric)
            per_seed = c.per_seed_differences(ours, comparator, metric)
            name = comparison(ours, comparator)
            values[ours], intervals[ours] = list(per_seed.values()), compared.interval
            labels[ours] = f"{name}\n({'decides' if primary and metric == 'eval_loss' else 'shown'})"
            table[f"{words}: {name}"] = {
                "per_seed": per_seed,
                "interval": compared.interval,
                "mde": compared.mde,
            }
        seed_points(
            ax, values, intervals, f"{words}: ours − comparator", labels=labels, legend_loc="upper left"
        )
        legend = ax.get_legend()
        handles, texts = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        ax.legend(handles, [textwrap.fill(t, 34) for t in texts], loc="upper left")
        ax.axhline(0, color="black", lw=0.9)
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.4 * (hi - lo))  # room for the legend above the points
        ax.set_title(f"{words} ({'below' if direction < 0 else 'above'} 0: ours better)", fontsize=10)
    return fig, table

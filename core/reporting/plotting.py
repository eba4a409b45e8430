"""One house style for every figure: seaborn theme, one name map and palette, seed-level points with the interval
the verdict uses, the paper's value as a reference line, and a subtitle with the verdicts (`core.reporting.claims`).

    from core.reporting.claims import judge, verdict_cell
    from core.reporting.plotting import figure, finish, seed_points
    v = judge("lisa", "loss_curves", interval, mde)              # the paper's value comes from claims.yaml
    fig, ax = figure(1, 1); seed_points(ax, {"full": [...], "lisa": [...]}, ylabel="validation loss")
    finish(fig, figure_path, table, [v], "LISA vs full FT")      # subtitle = verdict + paper number; saved
    verdict_cell([v])                                            # last cell: markdown table of the same numbers

Legibility is enforced when saving: text >= 9 pt, PNG <= 1800 px wide (check_legible).
"""

from __future__ import annotations

import contextlib
import dataclasses
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.text import Text

from core.analysis.curves import curve_band, smooth
from core.analysis.stats import Interval
from core.infra.results import save_figure
from core.reporting.claims import Verdict, describe
from core.reporting.palette import NAMES, PALETTE, color, name  # noqa: F401 (notebooks import them from here)

DPI = 120
MAX_WIDTH_PX = 1800
MIN_FONT_PT = 9

# internal key -> the words a reader sees (methods, metrics, result files); one map for every figure


def use_style() -> None:
    """seaborn whitegrid with text >= 9 pt at 100 % zoom (figure.dpi for notebooks, DPI for the PNGs)."""
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        rc={
            "font.size": 11,
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.fontsize": 9.5,
            "legend.title_fontsize": 10,
            "figure.titlesize": 12,
            "figure.dpi": 100,
            "savefig.dpi": DPI,
            "axes.titleweight": "normal",
            "figure.constrained_layout.use": True,
        },
    )


use_style()


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.0, height: float = 4.2):
    """A grid of axes, `width` x `height` inches per panel, never wider than MAX_WIDTH_PX at DPI."""
    total = min(width * ncols, MAX_WIDTH_PX / DPI - 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(total, height * nrows + 0.8), squeeze=False)
    return fig, (axes[0, 0] if axes.size == 1 else axes.ravel() if nrows == 1 or ncols == 1 else axes)


# ---- drawing ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fixed_jitter(seed: int = 0):
    """seaborn's stripplot jitters with numpy's global RNG: draw it from `seed` and put the global state back, so
    an identical re-execution draws an identical figure (core.reporting.figures keeps the version)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def seed_points(
    ax,
    values: dict[str, list[float]],
    intervals: dict[str, Interval] | None = None,
    ylabel: str = "",
    over: str = "seeds",
    labels: dict[str, str] | None = None,
    legend_loc: str = "best",
) -> None:
    """Every seed as a point (seaborn stripplot) and, per group, the mean with its interval as a black bar;
    the legend says what the bar is. `intervals` default: none drawn (points only)."""
    keys = list(values)
    ticks = [(labels or {}).get(k) or name(k) for k in keys]
    xs = [i for i, k in enumerate(keys) for _ in values[k]]
    ys = [v for k in keys for v in values[k]]
    with fixed_jitter():
        sns.stripplot(
            x=xs,
            y=ys,
            hue=xs,
            palette=[color(k) for k in keys],
            size=6,
            jitter=0.12,
            alpha=0.8,
            native_scale=True,
            legend=False,
            ax=ax,
            zorder=2,
        )
    handles = [
        Line2D(
            [], [], ls="", marker="o", color="0.5", label=f"one {over[:-1] if over.endswith('s') else over}"
        )
    ]
    for i, k in enumerate(keys):
        iv = (intervals or {}).get(k)
        if iv is not None:
            ax.errorbar(
                i + 0.28,
                iv.estimate,
                yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]],
                fmt="D",
                color="black",
                capsize=5,
                ms=6,
                lw=1.6,
                zorder=3,
            )
    described = [iv for iv in (intervals or {}).values() if iv is not None]
    if described:
        words, ns = describe(described[0], over), sorted({iv.n for iv in described})
        if len(ns) > 1:  # columns of unequal size (e.g. 8 and 3 seeds): say the range, not the first one's n
            words = words.replace(f"over {described[0].n} ", f"over {ns[0]}-{ns[-1]} ")
        handles.append(Line2D([], [], ls="-", marker="D", color="black", label=f"mean and {words}"))
    ax.set_xticks(range(len(keys)), ticks)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylabel(ylabel)
    ax.legend(handles=handles, loc=legend_loc)


def bars(
    ax,
    values: dict[str, float],
    ylabel: str = "",
    labels: dict[str, str] | None = None,
    fmt: str = "{:.3g}",
) -> None:
    """One bar per key with its value written on it (deterministic measurements: no interval to draw)."""
    keys = list(values)
    x = np.arange(len(keys))
    ax.bar(x, [values[k] for k in keys], color=[color(k) for k in keys])
    for i, k in enumerate(keys):
        ax.annotate(
            fmt.format(values[k]),
            (i, values[k]),
            ha="center",
            va="bottom",
            fontsize=9.5,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(x, [(labels or {}).get(k) or name(k) for k in keys])
    ax.margins(y=0.12)  # room for the values written on the bars
    ax.set_ylabel(ylabel)


def band_curves(
    ax,
    curves: dict[str, np.ndarray],
    steps=None,
    ylabel: str = "",
    xlabel: str = "optimizer step",
    over: str = "seeds",
) -> dict:
    """Per method: each seed as a thin line, the mean as a thick one and the 95 % t band over seeds."""
    out = {}
    for key, arr in curves.items():
        arr = np.atleast_2d(np.asarray(arr, dtype=float))
        x = np.arange(1, arr.shape[1] + 1) if steps is None else np.asarray(steps)
        for row in arr:
            ax.plot(x, row, color=color(key), lw=0.7, alpha=0.45)
        if arr.shape[0] > 1:
            band = curve_band(arr)
            ax.fill_between(x, band["lo"], band["hi"], color=color(key), alpha=0.2, lw=0)
            out[key] = band
        ax.plot(x, arr.mean(axis=0), color=color(key), lw=2.2, label=name(key))
    n = max(np.atleast_2d(a).shape[0] for a in curves.values())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(title=f"thin: one {over[:-1]}; band: 95 % t over {n}" if n > 1 else None, loc="best")
    return out


def loss_panels(
    ax_train,
    ax_eval,
    runs,
    evals: dict[str, dict[int, float]],
    intervals: dict[str, Interval],
    window: int = 5,
) -> None:
    """The two loss panels of a method comparison: training loss per step (a `window`-step moving average,
    band_curves over seeds) and each method's validation loss after training (seed_points with its interval).
    evals: {method: {seed: validation loss}}; runs: the finished runs (core.infra.results.Run) of those methods."""
    curves = {m: np.array([smooth(r.losses, window) for r in runs if r.name == m]) for m in evals}
    band_curves(ax_train, curves, ylabel=f"training loss ({window}-step moving average)")
    seed_points(
        ax_eval,
        {m: list(v.values()) for m, v in evals.items()},
        intervals,
        ylabel="validation loss after training",
    )


def tilt(ax, degrees: float = 30) -> None:
    """Slanted x tick labels anchored at their right end (long method names stay apart)."""
    for label in ax.get_xticklabels():
        label.set(rotation=degrees, ha="right", rotation_mode="anchor")


# ---- saving and the verdict cell -----------------------------------------------------------------------------------


def plain(obj):
    """Intervals and numpy values as JSON-ready dicts and floats (for the manifest's table)."""
    if isinstance(obj, Interval):
        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def check_legible(fig) -> None:
    """Every visible text >= MIN_FONT_PT and the figure no wider than MAX_WIDTH_PX at DPI."""
    small = sorted(
        {
            (t.get_text()[:30], t.get_fontsize())
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT
        }
    )
    if small:
        raise ValueError(f"text below {MIN_FONT_PT} pt: {small[:5]}")
    if fig.get_figwidth() * DPI > MAX_WIDTH_PX:
        raise ValueError(f"figure {fig.get_figwidth():.1f} in wide > {MAX_WIDTH_PX} px at {DPI} dpi")


def numbers_cell(markdown: str):
    """The last cell of a descriptive notebook (one without claims, e.g. the method atlas): its numbers table, under
    a heading that says no claim is judged (``tests/test_figure_checks.py`` checks it)."""
    from IPython.display import Markdown

    return Markdown("## Numbers (descriptive: no claim is judged)\n\n" + markdown)


def finish(fig, figure_path: str, table: dict, verdicts: list[Verdict], title: str) -> None:
    """Title of at most 2 lines (the question; the claims' verdict words from the claims file on the second line
    when they fit), legibility check, then save the PNG with its inputs, table and verdicts
    (core.infra.results.save_figure; core.reporting.figures copies them into the manifest). Intervals and numbers live
    in the verdict cell, the manifest and the paper's claims forest plot, not in the title. verdicts:
    core.reporting.claims.from_file (never judged here)."""
    width = int(fig.get_figwidth() * 11)
    lines = textwrap.wrap(title, width)
    words = " · ".join(dict.fromkeys(f"{v.claim['id']}: {v.verdict}" for v in verdicts))
    if len(lines) == 1 and words and len(words) <= width:
        lines.append(words)
    if len(lines) > 2:
        raise ValueError(f"{figure_path}: the title wraps to {len(lines)} lines; at most 2 (shorten it)")
    fig.suptitle("\n".join(lines), fontsize=11, ha="left", x=0.01, fontweight="normal")
    check_legible(fig)
    save_figure(fig, figure_path, plain(table), verdicts=[v.record() for v in verdicts])
    from PIL import Image

    with Image.open(figure_path) as img:
        if img.width > MAX_WIDTH_PX:
            raise ValueError(f"{figure_path} is {img.width} px wide > {MAX_WIDTH_PX}")

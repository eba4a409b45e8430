"""The claims forest plot: the first figure of every paper, drawn from its claims file (core.reporting.claims_file)
alone.

One row per comparison (primary rows in the claim's colour, secondary rows grey and marked), ours − comparator with
the interval the verdict uses, a grey band of ±MDE around "no difference" (what the design could detect), a
diamond at the paper's effect where the paper gives one, and the row's verdict word at the right. One panel per
quantity, so that each axis has one unit: losses, accuracies, ratios (log axis, 1 = no difference), then one panel
per other unit or quantity (GB, MB, Spearman ρ, ΔL, ...). Rows are numbered as the README's claims table numbers
the claims (claims.yaml order). Claims that cannot be tested are listed under the panels with their reason.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from core.infra.paths import read_claims
from core.reporting.claim_text import claims as paper_claims
from core.reporting.claims_render import ours
from core.reporting.plotting import figure

COLOURS = {
    "holds": (0.0, 0.55, 0.3),
    "holds, smaller than the paper's": (0.45, 0.65, 0.1),
    "does not hold": (0.8, 0.15, 0.1),
    "inconclusive": (0.35, 0.35, 0.45),
    "secondary": (0.6, 0.6, 0.6),
}
FAMILIES = ("loss", "accuracy", "ratio")
# quantities that name an axis whatever the qualifiers around them ("antithetic ΔL, noise on Q5 − Q1" -> "ΔL")
QUANTITIES = ("ΔL", "step time", "Spearman ρ", "χ²/df", "E‖ĝ − g‖²/‖g‖²", "‖∇f‖²", "1/π error")
LABEL_WIDTH = 46  # characters per line of a row label (two lines at most)
WORD_WIDTH = 16  # characters per line of the verdict at the right


def family(row: dict) -> str:
    """The panel a row belongs to: loss, accuracy, ratio, else its unit or the quantity its metric measures."""
    if row["unit"] == "x":
        return "ratio"
    metric = row["metric"].lower()
    if "loss" in metric:
        return "loss"
    if "accuracy" in metric or "acc" in metric.split():
        return "accuracy"
    if row["unit"]:
        return row["unit"]
    return next((q for q in QUANTITIES if q.lower() in metric), row["metric"])


def word(row: dict) -> str:
    if row["verdict"] is None:
        return "secondary"
    return "inconclusive" if row["verdict"].startswith("inconclusive") else row["verdict"]


def _label(row: dict, number: int) -> str:
    """'3. LISA − LoRA, validation loss', wrapped to two lines of LABEL_WIDTH (cut with … beyond)."""
    lines = textwrap.wrap(f"{number}. {row['comparison']}, {row['metric']}", LABEL_WIDTH)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: LABEL_WIDTH - 1] + "…"]
    return "\n".join(lines)


def _word_text(row: dict) -> str:
    """The verdict at the right of the row, wrapped so that a long word cannot widen the image."""
    text = word(row) if word(row) != "inconclusive" else row["verdict"]
    if text.startswith("not testable"):  # the reason is long and stands in the README table
        text = text.split(" (")[0]
    return "\n".join(textwrap.wrap(text, WORD_WIDTH))


def _draw_row(ax, y: float, row: dict, ratio: bool) -> None:
    colour = COLOURS.get(word(row), COLOURS["inconclusive"])
    zero = 1.0 if ratio else 0.0
    mde = row["mde"]
    if mde is not None and np.isfinite(mde) and mde > 0:
        lo, hi = (1 / (1 + mde), 1 + mde) if ratio else (-mde, mde)
        ax.fill_betweenx([y - 0.3, y + 0.3], lo, hi, color=(0.85, 0.85, 0.85), zorder=0, lw=0)
    est, lo, hi = row["estimate"], row["lo"], row["hi"]
    ax.plot([lo, hi], [y, y], color=colour, lw=2.2, zorder=2)
    ax.plot([est], [y], "o", color=colour, ms=6, zorder=3)
    if row["paper_effect"] is not None:
        paper = row["paper_effect"] + 1 if ratio else row["paper_effect"]
        ax.plot([paper], [y], "D", mfc="white", mec="black", ms=6, zorder=4)
    ax.axvline(zero, color="black", lw=0.8, zorder=1)


def _panel(ax, rows: list[tuple[int, dict]], name: str) -> None:
    ratio = name == "ratio"
    for k, (_, row) in enumerate(rows):
        _draw_row(ax, -k, row, ratio)
        ax.annotate(
            _word_text(row),
            (1.01, -k),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=9,
            color=COLOURS.get(word(row), COLOURS["inconclusive"]),
        )
    ax.set_yticks([-k for k in range(len(rows))], [_label(r, n) for n, r in rows], fontsize=9)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    if (
        ratio
    ):  # few, plain tick labels: a log axis over a narrow range otherwise prints overlapping minor labels
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    unit = {"loss": "loss difference", "accuracy": "accuracy difference", "ratio": "ratio (1 = equal)"}
    ax.set_xlabel(f"ours − comparator: {unit.get(name, name)}")
    ax.set_title(f"{name}: ● ours with its 95 % interval, ◇ paper, grey: ±MDE", loc="left", fontsize=10)


def forest(paper: str, profile: str = "cpu"):
    """(figure, table) of the paper's claims file: the rows with an interval in their family panels."""
    data = read_claims(paper, profile)
    order = {cid: i for i, cid in enumerate(paper_claims(paper)["claims"], 1)}  # the README table's numbers
    drawn = [(order[r["claim"]], r) for r in data["rows"] if r["estimate"] is not None]
    names = list(FAMILIES) + sorted({family(r) for _, r in drawn} - set(FAMILIES))
    panels = {f: [(n, r) for n, r in drawn if family(r) == f] for f in names}
    panels = {f: rows for f, rows in panels.items() if rows}
    heights = [max(len(rows), 1) * 0.5 + 1.0 for rows in panels.values()] or [1.0]
    fig, axes = figure(1, 1, width=11.0, height=sum(heights))
    fig.clear()
    grid = fig.add_gridspec(len(panels) or 1, 1, height_ratios=heights)
    for i, (name, rows) in enumerate(panels.items()):
        _panel(fig.add_subplot(grid[i]), rows, name)
    untested = [f"{cid}: {v}" for cid, v in data["claims"].items() if v.startswith("not testable")]
    if untested:
        text = textwrap.shorten("not tested here — " + "; ".join(untested), 700, placeholder=" …")
        fig.supxlabel(text, fontsize=9, wrap=True)
    table = {
        "rows": [
            {
                "claim": r["claim"],
                "comparison": r["comparison"],
                "metric": r["metric"],
                "ours": ours(r),
                "mde": r["mde"],
                "verdict": r["verdict"],
            }
            for _, r in drawn
        ],
        "claims": data["claims"],
    }
    return fig, table

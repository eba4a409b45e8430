"""Figure panels shared by the LISA notebooks: the interval a verdict uses is read from the claims file
(`data/results/lisa/claims/<profile>.json`, core.reporting.claims_file) and drawn with the per-unit values behind it.
Nothing here judges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.analysis.stats import same_seeds
from core.infra.io import RESULTS
from core.infra.paths import read_claims
from core.reporting.plotting import color


def claim_rows(claim: str, profile: str = "cpu", root: Path | str = RESULTS) -> list[dict]:
    """The claims file's rows of one claim, primary first (the file's order within each role)."""
    rows = [r for r in read_claims("lisa", profile, Path(root))["rows"] if r["claim"] == claim]
    return sorted(rows, key=lambda r: not r["primary"])


def row(rows: list[dict], comparison: str, metric: str | None = None) -> dict:
    """The one row of `rows` with this comparison (and metric)."""
    found = [r for r in rows if r["comparison"] == comparison and metric in (None, r["metric"])]
    if len(found) != 1:
        raise KeyError(f"{comparison!r} / {metric!r}: {len(found)} rows in the claims file")
    return found[0]


def role_label(r: dict) -> str:
    """'primary: inconclusive (MDE = 0.4)' / 'secondary (does not decide)'."""
    return f"primary: {r['verdict']}" if r["primary"] else "secondary (does not decide)"


def seed_dots(ours: dict, theirs: dict) -> tuple[list[float], str, str]:
    """The per-unit values behind core.analysis.stats.seed_interval's design, with the unit and interval words: both
    arms on the same seeds -> the paired differences (one per seed, "paired t"); else each of our seeds minus the
    comparator's mean ("Welch t": unequal seeds have no pairs)."""
    if same_seeds(ours, theirs):
        return [ours[s] - theirs[s] for s in sorted(ours)], "seed", "paired t"
    mean = float(np.mean(list(theirs.values())))
    return [ours[s] - mean for s in sorted(ours)], "seed − comparator mean", "Welch t"


def difference_panel(
    ax,
    items: list[tuple[str, dict, list[float]]],
    ylabel: str,
    unit: str = "seed",
    interval: str = "paired t",
) -> None:
    """Paired differences, one column per comparison: every unit's difference as a dot and the claims file's
    interval (mean and 95 % interval of the row, black diamond), with 0 (no difference) as a line.
    items: (column label, claims-file row, per-unit differences)."""
    for i, (_, r, values) in enumerate(items):
        x = np.full(len(values), i) + np.linspace(-0.08, 0.08, len(values))
        if len(values):
            ax.scatter(x, values, color="0.35", s=30, zorder=3, label=f"one {unit}" if i == 0 else None)
        ax.errorbar(
            i + (0.25 if len(values) else 0.0),
            r["estimate"],
            yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
            fmt="D",
            color="black" if r["primary"] else "0.55",
            capsize=5,
            ms=6,
            lw=1.6,
            zorder=4,
            label=f"mean and 95 % {interval} (claims file)" if i == 0 else None,
        )
    ax.axhline(0, color="black", lw=0.9)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.3 * (hi - lo))  # room for the legend above the data
    ax.set_xticks(range(len(items)), [label for label, _, _ in items])
    ax.set_xlim(-0.5, len(items) - 0.3)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")


def measured_panel(
    ax, items: list[tuple[str, float, str]], ylabel: str, reference: float | None = None
) -> None:
    """Deterministic values (one measurement each, no interval) as labelled dots. items: (label, value, key of
    the colour map)."""
    for i, (_, value, key) in enumerate(items):
        ax.scatter([i], [value], s=70, color=color(key), zorder=3)
        ax.annotate(f"{value:.3g}", (i, value), xytext=(8, 0), textcoords="offset points", va="center")
    if reference is not None:
        ax.axhline(reference, color="0.4", lw=0.9)
    ax.set_xticks(range(len(items)), [label for label, _, _ in items])
    ax.set_xlim(-0.5, len(items) - 0.3)
    ax.set_ylabel(ylabel)

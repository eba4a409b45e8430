"""One house style for every figure: seaborn theme, one name map and palette, the paper's number and our verdict
on the figure, seed-level points with the interval the verdict uses, and a verdict cell for the notebook.

    from core.plotting import judge, seed_points, paper_line, finish, verdict_cell
    v = judge("lisa", "time_cost", ratio_interval, mde)        # the paper's value comes from claims.yaml
    fig, ax = figure(1, 1); seed_points(ax, {"full": [...], "lisa": [...]}, ylabel="validation_loss")
    finish(fig, figure_path, table, [v], "LISA time per step")  # subtitle = verdict + paper number; saved
    verdict_cell([v])                                            # last cell: markdown table of the same numbers

Paper numbers are read from ``papers/<paper>/claims.yaml`` (one place; never typed into a notebook). Verdicts
are `core.verdicts.decide` on the interval of the difference the claim is about (the vocabulary of the claims
tables). Legibility is enforced when saving: text >= 9 pt, PNG <= 1800 px wide.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import yaml
from matplotlib.lines import Line2D
from matplotlib.text import Text

from core.results import save_figure
from core.run import REPO
from core.stats import Interval, curve_band
from core.verdicts import decide, not_testable

DPI = 120
MAX_WIDTH_PX = 1800
MIN_FONT_PT = 9

# internal key -> the words a reader sees (methods, metrics, result files); one map for every figure
NAMES = {
    "full": "Full FT",
    "lora": "LoRA",
    "galore": "GaLore",
    "lisa": "LISA",
    "badam": "BAdam",
    "misa": "MISA",
    "inference": "inference (forward only)",
    "ist": "LoRA + IST",
    "ist_random": "LoRA + random layers",
    "zero_shot": "zero-shot",
    "mezo": "MeZO",
    "sparse_mezo": "S-MeZO",
    "s-mezo-0.5": "S-MeZO 50 %",
    "s-mezo-0.8": "S-MeZO 80 %",
    "s-mezo-0.8-lr10x": "S-MeZO 80 %, lr x10",
    "r-mezo-0.8": "R-MeZO 80 %",
    "s-mezo_0.8": "S-MeZO 80 %",
    "r-mezo_0.8": "R-MeZO 80 %",
    "s-mezo_0.5": "S-MeZO 50 %",
    "ours": "LisaCallback (frees state)",
    "reference": "reference callback (keeps state)",
    "test_accuracy": "test accuracy",
    "eval_loss": "validation loss",
    "final_train_loss": "final training loss",
    "sft_math_mc": "arithmetic, multiple choice (acc_norm)",
    "sft_instruct_ll": "instructions, exact answer",
    "accuracy_math": "arithmetic",
    "accuracy_sentiment": "sentiment",
    "accuracy_entailment": "entailment (RTE-like)",
    "accuracy_boolq": "yes/no QA (BoolQ-like)",
    "accuracy_smollm2": "SmolLM2-135M, sentiment",
    "smollm2": "SmolLM2-135M",
    "smollm2-135m": "SmolLM2-135M",
    "minilm-l6": "all-MiniLM-L6-v2",
    "gpt2arch": "GPT-2 architecture (random init)",
    "update": "norm of the update",
    "layer_uniform (LISA)": "layer-wise uniform (LISA)",
    "module_uniform": "module-wise uniform",
    "module_importance (MISA, eta=1)": "module-wise importance (MISA, η = 1)",
    "module_optimal (pi ~ |g|/sqrt(n))": "module-wise optimal (π ∝ ‖g_b‖/√n_b)",
    "weight": "norm of the trainable weights",
}
_CB = sns.color_palette("colorblind")
PALETTE = {
    "zero_shot": (0.55, 0.55, 0.55),
    "inference": (0.55, 0.55, 0.55),
    "full": _CB[0],
    "lora": _CB[1],
    "galore": _CB[4],
    "lisa": (0.70, 0.05, 0.10),
    "badam": _CB[5],
    "misa": _CB[2],
    "ist": _CB[9],
    "ist_random": _CB[8],
    "mezo": _CB[6],
    "s-mezo-0.5": _CB[9],
    "s-mezo-0.8": _CB[2],
    "s-mezo-0.8-lr10x": (0.0, 0.35, 0.2),
    "r-mezo-0.8": _CB[8],
    "sparse_mezo": _CB[2],
    "ours": _CB[3],
    "reference": _CB[7],
}
_PATTERNS = [
    (re.compile(r"misa_d([0-9.]+)"), lambda m: f"MISA δ = {float(m[1]) * 100:g} %"),
    (re.compile(r"lisa_g(\d+)"), lambda m: f"LISA γ = {m[1]}"),
    (re.compile(r"ist_(\d+)"), lambda m: f"LoRA + IST ({m[1]} % of layers)"),
    (re.compile(r"lora_r(\d+)"), lambda m: f"LoRA r {m[1]}"),
    (re.compile(r"badam_?(\d*)l?"), lambda m: "BAdam" + (f" {m[1]} layer" if m[1] else "")),
]


def name(key: str) -> str:
    """Plain-language label of an internal key; unknown keys fail so that none reaches a figure."""
    if key in NAMES:
        return NAMES[key]
    for pattern, label in _PATTERNS:
        if m := pattern.fullmatch(key):
            return label(m)
    raise KeyError(f"no plain-language name for {key!r}: add it to core.plotting.NAMES")


def color(key: str):
    """The method's colour in every figure (grey for keys outside the method list)."""
    base = re.sub(r"_(d[0-9.]+|g\d+|r\d+)$", "", key).replace("_", "-") if key not in PALETTE else key
    return PALETTE.get(base, PALETTE.get(key.split("_")[0], (0.45, 0.45, 0.45)))


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


# ---- the paper's claims (papers/<paper>/claims.yaml) ----------------------------------------------------------


@cache
def claims(paper: str, root: Path = REPO) -> dict:
    """papers/<paper>/claims.yaml: {"paper": {short, title, ref}, "claims": {id: claim}}."""
    data = yaml.safe_load((Path(root) / "papers" / paper / "claims.yaml").read_text())
    return {"paper": data["paper"], "claims": {c["id"]: c for c in data["claims"]}}


def paper_claim(paper: str, claim_id: str) -> dict:
    """One claim of the paper, with the paper's short name under "paper"."""
    source = claims(paper)
    if claim_id not in source["claims"]:
        raise KeyError(
            f"{claim_id!r} is not a claim id in papers/{paper}/claims.yaml: {sorted(source['claims'])}"
        )
    return {**source["claims"][claim_id], "paper": source["paper"]["short"]}


def num(x: float) -> str:
    """Three significant digits; rounding noise (|x| < 1e-9, e.g. a mean of equal accuracies) prints as 0."""
    return "0" if abs(x) < 1e-9 else f"{x:.3g}"


def fmt_value(value: float, unit: str | None) -> str:
    """2.9 'x' -> '2.9x'; 75 'GB' -> '75 GB'; '%' stays attached."""
    num_ = num(value)
    if unit in ("x", "%"):
        return f"{num_}{'×' if unit == 'x' else ' %'}"
    return f"{num_} {unit}" if unit else num_


def paper_number(claim: dict) -> str:
    """The paper's value with its short source, or its wording when the paper gives no number."""
    where = claim["source"].split(";")[0]
    if claim.get("paper_value") is None:
        return f"qualitative ({where})"
    return f"{fmt_value(claim['paper_value'], claim.get('unit'))} ({where})"


# ---- verdicts ---------------------------------------------------------------------------------------------------

UNITS = {"t": "seeds", "paired-t": "seeds", "paired-t over seeds": "seeds", "crossed seeds x items": "seeds"}


def describe(iv: Interval, over: str | None = None) -> str:
    """What an interval is, in words: '95 % t-interval over 3 seeds'."""
    over = over or UNITS.get(iv.kind, "units")
    if iv.kind == "measured":
        return "one measurement" if iv.n <= 1 else f"measured, {iv.n} {over}"
    if iv.kind.startswith("t (sd of"):  # core.stats.reference_sd_interval: one run per setting
        return f"95 % t-interval, one run each, {iv.kind[3:-1]}"
    kinds = {
        "t": "t-interval",
        "paired-t": "paired t-interval",
        "paired-t over seeds": "paired t-interval",
        "seed-range": "min-max range",
        "bootstrap": "bootstrap interval",
        "fit": "t-interval of the fitted slope",
        "ratio": "Welch t-interval of the log ratio",
        "Fisher-z": "Fisher-z interval",
        "crossed seeds x items": "interval of the seeds × test-items design",
    }
    return f"{'' if iv.kind == 'seed-range' else '95 % '}{kinds.get(iv.kind, iv.kind)} over {iv.n} {over}"


def fmt_interval(iv: Interval, unit: str | None = None, over: str | None = None) -> str:
    """'1.66× [1.52, 1.80] (95 % t-interval over 3 seeds)'."""
    f = lambda x: fmt_value(x, unit) if unit in ("x", "%") else num(x)  # noqa: E731
    if iv.lo == iv.hi:
        return f"{f(iv.estimate)} ({describe(iv, over)})"
    return f"{f(iv.estimate)} [{f(iv.lo)}, {f(iv.hi)}] ({describe(iv, over)})"


def measured(value: float, n: int = 1) -> Interval:
    """A deterministic measurement (memory peak, analytic model): an interval of zero width."""
    return Interval(float(value), float(value), float(value), n, "measured")


@dataclass
class Verdict:
    """A claim, our number with its interval (in words), and the verdict of core.verdicts."""

    claim: dict
    verdict: str
    ours: str
    label: str = "verdict"

    @property
    def paper(self) -> str:
        return paper_number(self.claim)

    def line(self) -> str:
        """Verdict, ours, and the paper's number (left out when the paper states only a direction)."""
        value = self.claim.get("paper_value")
        paper = (
            "" if value is None else f"; paper {fmt_value(value, self.claim.get('unit'))}"
        )  # source: verdict cell
        return f"{self.verdict} — ours {self.ours}{paper}"

    def record(self) -> dict:
        return {
            "claim": self.claim["id"],
            "label": self.label,
            "verdict": self.verdict,
            "ours": self.ours,
            "paper": self.paper,
        }


def _direction(claim: dict, direction: str | None) -> int:
    d = direction or claim.get("direction")
    if d not in ("higher", "lower"):
        raise ValueError(f"claim {claim['id']!r} has no direction; pass direction='higher' or 'lower'")
    return 1 if d == "higher" else -1


def judge(
    paper: str,
    claim_id: str,
    interval: Interval,
    mde: float,
    *,
    ours: str | None = None,
    unit: str | None = None,
    paper_effect: float | None = None,
    direction: str | None = None,
    over: str | None = None,
    label: str = "verdict",
) -> Verdict:
    """Verdict on a claim from the interval of the quantity it is about (core.verdicts.decide).

    For a ratio claim (unit 'x') pass the ratio's interval: it is compared with 1 and with the paper's ratio
    (paper_effect = paper_value − 1). Otherwise the interval is of a difference (ours − comparator) and
    paper_effect, when the paper gives a size, is passed explicitly."""
    claim = paper_claim(paper, claim_id)
    unit = unit or claim.get("unit")
    text = ours or fmt_interval(interval, unit, over)
    if claim.get("testable_offline") is not True:
        return Verdict(claim, not_testable(claim["testable_offline"]), text, label)
    sign = _direction(claim, direction)
    if unit == "x":
        interval = dataclasses.replace(
            interval, estimate=interval.estimate - 1, lo=interval.lo - 1, hi=interval.hi - 1
        )
        if (
            paper_effect is None
            and claim.get("paper_value") is not None
            and (claim["paper_value"] - 1) * sign > 0
        ):
            paper_effect = claim["paper_value"] - 1
    return Verdict(claim, decide(interval, paper_effect, mde, sign), text, label)


def trend(x, y) -> tuple[Interval, float]:
    """Least-squares slope of y on x with its 95 % t-interval (df = n − 2, scipy.stats.linregress) and the MDE of
    the slope ((t_{0.975} + t_{0.8}) · SE, the normal-theory approximation at 80 % power). For ablations with one
    run per setting: the spread of the settings around the line is the noise the slope is judged against."""
    from scipy import stats as sps

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    fit = sps.linregress(x, y)
    df = x.size - 2
    if df < 1:
        return Interval(float(fit.slope), -np.inf, np.inf, x.size, "fit"), float("inf")
    half = sps.t.ppf(0.975, df) * fit.stderr
    mde = (sps.t.ppf(0.975, df) + sps.t.ppf(0.8, df)) * fit.stderr
    return Interval(float(fit.slope), float(fit.slope - half), float(fit.slope + half), x.size, "fit"), float(
        mde
    )


def mde_from(iv: Interval) -> float:
    """MDE of a design known only through its 95 % interval (a bootstrap or Welch ratio): (z_0.975 + z_0.8) · se with
    se = width / (2 · 1.96), the normal approximation at 80 % power and α = 0.05."""
    return 2.8 * (iv.hi - iv.lo) / 3.92


def ratio_interval(a, b) -> Interval:
    """Ratio of the geometric means of a and b (e.g. step times of two methods, unpaired repeats) with the 95 %
    Welch t-interval of the difference of mean logs, exponentiated (scipy.stats.ttest_ind, equal_var=False)."""
    from scipy import stats as sps

    la, lb = np.log(np.asarray(a, dtype=float)), np.log(np.asarray(b, dtype=float))
    est = float(np.exp(la.mean() - lb.mean()))
    if min(la.size, lb.size) < 2:
        return Interval(est, est, est, min(la.size, lb.size), "measured")
    ci = sps.ttest_ind(la, lb, equal_var=False).confidence_interval(0.95)
    return Interval(est, float(np.exp(ci.low)), float(np.exp(ci.high)), min(la.size, lb.size), "ratio")


def untestable(paper: str, claim_id: str, ours: str, label: str = "verdict") -> Verdict:
    """The claim's own reason why it cannot be tested offline; `ours` says what the figure shows instead."""
    claim = paper_claim(paper, claim_id)
    if claim.get("testable_offline") is True:
        raise ValueError(f"{paper}/{claim_id} is testable offline; judge it")
    return Verdict(claim, not_testable(claim["testable_offline"]), ours, label)


# ---- drawing ------------------------------------------------------------------------------------------------------


def seed_points(
    ax,
    values: dict[str, list[float]],
    intervals: dict[str, Interval] | None = None,
    ylabel: str = "",
    over: str = "seeds",
    labels: dict[str, str] | None = None,
) -> None:
    """Every seed as a point (seaborn stripplot) and, per group, the mean with its interval as a black bar;
    the legend says what the bar is. `intervals` default: none drawn (points only)."""
    keys = list(values)
    ticks = [(labels or {}).get(k) or name(k) for k in keys]
    xs = [i for i, k in enumerate(keys) for _ in values[k]]
    ys = [v for k in keys for v in values[k]]
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
        handles.append(
            Line2D(
                [], [], ls="-", marker="D", color="black", label=f"mean and {describe(described[0], over)}"
            )
        )
    ax.set_xticks(range(len(keys)), ticks)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylabel(ylabel)
    ax.legend(handles=handles, loc="best")


def bars(
    ax,
    values: dict[str, float],
    ylabel: str = "",
    labels: dict[str, str] | None = None,
    fmt: str = "{:.3g}",
    intervals: dict[str, Interval] | None = None,
) -> None:
    """One bar per key with its value written on it (for deterministic measurements, no interval needed)."""
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
        iv = (intervals or {}).get(k)
        if iv is not None and iv.hi > iv.lo:
            ax.errorbar(
                i, iv.estimate, yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]], color="black", capsize=4
            )
    ax.set_xticks(x, [(labels or {}).get(k) or name(k) for k in keys])
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


def tilt(ax, degrees: float = 30) -> None:
    """Slanted x tick labels anchored at their right end (long method names stay apart)."""
    for label in ax.get_xticklabels():
        label.set(rotation=degrees, ha="right", rotation_mode="anchor")


def paper_line(
    ax, claim: dict, value: float | None = None, label: str | None = None, axis: str = "y"
) -> None:
    """A dashed black reference line at the paper's value (or `value`, e.g. a value the claim's text names)."""
    v = claim["paper_value"] if value is None else value
    text = label or f"paper: {fmt_value(v, claim.get('unit'))}"
    (ax.axhline if axis == "y" else ax.axvline)(v, color="black", ls="--", lw=1.3, label=text)
    ax.legend(loc="best")


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


def finish(fig, figure_path: str, table: dict, verdicts: list[Verdict], title: str) -> None:
    """Title, one subtitle line per verdict (with the paper's number), legibility check, then save the PNG with
    its inputs, table and verdicts (core.results.save_figure; core.figures copies them into the manifest)."""
    width = int(fig.get_figwidth() * 11)
    lines = [textwrap.fill(f"{v.label}: {v.line()}", width) for v in verdicts]
    fig.suptitle("\n".join([title, *lines]), fontsize=11, ha="left", x=0.01, fontweight="normal")
    check_legible(fig)
    save_figure(fig, figure_path, plain(table), verdicts=[v.record() for v in verdicts])
    from PIL import Image

    with Image.open(figure_path) as img:
        if img.width > MAX_WIDTH_PX:
            raise ValueError(f"{figure_path} is {img.width} px wide > {MAX_WIDTH_PX}")


def verdict_markdown(verdicts: list[Verdict]) -> str:
    """The verdict table a notebook ends with: claim, paper (number and source), ours (with its interval), verdict."""
    rows = ["| claim | paper | ours | verdict |", "| --- | --- | --- | --- |"]
    for v in verdicts:
        cells = [
            v.claim["claim"] + ("" if v.label == "verdict" else f" ({v.label})"),
            f"{v.claim['paper_text']} ({v.claim['source'].split(';')[0]})",
            v.ours,
            f"**{v.verdict}**",
        ]
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "## Verdict\n\n" + "\n".join(rows) + "\n"


def verdict_cell(verdicts: list[Verdict]):
    """Display the verdict table as markdown (the last cell of every notebook)."""
    from IPython.display import Markdown

    return Markdown(verdict_markdown(verdicts))

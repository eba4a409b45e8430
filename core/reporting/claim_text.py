"""The papers' claims as written in ``papers/<paper>/claims.yaml`` and how numbers and intervals are printed in
claims tables, figure subtitles and verdict cells. The bottom of the claims modules: `core.reporting.claims` (verdicts
for notebooks), `core.reporting.claims_file` (the engine) and `core.reporting.claims_render` (its tables) all read
claims through here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from core.analysis.stats import Interval
from core.infra.io import REPO

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


# ---- numbers and intervals in words ---------------------------------------------------------------------------

UNITS = {
    "t": "seeds",
    "paired-t": "seeds",
    "welch-t": "seeds",
    "paired-t over seeds": "seeds",
    "crossed seeds x items": "seeds",
}


def describe(iv: Interval, over: str | None = None) -> str:
    """What an interval is, in words: '95 % t-interval over 3 seeds'."""
    over = over or UNITS.get(iv.kind, "units")
    if iv.kind == "measured":
        return "one measurement" if iv.n <= 1 else f"measured, {iv.n} {over}"
    if iv.kind == "welch-t":  # core.analysis.stats.welch_interval: n is the smaller arm's
        return f"95 % Welch t-interval over unequal {over} (smaller arm {iv.n})"
    if iv.kind.startswith("t (sd of"):  # core.analysis.stats.reference_sd_interval: one run per setting
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

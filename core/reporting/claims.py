"""The paper's claims (``papers/<paper>/claims.yaml``) and their verdicts on our numbers, for figures and notebooks.

    v = judge("lisa", "time_cost", ratio_interval(full_steps, lisa_steps), mde)  # paper value from claims.yaml
    v.line()          # 'holds — ours 1.59× [1.36×, 1.87×] (95 % Welch t-interval ...); paper 2.9×' (figure subtitle)
    verdict_cell([v]) # the notebook's closing markdown table: claim, paper (text and source), ours, verdict

Paper numbers are read here and nowhere else (never typed into a notebook). A verdict is `core.analysis.verdicts.decide`
on the interval of the quantity the claim is about, in the claims tables' vocabulary; claims that cannot be tested
offline carry their reason from claims.yaml.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.analysis.stats import Interval, mde_from, ratio_interval, trend  # noqa: F401 (notebooks import them here)
from core.analysis.verdicts import decide, not_testable
from core.reporting.claim_text import (  # noqa: F401 (notebooks and papers import them from here)
    UNITS,
    claims,
    describe,
    fmt_interval,
    fmt_value,
    num,
    paper_claim,
    paper_number,
)


def measured(value: float, n: int = 1) -> Interval:
    """A deterministic measurement (memory peak, analytic model): an interval of zero width."""
    return Interval(float(value), float(value), float(value), n, "measured")


@dataclass
class Verdict:
    """A claim, our number with its interval (in words), and the verdict of core.analysis.verdicts."""

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
    """Verdict on a claim from the interval of the quantity it is about (core.analysis.verdicts.decide).

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


def untestable(paper: str, claim_id: str, ours: str, label: str = "verdict") -> Verdict:
    """The claim's own reason why it cannot be tested offline; `ours` says what the figure shows instead."""
    claim = paper_claim(paper, claim_id)
    if claim.get("testable_offline") is True:
        raise ValueError(f"{paper}/{claim_id} is testable offline; judge it")
    return Verdict(claim, not_testable(claim["testable_offline"]), ours, label)


def from_file(paper: str, claim_ids, profile: str = "cpu", label: str = "verdict") -> list[Verdict]:
    """The claims engine's verdicts (core.reporting.claims_file, `data/results/<paper>/claims/<profile>.json`) of the
    given claims, for a figure's subtitle, its manifest and the notebook's verdict cell: nothing is judged here. `ours`
    is the claim's primary rows as 'comparison, metric: estimate [lo, hi] (design)'."""
    from core.infra.paths import read_claims
    from core.reporting.claims_render import ours as ours_text

    data = read_claims(paper, profile)
    out = []
    for cid in [claim_ids] if isinstance(claim_ids, str) else claim_ids:
        if cid not in data["claims"]:
            raise KeyError(
                f"{cid!r} is not in the claims file of {paper}/{profile}: {sorted(data['claims'])}"
            )
        rows = [r for r in data["rows"] if r["claim"] == cid and r["primary"]]
        text = "; ".join(
            f"{r['comparison']}, {r['metric']}: {ours_text(r)} ({r['design'] or r['interval_kind']})"
            for r in rows
            if r["estimate"] is not None
        )
        out.append(Verdict(paper_claim(paper, cid), data["claims"][cid], text or "—", label))
    return out


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

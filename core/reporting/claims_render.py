"""Markdown of a claims file (core.reporting.claims_file): the table every paper README carries between its markers.

Two tables: one row per claim (the claim, the paper's number with its source, the verdict), then one row per
comparison (ours − comparator with the interval its design gives, p, Holm-adjusted p, MDE, the paper's effect and
the row's verdict; secondary rows are shown and marked, they never decide). Nothing here judges: every verdict
is read from the file.
"""

from __future__ import annotations

from core.reporting.claim_text import claims as paper_claims
from core.reporting.claim_text import num, paper_number

UNIT_SUFFIX = {"x": "×", "%": " %"}


def fmt(x: float | None, unit: str | None = None) -> str:
    if x is None:
        return "—"
    if x == float("inf"):
        return "∞"
    return f"{num(x)}{UNIT_SUFFIX.get(unit, '')}"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ours(row: dict) -> str:
    """'+0.24 [−0.06, 0.55]' (or the one value of a measurement)."""
    if row["estimate"] is None:
        return "—"
    u = row["unit"]
    if row["lo"] == row["hi"]:
        return fmt(row["estimate"], u)
    return f"{fmt(row['estimate'], u)} [{fmt(row['lo'], u)}, {fmt(row['hi'], u)}]"


def paper_effect(row: dict) -> str:
    e = row["paper_effect"]
    if e is None:
        return "sign only" if row["verdict"] is not None or not row["primary"] else "—"
    return fmt(e + 1, "x") if row["unit"] == "x" else fmt(e)


def role(row: dict) -> str:
    if not row["primary"]:
        return "secondary"
    return "primary, Holm" if row["holm_family"] else "primary"


def cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def summary_table(data: dict) -> str:
    source = paper_claims(data["paper"])["claims"]
    lines = ["| # | claim | paper | verdict |", "| --- | --- | --- | --- |"]
    for i, (cid, claim) in enumerate(source.items(), 1):
        lines.append(
            f"| {i} | {cell(claim['claim'])} (`{cid}`) | {cell(paper_number(claim))} | **{data['claims'][cid]}** |"
        )
    return "\n".join(lines)


def detail_table(data: dict) -> str:
    order = {cid: i for i, cid in enumerate(paper_claims(data["paper"])["claims"], 1)}
    lines = [
        "| # | comparison | metric | role | ours [95 % interval] | design | p | p (Holm) | MDE | paper | row verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(data["rows"], key=lambda r: (order[r["claim"]], not r["primary"])):
        cells = [
            order[r["claim"]],
            r["comparison"],
            r["metric"],
            role(r),
            ours(r),
            r["design"] or (r["interval_kind"] or "—"),
            fmt_p(r["p"]),
            fmt_p(r["p_adjusted"]),
            fmt(r["mde"], None),
            paper_effect(r),
            "(secondary: does not decide)" if r["verdict"] is None else f"**{r['verdict']}**",
        ]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render_tables(data: dict) -> str:
    family = data["family_size"]
    return (
        f"{summary_table(data)}\n\n"
        f"Every comparison (profile `{data['profile']}`; Holm's adjustment over the {family} primary tests with a "
        "p-value; ratios are judged as ratio − 1, so their MDE is a ratio excess):\n\n"
        f"{detail_table(data)}\n"
    )

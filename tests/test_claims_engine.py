"""The claims engine (core.reporting.claims_file): Holm's adjustment, the verdict precedence, one verdict per claim, and
the committed claims files as the one source that README tables, figure manifests and verdict words agree with."""

import json
import re

import pytest

from core.analysis.stats import Interval, mde_interval, mde_se, paired_interval, ratio_interval
from core.analysis.verdicts import DOES_NOT_HOLD, HOLDS, HOLDS_SMALLER, decide, holm, is_verdict
from core.infra.io import REPO
from core.infra.paths import claims_path
from core.reporting.claims_file import BEGIN, END, PAPERS, Row, finalize, readme_with_table
from core.reporting.claims_render import render_tables


def iv(lo, hi, p=None, se=0.1, df=2.0):
    return Interval((lo + hi) / 2, lo, hi, 3, "paired-t", se, df, p)


def test_holm_matches_the_step_down_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == [0.02]


def test_decide_precedence():
    assert decide(iv(0.2, 0.4), None, 0.1) == HOLDS
    assert decide(iv(0.2, 0.4), 1.0, 0.1) == HOLDS_SMALLER  # the paper's side, short of its size
    assert decide(iv(0.2, 1.4), 1.0, 0.1) == HOLDS
    assert decide(iv(-0.4, -0.2), None, 0.1) == DOES_NOT_HOLD
    assert decide(iv(-0.1, 0.4), None, 0.12) == "inconclusive (MDE = 0.12)"
    assert decide(iv(-0.1, 0.4), 1.0, 0.12) == DOES_NOT_HOLD  # the paper's effect is excluded
    assert decide(iv(0.2, 0.4), None, 0.1, p_adjusted=0.2) == "inconclusive (MDE = 0.1)"  # Holm undecides
    assert decide(iv(-0.4, -0.2), None, 0.1, p_adjusted=0.2) == "inconclusive (MDE = 0.1)"
    assert decide(iv(0.2, 0.4), None, 0.1, p_adjusted=0.01) == HOLDS
    assert decide(iv(-0.4, -0.2), None, 0.1, direction=-1) == HOLDS


def test_vocabulary():
    for good in (
        HOLDS,
        HOLDS_SMALLER,
        DOES_NOT_HOLD,
        "inconclusive (MDE = 0.4)",
        "not testable offline (no judge)",
        "not testable at this budget (the gate fails)",
    ):
        assert is_verdict(good)
    for bad in (
        "holds in direction",
        "does not hold at this scale",
        "not testable at this budget",
        "inconclusive",
    ):
        assert not is_verdict(bad)


def test_one_mde_formula_for_intervals():
    a, b = [1.0, 1.3, 1.1, 1.6], [0.9, 1.0, 1.0, 1.2]
    t = paired_interval(a, b)
    assert mde_interval(t) == pytest.approx(mde_se(t.se, t.df))
    r = ratio_interval([2.0, 2.2, 2.1, 1.9], [1.0, 1.1, 0.9, 1.0])
    assert r.kind == "ratio" and mde_interval(r) == pytest.approx(2.718281828 ** mde_se(r.se, r.df) - 1)
    no_se = Interval(0.5, 0.0, 1.0, 3, "bootstrap")  # half-width 0.5 = t_0.975,2 · se
    assert mde_interval(no_se) == pytest.approx(mde_se(0.5 / 4.302652729911275, 2))


SOURCE = {
    "a": {"id": "a", "testable_offline": True},
    "b": {"id": "b", "testable_offline": True},
    "c": {"id": "c", "testable_offline": "needs a judge"},
}


def test_finalize_adjusts_the_primary_family_and_gives_one_verdict_per_claim():
    rows = [
        Row("a", "X − Y", "loss", iv(0.1, 0.3, p=0.01)),  # Holm: 0.01 * 3 = 0.03 -> holds
        Row("a", "X − Z", "loss", iv(0.05, 0.2, p=0.02)),  # 0.02 * 2 = 0.04 -> holds
        Row("b", "X − W", "loss", iv(0.01, 0.5, p=0.04)),  # 0.04 * 1 -> but running max 0.04 -> holds
        Row(
            "b", "X − W", "train loss", iv(-0.5, -0.1, p=0.001), primary=False
        ),  # secondary: outside, no verdict
    ]
    out = finalize("x", rows, SOURCE)
    assert [r.p_adjusted for r in rows[:3]] == pytest.approx([0.03, 0.04, 0.04])
    assert rows[3].verdict is None and not rows[3].in_family
    assert out["claims"] == {"a": HOLDS, "b": HOLDS, "c": "not testable offline (needs a judge)"}
    assert out["family_size"] == 3
    rows[1] = Row("a", "X − Z", "loss", iv(-0.2, -0.05, p=0.002))
    assert (
        finalize("x", rows, SOURCE)["claims"]["a"] == DOES_NOT_HOLD
    )  # any primary row against: does not hold
    with pytest.raises(ValueError, match="no primary row"):
        finalize("x", rows[:2], SOURCE)
    with pytest.raises(KeyError, match="not in papers/x/claims.yaml"):
        finalize("x", [Row("zz", "X − Y", "loss", iv(0.1, 0.2, p=0.01))], SOURCE)


def test_a_holm_family_of_twelve_undecides_a_lone_p_of_0_044():
    rows = [Row("a", f"X − Y{k}", "loss", iv(-0.1, 0.3, p=0.5)) for k in range(11)]
    rows.append(Row("b", "X − W", "accuracy", iv(0.01, 0.2, p=0.044)))
    out = finalize("x", rows, SOURCE)
    assert rows[-1].p_adjusted == pytest.approx(0.528) and out["claims"]["b"].startswith("inconclusive")


def test_readme_markers_are_required_and_replaced():
    data = {"profile": "cpu"}
    with pytest.raises(ValueError, match="no claims-table markers"):
        readme_with_table("no markers", data, "README.md")


# ---- the committed claims files are the one source ----------------------------------------------------------------


def committed(paper):
    path = claims_path(paper, "cpu")
    return json.loads(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("paper", PAPERS)
def test_readme_claims_table_equals_the_claims_file(paper):
    data = committed(paper)
    assert data is not None, f"no claims file for {paper}: run python -m core.reporting.claims_file {paper}"
    text = (REPO / "papers" / paper / "README.md").read_text()
    begin = BEGIN.format(profile="cpu")
    assert begin in text, f"papers/{paper}/README.md has no generated claims table"
    block = text.split(begin, 1)[1].split(END, 1)[0]
    assert block == "\n" + render_tables(data), (
        f"papers/{paper}/README.md: run python -m core.reporting.claims_file {paper}"
    )


@pytest.mark.parametrize("paper", PAPERS)
def test_every_primary_row_is_pre_registered_in_claims_yaml(paper):
    import yaml

    data = committed(paper)
    declared = {
        c["id"]: c.get("primary") or []
        for c in yaml.safe_load((REPO / "papers" / paper / "claims.yaml").read_text())["claims"]
    }
    found = {}
    for r in data["rows"]:
        if r["primary"]:
            found.setdefault(r["claim"], []).append(f"{r['comparison']}, {r['metric']}")
    for cid, tests in found.items():
        assert sorted(set(tests)) == sorted(set(declared[cid])), (
            f"{paper}/{cid}: primary rows {tests} vs claims.yaml {declared[cid]}"
        )


@pytest.mark.parametrize("paper", PAPERS)
def test_figure_manifest_verdicts_equal_the_claims_file(paper):
    data = committed(paper)
    manifest = json.loads((REPO / "figures" / paper / "MANIFEST.json").read_text())
    wrong = []
    for artifact, entry in manifest.items():
        for v in entry["versions"][entry["latest"]].get("verdicts") or []:
            if v["verdict"] != data["claims"].get(v["claim"]):
                wrong.append(
                    f"{artifact}: {v['claim']} {v['verdict']!r} vs {data['claims'].get(v['claim'])!r}"
                )
    assert not wrong, wrong


BOLD = re.compile(r"\*\*([^*]+)\*\*")
VERDICTISH = re.compile(r"^(holds|does not hold|inconclusive|not testable)\b")
HEDGED = re.compile(r"(holds in direction|does not hold (at|on) |holds qualitatively|holds partly)")


def verdict_words_outside_vocabulary(text: str) -> list[str]:
    """Bold verdict-like spans that are not a vocabulary word, and hedged verdicts anywhere in the text."""
    bad = [s for s in BOLD.findall(text) if VERDICTISH.match(s.strip()) and not is_verdict(s.strip())]
    return bad + [m.group(0) for m in HEDGED.finditer(text)]


def test_the_vocabulary_check_catches_hedged_words():
    assert verdict_words_outside_vocabulary("**holds** in direction; **does not hold on training loss**")
    assert (
        verdict_words_outside_vocabulary(
            "x **holds, smaller than the paper's** y **inconclusive (MDE = 0.1)**"
        )
        == []
    )


@pytest.mark.parametrize(
    "path", [REPO / "README.md", *(REPO / "papers" / p / "README.md" for p in PAPERS)], ids=str
)
def test_readme_verdicts_are_in_the_vocabulary(path):
    assert verdict_words_outside_vocabulary(path.read_text()) == []


@pytest.mark.parametrize("paper", PAPERS)
def test_manifest_and_claims_file_verdicts_are_in_the_vocabulary(paper):
    words = list(committed(paper)["claims"].values())
    words += [r["verdict"] for r in committed(paper)["rows"] if r["verdict"] is not None]
    manifest = json.loads((REPO / "figures" / paper / "MANIFEST.json").read_text())
    words += [
        v["verdict"] for e in manifest.values() for v in e["versions"][e["latest"]].get("verdicts") or []
    ]
    assert [w for w in words if not is_verdict(w)] == []


def test_forest_numbers_claims_as_the_readme_and_gives_each_panel_one_unit():
    """The forest plot's row numbers are the claims' positions in claims.yaml (the README table's numbers), and
    rows of different units never share a panel (GB and MB rows of LISA, Spearman ρ and χ²/df rows of IST)."""
    import matplotlib

    matplotlib.use("Agg")
    from core.reporting.claim_text import claims as paper_claims
    from core.reporting.forest import _label, family, forest

    row = {"comparison": "a − b", "metric": "m", "unit": "GB"}
    assert family(row) == "GB" and family({**row, "unit": "MB"}) == "MB"
    assert family({**row, "unit": None, "metric": "final score vs importance, Spearman ρ"}) == "Spearman ρ"
    assert family({**row, "unit": "x", "metric": "peak"}) == "ratio"
    assert _label({"comparison": "x " * 60, "metric": "y"}, 3).count("\n") == 1
    for paper in ("lisa", "ist"):
        fig, table = forest(paper)
        numbers = {cid: i for i, cid in enumerate(paper_claims(paper)["claims"], 1)}
        labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
        claims_drawn = [r["claim"] for r in table["rows"]]
        drawn_numbers = sorted(int(label.split(".")[0]) for label in labels)
        assert drawn_numbers == sorted(numbers[c] for c in claims_drawn)  # panels regroup rows; numbers stay
        units = {ax.get_xlabel() for ax in fig.axes}
        assert len(units) == len(fig.axes)  # one panel per unit

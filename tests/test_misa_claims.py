"""MISA's and the variance lab's claims rows (papers/misa/claims.py, papers/variance_lab/claims.py): the gate →
verdict mapping, the lab's interval arithmetic on known numbers, and the committed claims files' known answers
(one verdict per claim, Holm on MISA − LISA, the variance claim decided by the equal-memory rows)."""

import json

import numpy as np
import pytest
from scipy import stats as sps

from core.infra.paths import claims_path
from papers.misa.claims import gated
from papers.variance_lab.compare import diff_of, ratio_of, relative_to_one


def gate(passes: bool) -> dict:
    refs = {"zero_shot": {"diff": 0.01, "lo": -0.2, "hi": 0.22}}
    return {
        "passes": {"test_accuracy": passes, "eval_loss": True},
        "metrics": {"test_accuracy": {"references": refs}, "eval_loss": {"references": refs}},
    }


def test_the_gate_maps_to_the_budget_verdict_only_when_it_fails():
    assert gated(gate(True), "test accuracy") is None
    assert gated(None, "validation loss") is None
    word = gated(gate(False), "test accuracy")
    assert word == (
        "not testable at this budget (learnability gate fails on test accuracy: "
        "full − zero-shot +0.010 [-0.200, +0.220])"
    )


def mc(mean, se, dof=19):
    half = sps.t.ppf(0.975, dof) * se
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "se": se, "dof": dof}


def test_lab_intervals_on_known_numbers():
    r = ratio_of(mc(2.0, 0.06), mc(1.0, 0.04))  # log-scale se = hypot(0.03, 0.04) = 0.05
    t19 = sps.t.ppf(0.975, 19)
    assert r.estimate == 2.0 and r.se == pytest.approx(0.05) and r.df == 19 and r.kind == "ratio"
    assert (r.lo, r.hi) == pytest.approx((2 * np.exp(-t19 * 0.05), 2 * np.exp(t19 * 0.05)))
    assert r.p == pytest.approx(2 * sps.t.sf(np.log(2) / 0.05, 19))
    d = diff_of(mc(3.0, 0.3), mc(2.0, 0.4))  # se = 0.5
    assert d.estimate == 1.0 and d.se == pytest.approx(0.5) and d.hi - d.lo == pytest.approx(2 * t19 * 0.5)
    e = relative_to_one(mc(1.2, 0.1))  # captured energy 1.2 × uniform's: p of "= 1"
    assert e.p == pytest.approx(2 * sps.t.sf(2.0, 19))


def committed(paper):
    return json.loads(claims_path(paper, "cpu").read_text())


def test_misa_claims_file_known_answers():
    data = committed("misa")
    rows = {(r["claim"], r["comparison"], r["metric"]): r for r in data["rows"]}
    lisa = rows[("accuracy", "MISA − LISA", "test accuracy")]
    assert lisa["lo"] > 0 and lisa["p"] == pytest.approx(0.00246, abs=5e-5)  # 5 seeds x 256 items
    assert lisa["p_adjusted"] == pytest.approx(0.0197, abs=5e-4) and lisa["verdict"] == "holds"
    badam = rows[("accuracy", "MISA − BAdam", "test accuracy")]
    assert badam["lo"] > 0 and badam["p"] < 0.05 < badam["p_adjusted"]  # alone it would hold
    assert badam["verdict"].startswith("inconclusive")  # Holm undecides it, and with it the claim
    assert data["family_size"] == 11
    assert data["claims"]["accuracy"] == "inconclusive (MDE = 0.1)"
    assert data["claims"]["variance"] == "does not hold"  # equal memory, MISA's own sampler (variance lab)
    gamma2 = rows[("variance", "MISA ÷ LISA, γ = 2", "1/π error, pre-trained")]
    assert gamma2["primary"] and gamma2["estimate"] == pytest.approx(1.25, abs=0.005)
    assert all(
        not r["primary"] for r in data["rows"] if "blocks only" in r["comparison"]
    )  # v002 study: shown only
    assert data["claims"]["dora_baseline"].startswith("not testable offline (needs a GPU")


def test_the_variance_claim_is_the_same_rows_in_misa_and_the_lab():
    misa = {
        (r["comparison"], r["metric"]): r
        for r in committed("misa")["rows"]
        if r["claim"] == "variance" and r["primary"]
    }
    lab = {
        (r["comparison"], r["metric"]): r
        for r in committed("variance_lab")["rows"]
        if r["claim"] == "misa_variance" and r["primary"]
    }
    assert misa.keys() == lab.keys() and len(misa) == 3
    for key in misa:
        assert (misa[key]["estimate"], misa[key]["lo"], misa[key]["hi"]) == (
            lab[key]["estimate"],
            lab[key]["lo"],
            lab[key]["hi"],
        )
    assert committed("variance_lab")["claims"]["misa_variance"] == committed("misa")["claims"]["variance"]

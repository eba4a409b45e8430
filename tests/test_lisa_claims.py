"""LISA through the claims engine (papers/lisa/claims.py, design.py): the gate → verdict mapping, the ablation pairs,
the ratio interval, and the 3-seed claims file (profile cpu32, `cpu` until issue #32) with the numbers of the claims
table before the engine (papers/lisa/LOG.md 23-24: no number changed)."""

import json

import pytest
from scipy import stats as sps

from core.infra.paths import claims_path
from papers.lisa import design
from papers.lisa.claims import gate_verdict, ratio_t


def gate(passes: bool) -> dict:
    ref = {"diff": 0.03, "lo": -0.13, "hi": 0.19, "n": 3, "kind": "paired-t", "reference": 0.42}
    return {"metrics": {"lm_eval.sft_math_mc.acc_norm": {"passes": passes, "references": {"zero_shot": ref}}}}


def test_gate_maps_to_the_budget_word_only_when_it_fails():
    assert gate_verdict("lm_eval.sft_math_mc.acc_norm", gate(True)) is None
    assert gate_verdict("lm_eval.sft_math_mc.acc_norm", gate(False)) == (
        "not testable at this budget (learnability gate fails on sft_math_mc acc_norm)"
    )


def test_ablation_pairs():
    runs = {2: None, 4: None, 8: None}
    assert design.ablation_pairs(runs, "gamma") == [(4, 2, False), (8, 2, True), (8, 4, False)]
    assert design.ablation_pairs({3: None, 10: None, 50: None}, "interval") == [(10, 3, True), (10, 50, True)]


def test_ratio_interval_is_the_t_interval_of_the_excess_shifted_to_the_ratio():
    iv = ratio_t([1.5, 1.6, 1.7])
    half = sps.t.ppf(0.975, 2) * 0.1 / 3**0.5
    assert iv.estimate == pytest.approx(1.6) and (iv.lo, iv.hi) == pytest.approx((1.6 - half, 1.6 + half))
    assert iv.p == pytest.approx(sps.ttest_1samp([0.5, 0.6, 0.7], 0.0).pvalue)  # p of "ratio = 1"


@pytest.fixture(scope="module")
def committed():
    data = json.loads(claims_path("lisa", "cpu32").read_text())
    return {(r["claim"], r["comparison"], r["metric"]): r for r in data["rows"]}, data["claims"]


@pytest.mark.parametrize(
    "key, estimate, lo, hi, mde",
    [
        (("loss_curves", "LISA − LoRA", "validation loss"), 0.242, -0.0649, 0.548, 0.40),
        (("loss_curves", "LISA − full FT", "validation loss"), 0.327, -0.00692, 0.660, 0.44),
        (("loss_curves", "LISA − LoRA", "final training loss (last 5 steps)"), 0.235, 0.140, 0.330, 0.12),
        (("loss_curves", "LISA − full FT", "final training loss (last 5 steps)"), 0.300, 0.196, 0.404, 0.14),
        (("time_cost", "full FT ÷ LISA (CPU 4×64)", "median step time"), 1.60, 1.369, 1.832, 0.30),
        (("time_vs_lora", "LoRA ÷ LISA (CPU 4×64)", "median step time"), 1.0103, 0.986, 1.0345, 0.032),
        (
            ("weight_norms", "LoRA ÷ full FT (SmolLM2-135M)", "update-norm skew (mean over logged steps)"),
            3.15,
            2.99,
            3.31,
            0.21,
        ),
        (("ablations", "γ 8 − γ 2", "validation loss"), -0.0496, -0.836, 0.737, 1.0),
        (("ablations_K", "K 10 − K 50", "validation loss"), 0.146, -0.64, 0.933, 1.0),
    ],
)
def test_the_engine_kept_the_claims_table_numbers(committed, key, estimate, lo, hi, mde):
    r = committed[0][key]
    assert (r["estimate"], r["lo"], r["hi"]) == pytest.approx((estimate, lo, hi), abs=0.006)
    assert r["mde"] == pytest.approx(mde, rel=0.05)


def test_loss_curves_is_decided_on_validation_loss(committed):
    rows, claims = committed
    primary = sorted(k[2] for k, r in rows.items() if k[0] == "loss_curves" and r["primary"])
    assert primary == ["validation loss", "validation loss"]
    assert claims["loss_curves"] == "inconclusive (MDE = 0.4)"
    assert claims["weight_norms"] == "holds, smaller than the paper's"


def test_the_cpu_design_compares_8_lisa_seeds_with_3_by_welch():
    """Issue #32: LISA 8 seeds, full FT and LoRA 3; the committed cpu claims file's primary rows are Welch t intervals
    equal to scipy's on the committed result files (nothing re-typed)."""
    import numpy as np

    from core.analysis.stats import mde_se
    from core.infra.results import load_runs

    rows = {
        (r["claim"], r["comparison"], r["metric"]): r
        for r in json.loads(claims_path("lisa", "cpu").read_text())["rows"]
    }
    runs = load_runs("lisa", "loss_curves", "cpu")
    loss = {m: [r.result["eval_loss"] for r in runs if r.name == m] for m in ("lisa", "lora", "full")}
    assert (len(loss["lisa"]), len(loss["lora"]), len(loss["full"])) == (8, 3, 3)
    for comp, words in (("lora", "LoRA"), ("full", "full FT")):
        r = rows[("loss_curves", f"LISA − {words}", "validation loss")]
        test = sps.ttest_ind(loss["lisa"], loss[comp], equal_var=False)
        ci = test.confidence_interval(0.95)
        se = np.sqrt(np.var(loss["lisa"], ddof=1) / 8 + np.var(loss[comp], ddof=1) / 3)
        assert r["primary"] and r["design"] == "Welch t, 8 vs 3 seeds (unequal seeds)"
        assert (r["lo"], r["hi"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
        assert r["estimate"] == pytest.approx(np.mean(loss["lisa"]) - np.mean(loss[comp]), rel=1e-9)
        assert r["mde"] == pytest.approx(mde_se(se, test.df), rel=1e-9)

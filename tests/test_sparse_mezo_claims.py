"""Sparse MeZO's claims rows (papers.sparse_mezo.claims.rows) on the committed results: known intervals of the
5-seed design (issue #32), the pre-registered primary tests, and the rules that live once in claims.py."""

import pytest

from core.analysis.verdicts import HOLDS
from core.reporting.claims_file import finalize


@pytest.fixture(scope="module")
def rows():
    from papers.sparse_mezo.claims import rows

    return rows("cpu")


def row(rows, claim, comparison, metric):
    return next(r for r in rows if (r.claim, r.comparison, r.metric) == (claim, comparison, metric))


def test_known_intervals_are_unchanged(rows):
    r = row(rows, "superglue_average", "S-MeZO 0.8 − MeZO", "test accuracy")
    assert (r.interval.estimate, r.interval.lo, r.interval.hi) == pytest.approx(
        (0.0112, -0.0181, 0.0405), abs=5e-4
    )  # 5 seeds x 500 items (3 seeds: 0.022 [-0.0333, 0.0773], MDE 0.073)
    assert r.mde == pytest.approx(0.041, abs=5e-4) and r.paper_effect == 0.004 and r.interval.n == 5
    r = row(rows, "random_mask", "S-MeZO 0.8 − R-MeZO 0.8 lr 1e-4", "test accuracy")
    assert (r.interval.lo, r.interval.hi) == pytest.approx((-0.0375, 0.0039), abs=5e-4) and r.interval.n == 5
    r = row(rows, "noise", "SmolLM2-135M, Q5 (largest |θ|) vs Q1", "antithetic ΔL, noise on Q5 − Q1")
    assert r.interval.estimate == pytest.approx(-0.222, abs=5e-4) and r.primary


def test_sparsity_0_9_is_secondary_and_test_accuracy_is_the_primary_metric(rows):
    assert not row(rows, "sparsity_ablation", "S-MeZO 0.9 − MeZO", "test accuracy").primary
    assert row(rows, "sparsity_ablation", "S-MeZO 0.5 − MeZO", "test accuracy").primary
    assert not any(r.primary for r in rows if r.metric in ("balanced accuracy", "validation loss"))


def test_one_verdict_for_random_mask_from_both_arms(rows):
    out = finalize("sparse_mezo", [r for r in rows])
    three, one = (
        row(rows, "random_mask", f"S-MeZO 0.8 − R-MeZO 0.8 lr {lr}", "test accuracy")
        for lr in ("3e-4", "1e-4")
    )
    assert (
        three.verdict == HOLDS and one.verdict == "does not hold"
    )  # its interval ends below the paper's 0.004
    assert out["claims"]["random_mask"] == one.verdict  # the rule of LOG.md 21: holds only if both hold
    assert out["claims"]["convergence_speed"].startswith(
        "not testable at this budget (steps-to-target is degenerate"
    )
    assert out["claims"]["sparsity_ablation"].startswith("inconclusive")  # S-MeZO 0.5's p = 0.026 fails Holm


def test_degenerate_steps_to_target_is_detected():
    from papers.sparse_mezo.claims import speed_untestable

    class Data:
        config = {"eval_every": 100, "max_steps": 2000}

    fine = {
        0: {"target": 0.8, "mezo_steps": 900, "steps": 300},
        1: {"target": 0.7, "mezo_steps": 600, "steps": 200},
    }
    assert speed_untestable(Data, fine) is None
    never = {**fine, 2: {"target": 0.9, "mezo_steps": 2000, "steps": None}}
    assert "seed 2's target (0.900) is not reached" in speed_untestable(Data, never)
    first = {**fine, 2: {"target": 0.6, "mezo_steps": 100, "steps": 100}}
    assert "MeZO's at its first evaluation" in speed_untestable(Data, first)

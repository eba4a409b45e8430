"""core.reporting.power: the MDE predicted from a pilot's seed-level spread, and the README tables that show it."""

import math

import numpy as np
import pytest

from core.analysis.stats import mde_se
from core.reporting.power import (
    main,
    predict_paired,
    predict_welch,
    predicted,
    readme_with_table,
    seeds_behind,
)


def test_the_prediction_at_the_pilots_own_size_is_the_pilots_measured_mde():
    """IST − random layers, validation loss, seeds 0-2: the 3-seed claims file (before issue #32) measured
    MDE 0.5174 with its paired t over 3 seeds; predicting 3 seeds from those seeds gives the same."""
    c = {
        "ours": "ist",
        "comparator": "ist_random",
        "value": "eval_loss",
        "design": "paired",
        "pilot": {"profile": "cpu", "seeds": [0, 1, 2]},
        "seeds": {"ist": 3, "ist_random": 3},
    }
    assert predicted("ist", "compare_math", c).mde == pytest.approx(0.51738, abs=1e-4)
    eight = predicted("ist", "compare_math", {**c, "seeds": {"ist": 8, "ist_random": 8}})
    assert eight.df == 7 and eight.mde < 0.2  # sd/√8 with 7 df instead of sd/√3 with 2


def test_paired_and_welch_standard_errors_in_closed_form():
    d = [1.0, 2.0, 3.0]  # sd 1
    p = predict_paired(d, 4)
    assert (p.se, p.df, p.mde) == pytest.approx((0.5, 3.0, mde_se(0.5, 3.0)))
    assert predict_paired(d, 4, variance_scale=0.25).se == pytest.approx(0.25)  # 4x the items: half the se
    w = predict_welch([0.0, 2.0, 4.0], [1.0, 2.0, 3.0], 4, 4)  # variances 4 and 1 -> 1 and 0.25 per mean
    assert w.se == pytest.approx(math.sqrt(1.25))
    assert w.df == pytest.approx(1.25**2 / (1 / 3 + 0.0625 / 3))
    assert predict_welch(np.ones(3), [0.0, 1.0, 2.0], 3, 3).df == 2  # all spread in one arm: its n - 1
    assert predict_welch(np.ones(3), np.ones(4), 3, 4).mde == 0  # no spread at all


def test_the_measured_mde_names_the_seeds_of_each_arm():
    assert seeds_behind({"lisa": 8, "lora": 3}) == "8 vs 3"  # Welch: unequal arms
    assert seeds_behind({"ist": 8, "ist_random": 8}) == "8"


def test_readme_tables_are_generated_and_current():
    assert main(["--check"]) == 0


def test_a_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="power-table markers"):
        readme_with_table("no markers here", "| x |\n", "papers/x/README.md")

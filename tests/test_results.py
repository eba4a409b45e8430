"""Reading runs back: evaluation curves and steps-to-target (Sparse MeZO's convergence measure)."""

from pathlib import Path

from core.infra.results import Run, first_step_reaching


def run_with(metrics: list[dict]) -> Run:
    return Run("mezo", 0, {}, {}, metrics, Path("."))


def test_curve_reads_only_the_rows_that_carry_the_metric():
    run = run_with(
        [
            {"step": 0, "eval_accuracy": 0.5},
            {"step": 1, "loss": 0.7},
            {"step": 100, "eval_loss": 0.6},
            {"step": 100, "eval_accuracy": 0.62},
        ]
    )
    assert run.curve() == {0: 0.5, 100: 0.62}
    assert run.curve("eval_loss") == {100: 0.6}


def test_first_step_reaching_skips_step_zero_and_returns_none_when_never_reached():
    curve = {0: 0.9, 100: 0.55, 200: 0.61, 300: 0.60, 400: 0.64}
    assert first_step_reaching(curve, 0.61) == 200  # step 0 (before training) does not count
    assert first_step_reaching(curve, 0.64) == 400
    assert first_step_reaching(curve, 0.65) is None
    assert first_step_reaching({100: 0.7, 200: 0.5}, 0.55, higher=False) == 200  # a loss target

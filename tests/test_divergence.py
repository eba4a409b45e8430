"""Divergence stops: the three rules, and a diverging run ends with one line, a non-zero exit, status diverged."""

import math

import pytest

import core.running.experiment as experiment
from core.infra.io import read_json, read_jsonl
from core.infra.results import load_runs
from core.training.divergence import DivergenceCallback


def first_stop(rows, **kw):
    cb = DivergenceCallback(**kw)
    for step, row in enumerate(rows, 1):
        reason = cb.check(row)
        if reason:
            return step, reason
    return None


def test_rules():
    assert first_stop([{"loss": 5.0}, {"loss": math.nan}]) == (2, "non-finite loss nan")
    assert first_stop([{"loss": 5.0, "grad_norm": math.inf}])[1] == "non-finite grad_norm inf"
    assert first_stop([{"eval_loss": math.nan}])[1] == "non-finite eval_loss nan"
    high = [{"loss": 5.0}] + [{"loss": 60.0}] * 4 + [{"loss": 5.0}] + [{"loss": 60.0}] * 5
    assert first_stop(high, loss_factor=10, patience=5) == (
        11,
        "loss 60 above 10 x the first loss 5 for 5 steps",
    )
    assert first_stop(high, loss_factor=0) is None  # rule off
    flat = [{"loss": 5.5, "projected_grad": 0.0}] * 3
    assert first_stop(flat, zero_grad_steps=3)[1].startswith("projected gradient exactly 0 for 3 steps")
    assert (
        first_stop(
            [{"loss": 5.5, "grad_norm": 0.0}] * 2 + [{"loss": 5.5, "grad_norm": 1e-9}], zero_grad_steps=3
        )
        is None
    )
    # the committed CPU runs peak at 2.0 x their first loss: the defaults never stop a healthy run
    assert first_stop([{"loss": 5.0, "grad_norm": 1.0}] + [{"loss": 10.0, "grad_norm": 1.0}] * 50) is None


def test_diverging_run_stops_with_one_line_and_is_kept_by_the_loaders(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "paper: test\nexperiment: div\nprofiles: {cpu: {}}\nruns: [{name: nan}]\n"
        "base: {model: tiny-llama, method: full, lr: 1.0e12, max_grad_norm: 0.0, max_steps: 6,"
        " batch_size: 2, max_length: 32, train_examples: 16, eval_examples: 4}\n"
    )
    monkeypatch.setattr(experiment, "RESULTS", tmp_path / "results")
    assert experiment.main([str(cfg)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    line = [x for x in out.out.splitlines() if "diverged at step" in x]
    assert len(line) == 1 and "non-finite loss nan" in line[0] and "checkpoint" not in line[0]
    run = tmp_path / "results" / "test" / "div" / "cpu" / "nan-s0"
    result = read_json(run / "result.json")
    assert result["status"] == "diverged" and result["eval_loss"] is None and result["steps"] < 6
    assert len([r for r in read_jsonl(run / "metrics.jsonl") if "loss" in r]) == result["steps"]
    assert not (run / "checkpoints").exists()
    [loaded] = load_runs("test", "div", root=tmp_path / "results")
    assert loaded.status == "diverged" and loaded.result["diverged_at"] == result["steps"]
    assert experiment.main([str(cfg)]) == 1  # skipped on a re-run, still reported
    assert "skipped (finished) but diverged" in capsys.readouterr().out
    assert experiment.main([str(cfg), "lr=5e-4"]) == 3  # the same run re-requested with another lr: refused
    assert "differs in: lr" in capsys.readouterr().err


@pytest.mark.parametrize("logs", [{"loss": 1.0, "projected_grad": math.nan}, {"loss": -math.inf}])
def test_non_finite_values_stop_at_once(logs):
    assert first_stop([logs])[0] == 1

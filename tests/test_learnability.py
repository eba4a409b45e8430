"""core.running.learnability: the gate passes only when the baseline beats zero-shot and the majority class by an
interval that excludes 0 (known answers by hand), and its record is written once with a manifest."""

import json

import pytest

from core.infra.io import RunExistsError
from core.running.learnability import check_gate, gate_path, gate_record, majority_correct, write_gate

T_975_DF2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2)


def test_loss_gate_by_hand():
    """Three seeds 0.1 apart, 1.0 below the zero-shot loss: -1 ± t(2)·0.1/√3, clear of 0."""
    gate = check_gate([2.0, 2.1, 1.9], 3.0, lower_is_better=True)
    ref = gate["references"]["zero_shot"]
    half = T_975_DF2 * 0.1 / 3**0.5
    assert (ref["diff"], ref["lo"], ref["hi"]) == pytest.approx((-1.0, -1.0 - half, -1.0 + half))
    assert gate["passes"] and ref["beats"] and ref["n"] == 3 and ref["mde"] > 0
    assert "majority" not in gate["references"]
    # the same numbers where higher is better (an accuracy 1.0 below zero-shot) fail
    assert not check_gate([2.0, 2.1, 1.9], 3.0, lower_is_better=False)["passes"]


def test_gate_fails_when_interval_contains_zero():
    gate = check_gate([2.9, 3.1, 3.05], 3.0, lower_is_better=True)
    ref = gate["references"]["zero_shot"]
    assert ref["lo"] < 0 < ref["hi"] and not gate["passes"]


def test_majority_class_by_hand():
    assert majority_correct([0, 1, 1, 2], [1, 0, 1]) == [1, 0, 1]
    assert majority_correct([1, 0], [0, 1]) == [1, 0]  # tie: the smaller label


def test_accuracy_gate_needs_both_references():
    """Per-example correctness on 10 items. Seeds right on 8, 9, 8 items; zero-shot right on 3 of them; the
    majority answer right on the first 8: the baseline beats zero-shot (+5.33 items of 10 on average) but not the
    majority class (+0.33, its 3 per-seed differences 0, 0.1, 0 give an interval around 0)."""
    seeds = [[1] * 8 + [0, 0], [1] * 9 + [0], [1] * 8 + [0, 0]]
    zero_shot = [1, 1, 1] + [0] * 7
    majority = [1] * 8 + [0, 0]
    gate = check_gate(seeds, zero_shot, majority)
    zs, mj = gate["references"]["zero_shot"], gate["references"]["majority"]
    assert zs["beats"] and zs["diff"] == pytest.approx(0.5 + 1 / 30)
    assert not mj["beats"] and mj["diff"] == pytest.approx(1 / 30) and mj["lo"] < 0
    assert not gate["passes"]
    # per-seed accuracies (no per-example vectors): the majority vector counts as its accuracy
    gate = check_gate([0.8, 0.9, 0.85], 0.3, majority)
    assert gate["references"]["majority"]["reference"] == pytest.approx(0.8)


def fake_run(root, name, seed, result, cfg=None):
    d = root / "p" / "exp" / "cpu" / f"{name}-s{seed}"
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps(result))
    (d / "manifest.json").write_text(
        json.dumps(
            {
                "config": {
                    "name": name,
                    "seed": seed,
                    "task": "instruct",
                    "eval_examples": 4,
                    "lm_eval_limit": 0,
                    **(cfg or {}),
                }
            }
        )
    )


def test_record_from_runs_is_written_once(tmp_path):
    for seed, loss in enumerate([2.0, 2.1, 1.9]):
        fake_run(tmp_path, "full", seed, {"eval_loss": loss})
    fake_run(tmp_path, "zero_shot", 0, {"eval_loss": 3.0})
    record = gate_record("p", "exp", "cpu", ["eval_loss"], root=tmp_path)
    assert record["passes"] == {"eval_loss": True}
    assert record["metrics"]["eval_loss"]["baseline_per_seed"] == [2.0, 2.1, 1.9]
    assert record["inputs"] == [
        "p/exp/cpu/full-s0",
        "p/exp/cpu/full-s1",
        "p/exp/cpu/full-s2",
        "p/exp/cpu/zero_shot-s0",
    ]
    path = write_gate(record, tmp_path)
    assert path == gate_path("p", "exp", "cpu", tmp_path)
    stored = json.loads(path.read_text())
    assert stored["manifest"]["config"]["experiment"] == "exp" and stored["passes"] == {"eval_loss": True}
    write_gate(gate_record("p", "exp", "cpu", ["eval_loss"], root=tmp_path), tmp_path)  # same numbers: kept
    (tmp_path / "p" / "exp" / "cpu" / "full-s2" / "result.json").write_text(json.dumps({"eval_loss": 3.5}))
    with pytest.raises(RunExistsError, match="different gate"):
        write_gate(gate_record("p", "exp", "cpu", ["eval_loss"], root=tmp_path), tmp_path)


def test_majority_of_the_lm_eval_multiple_choice_task():
    """sft_math_mc scores the first `lm_eval_limit` arithmetic test items; answer 0 is the training split's most
    frequent label (choices are sorted as strings), right on 15 of the first 24 test items (0.625)."""
    from core.running.learnability import majority_reference

    correct = majority_reference("lm_eval.sft_math_mc.acc_norm", {"lm_eval_limit": 24})
    assert len(correct) == 24 and sum(correct) == 15
    assert majority_reference("lm_eval.sft_instruct_ll.acc", {"lm_eval_limit": 24}) is None
    assert majority_reference("eval_loss", {}) is None


def test_two_seeds_give_a_gate_even_where_the_mde_is_not_computable():
    """2 seeds: t(1) interval by hand; the noncentral t behind the MDE fails at df 1 for these numbers (NaN)."""
    gate = check_gate([2.0, 2.02], 3.0, lower_is_better=True)
    ref = gate["references"]["zero_shot"]
    half = 12.706204736174698 * 0.01  # scipy.stats.t.ppf(0.975, 1) · sd/√2, sd = 0.01·√2
    assert (ref["lo"], ref["hi"]) == pytest.approx((-0.99 - half, -0.99 + half)) and gate["passes"]
    assert not check_gate([2.0, 2.2], 3.0, lower_is_better=True)["passes"]  # -0.9 ± 1.27 contains 0

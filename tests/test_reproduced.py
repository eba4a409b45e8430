"""core.reporting.reproduced: a re-run counts as reproduced only when every non-volatile number agrees."""

import json
import shutil
import subprocess

import pytest

from core.infra.io import REPO, RESULTS
from core.reporting.reproduced import committed_results, compare_trees, main

RESULT = {
    "eval_loss": 1.25,
    "accuracy": 0.5,
    "selected": [3, 7],
    "mean_step_s": 1.8,
    "process_max_rss_mb": 1900.0,
    "step_s_all": [1.7, 1.9],
}
METRICS = [{"step": 1, "loss": 2.5, "step_time": 1.7}, {"step": 2, "loss": 2.25, "step_time": 1.6}]


def write_run(root, result=RESULT, metrics=METRICS, manifest=None):
    run = root / "lisa" / "exp" / "cpu" / "lisa-s0"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps(result))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
    (run / "manifest.json").write_text(
        json.dumps(manifest or {"created": "2026-11-23T10:00", "git_sha": "a"})
    )
    return run


@pytest.fixture
def trees(tmp_path):
    write_run(tmp_path / "ref")
    return tmp_path / "ref", tmp_path / "new"


def test_machine_fields_differ_but_run_reproduced(trees):
    ref, new = trees
    write_run(
        new,
        {**RESULT, "mean_step_s": 2.7, "process_max_rss_mb": 2000.0, "step_s_all": [1.8, 1.9]},
        [{**r, "step_time": r["step_time"] * 2} for r in METRICS],
        {"created": "2026-11-24T09:00", "git_sha": "b"},
    )
    report = compare_trees(ref, new, ["lisa"])
    assert report.reproduced and report.files == 3
    assert report.volatile["metrics.jsonl[].step_time"][0] == 2
    assert report.volatile["mean_step_s"][1] == pytest.approx(0.9 / 2.7)
    assert set(report.volatile) == {
        "metrics.jsonl[].step_time",
        "mean_step_s",
        "process_max_rss_mb",
        "step_s_all[]",
        "created",
        "git_sha",
    }


def test_a_changed_loss_fails_with_its_relative_change(trees):
    ref, new = trees
    write_run(new, metrics=[METRICS[0], {**METRICS[1], "loss": 2.5}])
    report = compare_trees(ref, new, ["lisa"])
    assert not report.reproduced
    assert dict(report.changed) == {"metrics.jsonl[].loss": [1, 0.1, "lisa/exp/cpu/lisa-s0/metrics.jsonl"]}


def test_rtol_accepts_small_float_noise_only(trees):
    ref, new = trees
    write_run(new, {**RESULT, "eval_loss": 1.25 * (1 + 1e-7)})
    assert not compare_trees(ref, new, ["lisa"]).reproduced
    assert compare_trees(ref, new, ["lisa"], rtol=1e-6).reproduced
    assert not compare_trees(ref, new, ["lisa"], rtol=1e-8).reproduced


def test_other_layers_a_lost_field_and_a_lost_file_fail(tmp_path, trees):
    ref, new = trees
    write_run(new, {k: v for k, v in RESULT.items() if k != "accuracy"} | {"selected": [3, 8]})
    report = compare_trees(ref, new, ["lisa"])
    assert set(report.changed) == {"accuracy (missing in the re-made file)", "selected[]"}
    (new / "lisa/exp/cpu/lisa-s0/metrics.jsonl").write_text(json.dumps(METRICS[0]) + "\n")  # a cut-off run
    assert "metrics.jsonl (length 2 -> 1)" in compare_trees(ref, new, ["lisa"]).changed
    (new / "lisa/exp/cpu/lisa-s0/metrics.jsonl").unlink()
    assert compare_trees(ref, new, ["lisa"]).missing == ["lisa/exp/cpu/lisa-s0/metrics.jsonl"]


def test_machine_info_the_re_run_lacks_is_volatile(tmp_path):
    """A reference made on a GPU machine (manifest machine.gpu) re-run on CPU: reported, not failed."""
    ref, new = tmp_path / "ref", tmp_path / "new"
    write_run(ref, manifest={"machine": {"cpus": 16, "gpu": "NVIDIA H100"}, "config": {"lr": 1e-3}})
    write_run(new, manifest={"machine": {"cpus": 2}, "config": {}})
    report = compare_trees(ref, new, ["lisa"])
    assert set(report.volatile) == {"machine.cpus", "machine.gpu (missing in the re-made file)"}
    assert set(report.changed) == {"config.lr (missing in the re-made file)"}


def test_a_new_field_is_reported_not_failed(trees):
    ref, new = trees
    write_run(new, {**RESULT, "lm_eval_tasks": "sft_math_mc"})
    report = compare_trees(ref, new, ["lisa"])
    assert report.reproduced and "lm_eval_tasks (new in the re-made file)" in report.volatile


def test_cli_exit_code_and_unknown_paper(trees, capsys):
    ref, new = trees
    shutil.copytree(ref, new)
    assert main(["lisa", "--against", str(ref), "--remade", str(new)]) == 0
    assert "REPRODUCED" in capsys.readouterr().out
    (new / "lisa/exp/cpu/lisa-s0/result.json").write_text(json.dumps({**RESULT, "accuracy": 0.75}))
    assert main(["lisa", "--against", str(ref), "--remade", str(new)]) == 1
    assert "CHANGED accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no results folder .*misa"):
        main(["misa", "--against", str(ref), "--remade", str(new)])


def test_committed_results_are_the_files_git_holds(tmp_path):
    rel = "data/results/lisa/optimizer_state/cpu.json"
    out = committed_results("HEAD", tmp_path)
    held = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, check=True, capture_output=True).stdout
    assert (out / "lisa/optimizer_state/cpu.json").read_bytes() == held
    assert out.relative_to(tmp_path) == RESULTS.relative_to(REPO)
    with pytest.raises(SystemExit, match="no-such-rev"):
        committed_results("no-such-rev", tmp_path)

"""`core.experiment --jobs 2`: runs in worker processes, per-run logs, a failing run reported without stopping
the rest."""

import core.experiment as experiment
from core.io import read_json

EXPERIMENT = """
paper: test
experiment: jobs
base: {task: instruct, method: full, max_steps: 2, batch_size: 2, max_length: 32, eval_examples: 2,
       train_examples: 8, lr: 1.0e-3}
profiles: {cpu: {}}
runs: [{name: good, model: tiny-llama}, {name: bad, model: MODEL_DIR}]
seeds: [0]
"""


def test_parallel_jobs_log_per_run_and_report_failures(tmp_path, monkeypatch, capsys):
    broken = (
        tmp_path / "broken-model"
    )  # a local model folder whose weights are missing: fails only when loaded
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama", "num_hidden_layers": 2}')
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(EXPERIMENT.replace("MODEL_DIR", str(broken)))
    monkeypatch.setattr(experiment, "RESULTS", tmp_path / "results")
    assert experiment.main([str(cfg), "--jobs", "2"]) == 1  # one run failed
    run_root = tmp_path / "results" / "test" / "jobs" / "cpu"
    good = read_json(run_root / "good-s0" / "result.json")
    assert good["steps"] == 2 and good["eval_loss"] > 0
    assert read_json(run_root / "good-s0" / "manifest.json")["machine"]["torch_threads"] >= 1
    assert "Traceback" in (run_root / "bad-s0" / "train.log").read_text()  # the failure is logged per run
    assert not (run_root / "bad-s0" / "result.json").exists()
    assert not (
        run_root / "bad-s0" / "manifest.json"
    ).exists()  # a run failing on its input leaves no manifest
    err = capsys.readouterr()
    assert "bad-s0 (full): failed: " in err.out + err.err
    assert "1 run(s) failed" in err.err
    # finished runs are skipped on the re-run; the failing one is retried and fails again
    assert experiment.main([str(cfg), "--jobs", "2"]) == 1
    assert "skipped (finished)" in capsys.readouterr().out

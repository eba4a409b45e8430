"""`core.running.experiment --jobs 2`: runs in worker processes, per-run logs, a failing run reported without stopping
the rest."""

import core.running.experiment as experiment
from core.infra.io import read_json

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


PROBED = """
paper: test
experiment: probed
base: {task: instruct, method: full, model: tiny-llama, max_steps: 2, batch_size: 2, max_length: 32,
       eval_examples: 2, train_examples: 8}
profiles: {cpu: {}}
runs: [{name: ft, lr_probe: {grid: "1e-4,1e-2", steps: 1}}]
seeds: [0, 1]
"""


def test_parallel_jobs_run_the_missing_lr_probes_side_by_side_first(tmp_path, monkeypatch):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(PROBED)
    monkeypatch.setattr(experiment, "RESULTS", tmp_path / "results")
    assert experiment.main([str(cfg), "--jobs", "2"]) == 0
    probe_root = tmp_path / "results" / "test" / "lr_probe" / "cpu"
    for lr in ("0.0001", "0.01"):  # each probe ran once, in a worker (its own train.log), for both seeds
        assert (probe_root / f"probed.ft-lr{lr}-s0" / "train.log").exists()
        assert read_json(probe_root / f"probed.ft-lr{lr}-s0" / "result.json")["steps"] == 1
    selection = read_json(probe_root / "probed.ft.json")
    losses = {row["lr"]: row["eval_loss"] for row in selection["probes"]}
    assert selection["selected_lr"] == min(losses, key=losses.get)
    for seed in (0, 1):  # every seed trains at the selected lr
        run = tmp_path / "results" / "test" / "probed" / "cpu" / f"ft-s{seed}"
        assert read_json(run / "manifest.json")["config"]["lr"] == selection["selected_lr"]


def test_a_damaged_finished_run_stops_the_plan_before_any_job(tmp_path, monkeypatch, capsys):
    """A finished run whose result.json was cut short is found when the plan is made, so a new run in the same
    experiment never starts (it would otherwise train first and the damage would surface only at its turn)."""
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        EXPERIMENT.replace("{name: bad, model: MODEL_DIR}", "{name: later, model: tiny-llama, lr: 2.0e-3}")
    )
    monkeypatch.setattr(experiment, "RESULTS", tmp_path / "results")
    assert experiment.main([str(cfg), "--run", "good"]) == 0
    run_root = tmp_path / "results" / "test" / "jobs" / "cpu"
    result = run_root / "good-s0" / "result.json"
    result.write_text(result.read_text()[:40])  # cut short
    assert experiment.main([str(cfg)]) == 3
    assert "good-s0/result.json is not valid JSON" in capsys.readouterr().err
    assert not (run_root / "later-s0").exists()  # no job started

"""kill -9 at four points of a run, then one re-run: every killed run finishes bit-exactly like an uninterrupted one.

Each killed run is its own experiment file (same config, its own name) run in a subprocess with
``SFT_TEST_KILL_AT`` (`core.infra.io.kill_point`), which SIGKILLs the process at a deterministic point:
- ``first_step``: after the first optimizer step, before any checkpoint (the re-run starts over);
- ``ckpt_save:2``: during the second checkpoint save (step 4), before it is marked complete (the re-run ignores
  and removes it and resumes from step 2);
- ``final_eval``: during the final evaluation, after the checkpoint at ``max_steps`` (the re-run evaluates again
  without training a 7th step or logging a second summary row);
- ``write:result.json``: while result.json is written, before its rename (the re-run finds no result).
Then one process runs the whole folder: the reference run from scratch and the four killed runs to the end.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KILLS = {
    "first": "first_step",
    "ckpt": "ckpt_save:2",
    "evaluation": "final_eval",
    "write": "write:result.json",
}
EXPERIMENT = """
paper: test
experiment: kill
base: {{model: tiny-llama, task: instruct, method: lisa, lisa: {{gamma: 1, interval: 2}}, max_steps: 6,
        save_every: 2, batch_size: 2, max_length: 32, train_examples: 16, eval_examples: 4, lr: 1.0e-3}}
profiles: {{cpu: {{}}}}
runs: [{{name: {name}}}]
"""
VOLATILE = {"wall_s", "mean_step_s", "process_max_rss_mb", "step_time"}  # and *_runtime, *_per_second


def experiment(target, env, kill=None) -> subprocess.Popen:
    env = {**env, **({"SFT_TEST_KILL_AT": kill} if kill else {})}
    return subprocess.Popen(
        [sys.executable, "-m", "core.running.experiment", str(target)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in VOLATILE and not k.endswith(("_runtime", "_per_second"))}


def training_rows(run: Path) -> list[dict]:
    """metrics.jsonl without the end-of-training summary (its train_loss averages only the resumed steps)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [stable(r) for r in rows if "train_runtime" not in r]


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    exps = root / "exps"
    exps.mkdir()
    for name in ("ref", *KILLS):
        (exps / f"{name}.yaml").write_text(EXPERIMENT.format(name=name))
    env = {**os.environ, "SFT_RESULTS": str(root / "results"), "OMP_NUM_THREADS": "1"}
    runs = root / "results" / "test" / "kill" / "cpu"
    procs = {
        name: experiment(exps / f"{name}.yaml", env, kill) for name, kill in KILLS.items()
    }  # side by side
    killed = {name: finish(proc) for name, proc in procs.items()}
    states = {
        name: sorted(
            str(p.relative_to(runs / f"{name}-s0"))
            for p in (runs / f"{name}-s0").rglob("*")
            if p.name in ("COMPLETE", "result.json") or p.name.startswith("checkpoint-")
        )
        for name in KILLS
    }
    final = finish(experiment(exps, env))
    return runs, killed, states, final


def test_each_kill_happened_where_intended(killed_and_resumed):
    _, killed, states, _ = killed_and_resumed
    assert {name: proc.returncode for name, proc in killed.items()} == {name: -9 for name in KILLS}
    assert states["first"] == []
    assert states["ckpt"] == [
        "checkpoints/checkpoint-2",
        "checkpoints/checkpoint-2/COMPLETE",
        "checkpoints/checkpoint-4",
    ]  # the second save was cut before its marker
    assert (
        "checkpoints/checkpoint-6/COMPLETE" in states["evaluation"]
        and "result.json" not in states["evaluation"]
    )
    assert "checkpoints/checkpoint-6/COMPLETE" in states["write"] and "result.json" not in states["write"]


def test_rerun_finishes_every_killed_run_bit_exactly(killed_and_resumed):
    runs, _, _, final = killed_and_resumed
    assert final.returncode == 0, final.stdout + final.stderr
    assert "checkpoint-4: its save was interrupted" in final.stdout
    ref = runs / "ref-s0"
    ref_result = stable(json.loads((ref / "result.json").read_text()))
    assert ref_result["steps"] == 6 and len([r for r in training_rows(ref) if "loss" in r]) == 6
    for name in KILLS:
        run = runs / f"{name}-s0"
        assert stable(json.loads((run / "result.json").read_text())) == ref_result, name
        assert training_rows(run) == training_rows(ref), name
        summaries = [r for r in (run / "metrics.jsonl").read_text().splitlines() if "train_runtime" in r]
        assert len(summaries) == 1, name
        assert not (run / "checkpoints").exists()

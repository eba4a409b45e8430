"""LISA and MISA under torchrun DDP (2 CPU processes, gloo) through the HF Trainer: a 2-process run with per-rank
batch b gives the 1-process batch-2b losses, every rank holds the same active set and no optimizer state for
inactive layers, a rank-dependent seed is refused, and an interrupted 2-process run resumes to the same losses."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.run import REPO, read_jsonl

WORKER = Path(__file__).with_name("ddp_worker.py")
BASE = dict(paper="test", experiment="ddp", model="tiny-llama", task="instruct", max_steps=6, max_length=32,
            eval_examples=4, train_examples=48, lr=1e-3)
METHODS = {"lisa": {"method": "lisa", "lisa": {"gamma": 2, "interval": 2}},
           "misa": {"method": "misa", "misa": {"budget": 0.1, "interval": 2}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(mode, cfg: dict, out: Path, nproc: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    head = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port",
             str(free_port())] if nproc > 1 else [sys.executable])
    return subprocess.run(head + [str(WORKER), mode, json.dumps(cfg), str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def losses(out: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_two_ranks_match_one_process_with_double_batch(method, tmp_path):
    one = launch("run", {**BASE, **METHODS[method], "name": "one", "batch_size": 4}, tmp_path / "one", 1)
    two = launch("run", {**BASE, **METHODS[method], "name": "two", "batch_size": 2}, tmp_path / "two", 2)
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    ref, got = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(ref) == len(got) == 6
    assert got == pytest.approx(ref, rel=1e-5, abs=1e-5)
    r0, r1 = (json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1))
    ref_rows = json.loads((tmp_path / "one" / "rank0.json").read_text())
    assert [r["active"] for r in r0] == [r["active"] for r in r1] == [r["active"] for r in ref_rows]
    assert len({tuple(r["active"]) for r in r0}) >= 2                   # at least two different active sets
    for rows in (r0, r1):
        for r in rows:
            assert set(r["with_state"]) <= set(r["requires_grad"])      # no AdamW state for inactive layers
    result = json.loads((tmp_path / "two" / "result.json").read_text())
    assert result["steps"] == 6 and not (tmp_path / "two" / "rank2.json").exists()


def test_rank_dependent_seed_is_refused(tmp_path):
    bad = launch("badseed", {**BASE, **METHODS["lisa"], "name": "bad", "batch_size": 2}, tmp_path / "bad", 2)
    assert bad.returncode != 0
    assert "ranks disagree on the active blocks at step 0" in bad.stderr + bad.stdout


def test_interrupted_two_rank_run_resumes_to_the_same_losses(tmp_path):
    cfg = {**BASE, **METHODS["lisa"], "name": "r", "batch_size": 2, "save_every": 3}
    full = launch("run", cfg, tmp_path / "full", 2)
    cut = launch("cut", cfg, tmp_path / "cut", 2)
    assert full.returncode == 0, full.stderr[-3000:]
    assert cut.returncode != 0 and (tmp_path / "cut" / "checkpoints" / "checkpoint-3").exists()
    assert not (tmp_path / "cut" / "result.json").exists()
    resumed = launch("run", cfg, tmp_path / "cut", 2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert losses(tmp_path / "cut") == pytest.approx(losses(tmp_path / "full"), rel=1e-6, abs=1e-6)

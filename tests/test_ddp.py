"""LISA, MISA and IST under torchrun DDP (2 CPU processes, gloo) through the HF Trainer: a 2-process run with
per-rank batch b gives the 1-process batch-2b losses, every rank holds the same active set, DDP's reducer covers
exactly the active parameters and no rank holds optimizer state for inactive layers, a rank-dependent seed is
refused, an interrupted 2-process run resumes to the same losses, and `accelerate launch --multi_gpu` (CPU
processes with gloo here) gives the 1-process batch-2b LISA losses too. `core.training.ddp.rebuild_reducer` in one
process (gloo, world size 1): the rebuilt reducer covers the trainable set, gradients are unchanged, comm hooks
survive."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.infra.io import REPO, read_jsonl
from core.training.ddp import free_port, process_group_of_one

WORKER = Path(__file__).with_name("ddp_worker.py")
BASE = dict(
    paper="test",
    experiment="ddp",
    model="tiny-llama",
    task="instruct",
    max_steps=6,
    max_length=32,
    eval_examples=4,
    train_examples=48,
    lr=1e-3,
)
METHODS = {
    "lisa": {"method": "lisa", "lisa": {"gamma": 2, "interval": 2}},
    "misa": {"method": "misa", "misa": {"budget": 0.1, "interval": 2}},
    "ist": {"method": "ist", "ist": {"interval": 2, "update_frac": 0.5, "probe_batch": 4}},
}


def launch(mode, cfg: dict, out: Path, nproc: int, launcher: str = "torchrun") -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    port = str(free_port())
    heads = {
        "torchrun": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(nproc),
            "--master_port",
            port,
        ],
        # accelerate's GPU launcher; on a machine without GPUs its processes train on CPU with gloo
        "accelerate": [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--multi_gpu",
            "--num_processes",
            str(nproc),
            "--main_process_port",
            port,
        ],
    }
    head = heads[launcher] if nproc > 1 else [sys.executable]
    return subprocess.run(
        head + [str(WORKER), mode, json.dumps(cfg), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


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
    assert len({tuple(r["active"]) for r in r0}) >= 2  # at least two different active sets
    for rows in (r0, r1):
        for r in rows:
            assert set(r["with_state"]) <= set(r["requires_grad"])  # no AdamW state for inactive layers
            assert r["reducer"] == r["trainable"]  # DDP's buckets: exactly the active params
    assert "reducer" not in ref_rows[0]  # the 1-process reference is not DDP
    result = json.loads((tmp_path / "two" / "result.json").read_text())
    assert result["steps"] == 6 and not (tmp_path / "two" / "rank2.json").exists()


def test_accelerate_launch_matches_one_process_with_double_batch(tmp_path):
    one = launch("run", {**BASE, **METHODS["lisa"], "name": "one", "batch_size": 4}, tmp_path / "one", 1)
    two = launch(
        "run",
        {**BASE, **METHODS["lisa"], "name": "acc", "batch_size": 2},
        tmp_path / "acc",
        2,
        launcher="accelerate",
    )
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert losses(tmp_path / "acc") == pytest.approx(losses(tmp_path / "one"), rel=1e-5, abs=1e-5)
    rows = [json.loads((tmp_path / "acc" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert rows[0] == rows[1] and all(r["reducer"] == r["trainable"] for r in rows[0])  # two DDP ranks


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


@pytest.fixture
def gloo_world_of_one():
    with process_group_of_one():
        yield


def test_rebuilt_reducer_covers_the_trainable_set_and_keeps_gradients_and_hooks(gloo_world_of_one):
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    from core.training.ddp import rebuild_reducer, reducer_parameters, trainable_parameters

    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(4)])
    ref = torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(4)])
    ref.load_state_dict(model.state_dict())
    ddp = DDP(model, find_unused_parameters=True)
    calls = []

    def counting_hook(state, bucket):
        calls.append(bucket.buffer().numel())
        fut = torch.futures.Future()
        fut.set_result(bucket.buffer())
        return fut

    ddp.register_comm_hook(None, counting_hook)
    assert reducer_parameters(ddp) == {"tensors": 8, "bytes": 4 * 72 * 4}  # 4 x (64 weights + 8 biases), fp32
    for layer in (model[0], model[2], ref[0], ref[2]):
        layer.requires_grad_(False)
    rebuild_reducer(ddp)
    assert reducer_parameters(ddp) == trainable_parameters(model) == {"tensors": 4, "bytes": 2 * 72 * 4}
    x = torch.randn(3, 8)
    ddp(x).square().sum().backward()
    ref(x).square().sum().backward()
    assert sum(calls) == 2 * 72  # the hook saw only the active grads
    for p, q in zip(model.parameters(), ref.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad)
    ddp.static_graph = True
    with pytest.raises(NotImplementedError, match="static_graph"):
        rebuild_reducer(ddp)

"""FSDP2 (`core.training.fsdp`, ``sharding: fsdp2``) on 2 CPU processes (torchrun, gloo) through
`core.running.experiment`.

- LISA, MISA, IST, full FT, LoRA and BAdam sharded over 2 ranks with per-rank batch 2 give the 1-process batch-4
  losses (1e-4 relative; 4 switches), both ranks hold the same active blocks, optimizer state only for active
  layers, and each rank at most 0.6 x the 1-process optimizer-state bytes;
- every layer that was ever active moved and no other did (a later-activated layer that the optimizer missed,
  LMFlow #726, would not move); an optimizer built before sharding is refused by the switching callback;
- a rank-dependent sampler seed stops the run with one line, well within a timeout;
- a sharded run killed (SIGKILL) during a checkpoint save resumes from its last complete DCP checkpoint and ends
  bit for bit like the uninterrupted run, with the same LISA layer sequence;
- data-parallel MeZO (`core.training.zo_dp`, in the same launches): 2 processes = 1 process on the full batch within
1e-5
  over 20 steps, 24 bytes exchanged per step;
- config checks: methods and settings that cannot run sharded are one-line errors; `predict_memory(ranks=N)`;
  the accelerate FSDP2 config (CUDA only) gives the intended plugin.
Two torchrun launches of the whole experiment file, one plain reference, two for the kill and one for the seed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.infra.io import REPO, read_jsonl
from core.training.config import ConfigError
from core.training.ddp import free_port, process_group_of_one

pytestmark = pytest.mark.multiprocess
WORKER = Path(__file__).with_name("fsdp_worker.py")
EXPERIMENT = """
paper: test
experiment: fsdp
base: {model: tiny-llama, task: instruct, max_steps: 8, max_length: 32, eval_examples: 4, train_examples: 48,
       lr: 1.0e-3, sharding: fsdp2}
profiles: {cpu: {}}
runs:
  - {name: lisa, method: lisa, lisa: {gamma: 1, interval: 2}, save_every: 2}
  - {name: misa, method: misa, misa: {budget: 0.1, interval: 2}}
  - {name: ist, method: ist, ist: {interval: 2, update_frac: 0.5, probe_batch: 4}}
  - {name: full, method: full}
  - {name: lora, method: lora}
  - {name: badam, method: badam, badam: {interval: 2}}
  - {name: mezo, method: mezo, max_steps: 20, train_examples: 80, sharding: none, zo: {eps: 1.0e-3}}
"""
METHODS = ("lisa", "misa", "ist", "full", "lora", "badam")
SWITCHING = ("lisa", "misa", "ist")


def torchrun(nproc: int) -> list[str]:
    if nproc == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)] + [
        "--master_port",
        str(free_port()),
    ]


def launch(args: list[str], results: Path, nproc: int, kill: str = "", timeout: int = 300):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), SFT_RESULTS=str(results))
    if kill:
        env["SFT_TEST_KILL_AT"] = kill
    return subprocess.run(
        torchrun(nproc) + args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def losses(run: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(run / "metrics.jsonl") if "loss" in r]


def records(run: Path, rank: int) -> dict:
    return json.loads((run / f"rank{rank}.json").read_text())


@pytest.fixture(scope="module")
def sharded_and_reference(tmp_path_factory):
    """One torchrun launch trains every run of EXPERIMENT on 2 ranks (sharded, MeZO data-parallel) at per-rank batch
    2, one plain process the same runs unsharded at batch 4 (imports paid once per launch)."""
    root = tmp_path_factory.mktemp("fsdp")
    (root / "exp.yaml").write_text(EXPERIMENT)
    work = [str(WORKER), "run", str(root / "exp.yaml"), "--profile", "cpu"]
    two = launch(work + ["batch_size=2"], root / "two", 2)
    one = launch(work + ["batch_size=4", "sharding=none"], root / "one", 1)
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-3000:]
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-3000:]
    runs = {n: root / n / "test" / "fsdp" / "cpu" for n in ("two", "one")}
    return {name: (runs["two"] / f"{name}-s0", runs["one"] / f"{name}-s0") for name in (*METHODS, "mezo")}


@pytest.mark.parametrize("method", METHODS)
def test_two_sharded_ranks_match_one_process_with_double_batch(method, sharded_and_reference):
    two, one = sharded_and_reference[method]
    ref, got = losses(one), losses(two)
    assert len(ref) == len(got) == 8
    assert got == pytest.approx(ref, rel=1e-4)
    manifest = json.loads((two / "manifest.json").read_text())
    assert manifest["config"]["sharding"] == "fsdp2" and manifest["config"]["batch_size"] == 2
    r0, r1, ref_rows = records(two, 0), records(two, 1), records(one, 0)
    assert r0["moved_layers"] == r1["moved_layers"] == ref_rows["moved_layers"]
    for rows in (r0["steps"], r1["steps"]):
        assert [r["active"] for r in rows] == [r["active"] for r in ref_rows["steps"]]
        for r in rows:
            assert set(r["with_state"]) <= set(r["requires_grad"])  # no AdamW state for inactive layers
        held = [
            (a["state_bytes"], b["state_bytes"]) for a, b in zip(rows, ref_rows["steps"]) if b["state_bytes"]
        ]
        assert (
            len(held) >= 4
        )  # BAdam frees its state at each block switch: those steps hold none on either side
        ratio = max(a / b for a, b in held)
        assert ratio <= 0.6, f"{method}: a rank holds {ratio:.2f} x the 1-process optimizer state"
    if method in SWITCHING:
        assert len({tuple(r["active"]) for r in r0["steps"]}) >= 2


def test_every_layer_ever_active_was_trained_and_no_other(sharded_and_reference):
    """LMFlow #726: layers frozen when the optimizer was built never train. Here exactly the layers LISA drew at some
    step moved, including those first drawn after step 0."""
    two, _ = sharded_and_reference["lisa"]
    rows = records(two, 0)
    history = json.loads((two / "result.json").read_text())["lisa_history"]
    ever = sorted({int(name[5:]) for h in history for name in h["active"]})
    first = {int(name[5:]) for name in history[0]["active"]}
    assert len(history) == 4 and set(ever) - first  # some layers were first drawn after step 0
    assert rows["moved_layers"] == ever


@pytest.fixture
def gloo_world_of_one():
    with process_group_of_one():
        yield


def test_optimizer_built_before_sharding_is_refused(gloo_world_of_one):
    import torch

    from core.sources.models import load_model
    from core.training.callbacks import LisaCallback
    from core.training.fsdp import shard_model

    model, _ = load_model("tiny-llama", "causal", seed=0)
    early = torch.optim.AdamW(model.parameters())  # holds the tensors fully_shard replaces
    shard_model(model)
    with pytest.raises(RuntimeError, match="not in the optimizer"):
        LisaCallback(gamma=1, interval=2).attach(model, early)
    LisaCallback(gamma=1, interval=2).attach(
        model, torch.optim.AdamW(model.parameters())
    )  # built after: fine


def test_rank_dependent_seed_fails_fast_with_one_line(tmp_path):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.split("  - {name: misa")[0])  # the LISA run only
    args = [str(WORKER), "badseed", str(tmp_path / "exp.yaml"), "--profile", "cpu"]
    bad = launch(args + ["batch_size=2"], tmp_path / "r", 2, timeout=120)
    assert bad.returncode == 1
    lines = [line for line in bad.stdout.splitlines() if "failed:" in line]
    assert len(lines) == 2  # one per rank
    assert "ranks disagree on the active blocks at step 0" in lines[0]


def test_sharded_run_killed_during_a_save_resumes_bit_exactly(tmp_path, sharded_and_reference):
    """`torchrun -m core.running.experiment <config> --profile cpu` on EXPERIMENT's LISA run (checkpoints every 2
    steps),
    rank 0 SIGKILLed in the step-4 save before its COMPLETE marker; the re-run resumes from the DCP checkpoint of
    step 2 and ends like the uninterrupted run of the fixture, bit for bit."""
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.split("  - {name: misa")[0])  # the LISA run only
    cli = [
        "-m",
        "core.running.experiment",
        str(tmp_path / "exp.yaml"),
        "--profile",
        "cpu",
        "sharding=fsdp2",
        "batch_size=2",
    ]
    cut = launch(cli, tmp_path, 2, kill="ckpt_save:2")
    run = tmp_path / "test" / "fsdp" / "cpu" / "lisa-s0"
    assert cut.returncode != 0 and not (run / "result.json").exists()
    ckpts = run / "checkpoints"
    assert (ckpts / "checkpoint-2" / "COMPLETE").exists() and not (
        ckpts / "checkpoint-4" / "COMPLETE"
    ).exists()
    assert (ckpts / "checkpoint-2" / "dcp_model").is_dir() and (
        ckpts / "checkpoint-2" / "dcp_optimizer"
    ).is_dir()
    resumed = launch(cli, tmp_path, 2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "checkpoint-4: its save was interrupted" in resumed.stdout
    ref = sharded_and_reference["lisa"][0]
    assert losses(run) == losses(ref)  # bit for bit
    a, b = (json.loads((d / "result.json").read_text()) for d in (ref, run))
    assert a["lisa_history"] == b["lisa_history"] and len(a["lisa_history"]) == 4
    assert a["eval_loss"] == b["eval_loss"]


@pytest.mark.parametrize(
    "over, message",
    [
        ({"method": "mezo"}, "MeZO is not sharded here"),
        ({"method": "galore"}, "supported for full, lora"),
        ({"probe_every": 2}, "probe_every=2 with sharding=fsdp2"),
        ({"method": "badam", "save_every": 2}, "not BlockOptimizer's block position"),
        ({"sharding": "fsdp"}, "sharding='fsdp' is not known (did you mean fsdp2"),
    ],
)
def test_sharding_config_errors(over, message, tiny_cfg):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        tiny_cfg(**{"sharding": "fsdp2", **over})


def test_data_parallel_mezo_matches_one_process_on_the_full_batch(sharded_and_reference):
    """Each rank probes its half of the batch; one all-reduce of (n·L+, n·L−, n) per step makes the 2-process
    run the 1-process batch-4 run (the losses are weighted by each rank's response-token count)."""
    two, one = sharded_and_reference["mezo"]
    rows2 = [r for r in read_jsonl(two / "metrics.jsonl") if "loss" in r]
    rows1 = [r for r in read_jsonl(one / "metrics.jsonl") if "loss" in r]
    assert len(rows1) == len(rows2) == 20
    assert [r["loss"] for r in rows2] == pytest.approx([r["loss"] for r in rows1], rel=1e-5)
    assert {r["zo_allreduce_bytes"] for r in rows2} == {24} and "zo_allreduce_bytes" not in rows1[0]
    assert len({r["projected_grad"] for r in rows1}) == 20  # a real trajectory: every step its own g


def test_predicted_memory_per_rank_shards_state_and_adds_the_gathered_units():
    from core.costs.memory import PAPER_MODELS, param_counts, predict_memory

    spec = PAPER_MODELS["llama-2-7b"]
    one, four = (predict_memory(spec, "lisa", 1, 512, ranks=n) for n in (1, 4))
    for key in ("weights", "grads", "optimizer"):
        assert four[key] == pytest.approx(one[key] / 4)
    assert four["activations"] == one["activations"]  # per-rank batch
    pc = param_counts(spec)
    assert (
        four["gathered"] == (pc["embed"] + pc["head"] + pc["norm"] + pc["layer"]) * 4
    )  # root + one layer, fp32
    assert one["gathered"] == one["unsharded_grads"] == 0
    assert one["total"] > four["total"] > one["total"] / 4


def test_accelerate_fsdp2_config_gives_the_intended_plugin(monkeypatch):
    """The shipped accelerate config (CUDA only, not run here) turns, through accelerate's own launcher code, into an
    FSDP2 plugin wrapping each LlamaDecoderLayer, resharding after forward, with sharded (DCP) checkpoints."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    from core.training.fsdp import FSDP2_CONFIG

    argv = ["--config_file", str(FSDP2_CONFIG), "-m", "core.running.experiment", "exp.yaml"]
    args = _validate_launch_command(launch_command_parser().parse_args(argv))[0]
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true" and args.num_processes == 4
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.transformer_cls_names_to_wrap == ["LlamaDecoderLayer"]
    assert "SHARDED_STATE_DICT" in str(plugin.state_dict_type)
    assert plugin.auto_wrap_policy.__name__ == "transformer_auto_wrap_policy"

"""Every profile of every MISA config loads; the default profile (`cpu`, the deciding design) has the design of
papers/misa/README.md "Scale": past the warm-up, the seven arms, 5 seeds (full FT 3), 256 test items, per-method lr
probes, convergence probes; the retired `cpu16` (v002) and `cpu64` (64 items, 3 seeds) keep their committed runs; the
budget arithmetic of papers.misa.budget on known inputs."""

from pathlib import Path

import pytest

from core.training.experiment_file import load_experiment
from core.training.sampling import ModuleImportanceSampler
from papers.misa.budget import lr_probe_runs, n_probes, predict

CONFIGS = sorted((Path(__file__).parent.parent / "papers" / "misa" / "configs").glob("*.yaml"))
PROFILES = ("cpu16", "cpu64", "cpu", "quick", "gpu", "paper")
ARMS = {"zero_shot", "full", "lora", "lisa", "badam", "misa", "misa_uniform"}


def runs(experiment: str, profile: str):
    return load_experiment(next(p for p in CONFIGS if p.stem == experiment), profile)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_profile_loads(path, profile, monkeypatch):
    if profile == "paper":
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # paper models are hub ids (as tests/test_config.py)
    if path.stem in ("accuracy_sentiment", "convergence") and profile in ("cpu", "cpu64", "quick", "gpu"):
        pytest.skip("v002 configs: cpu16 and paper profiles only")
    if path.stem == "pretrain" and profile in ("cpu16", "cpu64", "paper"):
        pytest.skip("the C4 stand-in is new (cpu, quick, gpu); no paper-scale model or corpus offline")
    for cfg in load_experiment(path, profile):
        assert cfg.paper == "misa" and cfg.max_steps > 0


def smollm2_block_sizes():
    """SmolLM2-135M: 30 layers of q, k, v, o (576x576, 576x192 twice, 576x576) and gate, up, down (576x1536)."""
    layer = [576 * 576, 576 * 192, 576 * 192, 576 * 576, 576 * 1536, 576 * 1536, 1536 * 576]
    return layer * 30, 134_515_008


def test_committed_runs_of_both_designs_count_as_finished():
    """The retired cpu16 (v002) and cpu64 and the default cpu profile: every committed run matches its config."""
    from core.infra.io import RESULTS
    from core.running.lr_probe import with_selected_lr
    from core.training.run import run_dir, run_status

    for exp, profile in [(e, "cpu16") for e in ("accuracy_math", "accuracy_sentiment", "convergence")] + [
        ("accuracy_math", "cpu64"),
        ("accuracy_math", "cpu"),
        ("pretrain", "cpu"),
    ]:
        cfgs = with_selected_lr(runs(exp, profile), profile)
        assert cfgs and all(run_status(run_dir(c, profile, RESULTS), c) == "done" for c in cfgs)


def test_cpu_profile_runs_past_the_warm_up_with_every_arm():
    cfgs = runs("accuracy_math", "cpu")
    by = {}
    for c in cfgs:
        by.setdefault(c.name, []).append(c)
    assert set(by) == ARMS
    assert all(len({c.seed for c in by[a]}) == 5 for a in ARMS - {"zero_shot", "full"})
    assert {c.seed for c in by["full"]} == {0, 1, 2} and {c.seed for c in by["zero_shot"]} == {0}
    assert all(c.test_limit == 256 for c in cfgs)
    sizes, total = smollm2_block_sizes()
    sampler = ModuleImportanceSampler(sizes, budget=0.03, total=total, period=10, sample_last=2)
    warm = 0
    while -1 in sampler.last_used:  # reference warm-up: one re-selection per step
        sampler.sample()
        warm += 1
    assert warm == 27  # the committed runs' switch_history: steps 0 ... 26
    misa = by["misa"][0]
    assert misa.misa.interval == 10 and misa.max_steps >= 200 and misa.misa.eta == 1.0
    periods = [s for s in range(warm, misa.max_steps) if s % misa.misa.interval == 0]
    assert len(periods) == 17  # importance draws at 30, 40, ..., 190
    uniform = by["misa_uniform"][0]
    assert uniform.misa.eta == 0.0 and uniform.lr_probe.source == "accuracy_math.misa"
    assert {k: v for k, v in uniform.to_dict().items() if k not in ("name", "misa", "lr_probe")} == {
        k: v for k, v in misa.to_dict().items() if k not in ("name", "misa", "lr_probe")
    }
    assert by["lisa"][0].lisa.gamma == 1 and by["badam"][0].badam.interval == 10
    assert all(c.lr_probe.grid or c.lr_probe.source for a in ARMS - {"zero_shot"} for c in by[a])
    assert all(c.probe_every == 25 for c in cfgs)


def test_gpu_profile_runs_the_same_arms_longer_plus_dora():
    cpu, gpu = runs("accuracy_math", "cpu"), runs("accuracy_math", "gpu")
    assert {c.name for c in gpu} == {c.name for c in cpu} | {"dora"} == ARMS | {"dora"}
    assert min(c.max_steps for c in gpu) > max(c.max_steps for c in cpu)
    assert next(c for c in gpu if c.name == "dora").lr_probe.source == "accuracy_math.lora"
    assert all(not c.max_steps > 16 for c in runs("accuracy_math", "quick"))


def test_pretrain_stand_in_uses_the_c4_script_settings():
    cfgs = runs("pretrain", "cpu")
    assert {c.name for c in cfgs} == {"adam", "galore", "misa"} and {c.seed for c in cfgs} == {0, 1, 2}
    m = next(c for c in cfgs if c.name == "misa").misa
    assert (m.budget, m.eta, m.interval, m.train_embeddings, m.train_head) == (0.25, 500.0, 50, True, True)


def test_budget_arithmetic_on_known_inputs():
    cfgs = runs("accuracy_math", "cpu")
    arms = {f"accuracy_math.{c.name}": {"step_s": 1.0, "overhead_s": 10.0, "probe_s": 2.0} for c in cfgs}
    assert n_probes(cfgs[1]) == 9 and n_probes(cfgs[0]) == 0  # zero_shot trains nothing
    # 28 training runs (5 arms x 5 seeds + full FT x 3) x (200 steps + 10 s + 9 probes x 2 s) + zero_shot 10 s
    # lr probes: 4 grids of 4 lrs + LoRA's 3, x (30 steps + 10 s); misa_uniform reuses misa's selection
    assert len(lr_probe_runs(cfgs)) == 19
    out = predict(cfgs, arms, {"install": 180.0})
    assert out["runs_s"] == 28 * (200 + 10 + 18) + 10
    assert out["lr_probes_s"] == 19 * 40
    assert out["total_s"] == out["runs_s"] + out["lr_probes_s"] + 180.0


def test_cpu_is_cpu64_with_256_test_items_and_5_seeds_per_primary_arm():
    """Issue #32's design: the 64-item design's runs (same settings and lrs) scored on 256 test items, seeds 0-4 for
    every arm of a primary comparison, full FT 0-2 (a secondary row), one zero-shot evaluation."""
    from core.running.lr_probe import with_selected_lr

    old = {(c.name, c.seed): c for c in with_selected_lr(runs("accuracy_math", "cpu64"), "cpu64")}
    new = {(c.name, c.seed): c for c in with_selected_lr(runs("accuracy_math", "cpu"), "cpu")}
    primary = {"lora", "lisa", "badam", "misa", "misa_uniform"}  # the arms of MISA's primary comparisons
    assert set(new) == {(a, s) for a in primary for s in range(5)} | {("full", s) for s in range(3)} | {
        ("zero_shot", 0)
    }
    for key, c in old.items():
        assert new[key].test_limit == 256 and c.test_limit == 64
        assert {k: v for k, v in new[key].to_dict().items() if k != "test_examples"} == {
            k: v for k, v in c.to_dict().items() if k != "test_examples"
        }, key


def test_cpu_retrains_the_cpu64_runs():
    """Every cpu run at seeds 0-2 retrains the cpu64 run of its seed (same config, data order and
    sampler seeds) and scores 192 more test items. Where both ran on the same torch CPU kernels (manifest
    `torch_blas.cpu_capability`) the results are the same bit for bit, answers on the first 64 items included. Across
    kernels (the cpu runs ran on an AVX2 machine, the 64-item ones on AVX-512) only what does not depend on
    rounding is the same: the steps, LISA's and BAdam's layer draws (seeded generators) and MISA's warm-up sweep
    (steps 0-26); MISA's later draws follow the gradient norms, and the losses and answers differ by the rounding
    the training amplifies (measured in LOG.md 17: up to 6 % in validation loss, 6 of 64 answers, MISA seed 0)."""
    from core.infra.io import RESULTS
    from core.infra.results import load_json

    root = RESULTS / "misa" / "accuracy_math"
    made = [(c.name, c.seed) for c in runs("accuracy_math", "cpu64")]
    assert len(made) == 19
    for name, seed in made:
        old, new = (root / p / f"{name}-s{seed}" for p in ("cpu64", "cpu"))
        a, b = load_json(old / "result.json"), load_json(new / "result.json")
        assert (a["steps"], a["test_n"], b["test_n"]) == (b["steps"], 64, 256)
        kernels = {
            load_json(d / "manifest.json")["machine"]["torch_blas"]["cpu_capability"] for d in (old, new)
        }
        if len(kernels) == 1:
            keys = ("eval_loss", "final_train_loss", "switch_history", "lisa_history", "score_history")
            assert {k: b.get(k) for k in keys} == {k: a.get(k) for k in keys}, (name, seed)
            assert b["test_correct"][:64] == a["test_correct"], (name, seed)
        elif name.startswith("misa"):
            warm_up = [h for h in a["switch_history"] if h["step"] < 27]
            assert len(warm_up) == 27 and b["switch_history"][:27] == warm_up, (name, seed)
        else:
            assert (b["switch_history"], b["lisa_history"]) == (a["switch_history"], a["lisa_history"]), (
                name,
                seed,
            )

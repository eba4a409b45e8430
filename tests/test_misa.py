"""MISA study pieces: budgeted variance formulas, inclusion frequencies, module blocks, the convergence probe,
BAdam as a Trainer method, the MISA/BAdam memory model and the variance analysis on known inputs."""

import json

import numpy as np
import pytest
import torch

from core.analysis.block_variance import inclusion_variance, optimal_inclusion, unreweighted_error
from core.analysis.stats import bootstrap_ratio_ci
from core.costs.memory import ArchSpec, param_counts, predict_memory
from core.sources.layers import find_blocks, module_blocks
from core.training.sampling import UniformLayerSampler, inclusion_frequencies


def test_unreweighted_error_is_the_missed_mass():
    sq = np.array([4.0, 1.0, 0.0, 9.0])
    assert unreweighted_error(sq, [1, 1, 1, 1]) == 0.0
    assert unreweighted_error(sq, [0, 0, 0, 0]) == 14.0
    assert unreweighted_error(sq, [0.5, 0.25, 1, 0]) == pytest.approx(2 + 0.75 + 9)


def test_optimal_inclusion_meets_budget_and_beats_alternatives():
    rng = np.random.default_rng(0)
    sq = rng.gamma(0.5, size=40) ** 2
    sizes = rng.integers(10, 100, size=40)
    for budget in (0.05, 0.2, 0.6):
        pi = optimal_inclusion(sq, sizes, budget)
        assert np.all((pi > 0) & (pi <= 1))
        assert np.sum(pi * sizes) == pytest.approx(budget * sizes.sum(), rel=1e-9)
        best = inclusion_variance(np.sqrt(sq)[:, None], pi)
        uniform = np.full(40, budget)  # same expected budget, uniform inclusion
        assert best <= inclusion_variance(np.sqrt(sq)[:, None], uniform) + 1e-12
        for _ in range(20):  # random feasible perturbations never do better
            w = rng.uniform(0.5, 1.5, size=40) * pi
            w = np.minimum(1, w * budget * sizes.sum() / np.sum(w * sizes))
            if abs(np.sum(w * sizes) - budget * sizes.sum()) < 1e-9 * sizes.sum():
                assert best <= inclusion_variance(np.sqrt(sq)[:, None], w) + 1e-9
    # equal sizes and norms -> uniform; a budget of 1 -> everything always included (zero variance)
    assert np.allclose(optimal_inclusion(np.ones(5), np.ones(5), 0.4), 0.4)
    assert np.allclose(optimal_inclusion(sq, sizes, 1.0), 1.0)
    total = 2 * sizes.sum()  # budget as a fraction of a larger model
    pi = optimal_inclusion(sq, sizes, 0.1, total)
    assert np.sum(pi * sizes) == pytest.approx(0.1 * total)
    with pytest.raises(ValueError):
        optimal_inclusion(sq, sizes, 0.6, total)


def test_bootstrap_ratio_of_means():
    ratio, lo, hi = bootstrap_ratio_ci([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert (ratio, lo, hi) == (2.0, 2.0, 2.0)  # constant ratio: degenerate CI
    ratio, lo, hi = bootstrap_ratio_ci([1.0, 3.0], [1.0, 1.0])
    assert ratio == 2.0 and lo == 1.0 and hi == 3.0
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([1.0], [1.0, 2.0])


def test_inclusion_frequencies_of_lisa_are_gamma_over_n():
    sampler = UniformLayerSampler(10, 3, seed=0)
    pi = inclusion_frequencies(sampler.sample, 10, draws=4000)
    assert pi.sum() == pytest.approx(3.0)
    assert np.all(np.abs(pi - 0.3) < 0.04)
    calls = []
    pi = inclusion_frequencies(lambda: calls.append(1) or [0], 3, draws=5, burn_in=2)
    assert len(calls) == 7 and list(pi) == [1.0, 0.0, 0.0]


def test_module_blocks_are_the_seven_matrices_per_layer(tiny_cfg):
    from core.sources.models import load_model

    model, _ = load_model("tiny-llama")
    blocks = module_blocks(model)
    n = find_blocks(model).n_layers
    assert len(blocks) == 7 * n
    assert all(w.dim() == 2 for w in blocks.values())
    assert {k.rsplit(".", 1)[-1] for k in blocks} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_probe_callback_leaves_training_untouched(tiny_cfg, tmp_path):
    """Same losses with and without the full-gradient probe; probes logged at 0, 2, 4, 6 (LISA run)."""
    from core.infra.io import read_jsonl
    from core.training.finetune import train

    a = train(tiny_cfg(method="lisa", lisa={"gamma": 1, "interval": 2}), tmp_path / "a")
    b = train(tiny_cfg(method="lisa", lisa={"gamma": 1, "interval": 2}, probe_every=2), tmp_path / "b")
    la = [r["loss"] for r in read_jsonl(tmp_path / "a" / "metrics.jsonl") if "loss" in r]
    lb = [r["loss"] for r in read_jsonl(tmp_path / "b" / "metrics.jsonl") if "loss" in r]
    assert la == lb and a["trainable_params_end"] == b["trainable_params_end"]
    probes = read_jsonl(tmp_path / "b" / "probes.jsonl")
    assert [p["step"] for p in probes] == [0, 2, 4, 6]
    assert all(p["full_grad_sq"] > 0 for p in probes)


def test_run_interrupted_before_any_checkpoint_restarts_with_clean_logs(tiny_cfg, tmp_path, monkeypatch):
    """No checkpoint -> training starts over at step 0, so its logs start over too (no duplicated step-0 probe)."""
    from transformers import TrainerCallback

    import core.training.finetune as ft
    from core.infra.io import read_jsonl

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt

    cfg = tiny_cfg(method="full", max_steps=4, probe_every=2)
    orig = ft.build_trainer

    def with_stop(c, o):
        trainer, tok, model = orig(c, o)
        trainer.add_callback(Stop())
        return trainer, tok, model

    monkeypatch.setattr(ft, "build_trainer", with_stop)
    with pytest.raises(KeyboardInterrupt):
        ft.train(cfg, tmp_path)
    assert [p["step"] for p in read_jsonl(tmp_path / "probes.jsonl")] == [0, 2]
    monkeypatch.setattr(ft, "build_trainer", orig)
    ft.train(cfg, tmp_path)
    assert [p["step"] for p in read_jsonl(tmp_path / "probes.jsonl")] == [0, 2, 4]
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]


def test_badam_trains_one_layer_at_a_time(tiny_cfg, tmp_path):
    from core.training.finetune import build_trainer

    cfg = tiny_cfg(method="badam", max_steps=4, badam={"interval": 2, "switch_mode": "ascending"})
    trainer, _, model = build_trainer(cfg, tmp_path)
    seen = []

    from transformers import TrainerCallback

    class Watch(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kw):
            layers = find_blocks(model).layers
            seen.append(
                [i for i, (_, m) in enumerate(layers) if any(p.requires_grad for p in m.parameters())]
            )

    trainer.add_callback(Watch())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    # BAdam switches when (steps done + 1) % K == 0, so its first block gets one step, then K each
    assert seen == [[0], [1], [1], [2]]
    changed = {
        n.split(".")[2]
        for n, p in model.named_parameters()
        if ".layers." in n and not torch.equal(p, before[n])
    }
    assert changed == {"0", "1", "2"}
    emb = find_blocks(model).embeddings[0][1].weight
    assert torch.equal(emb, before[find_blocks(model).embeddings[0][0] + ".weight"])


def test_memory_model_for_misa_and_badam():
    spec = ArchSpec("t", 1000, 64, 256, 8, 4, 4, False)
    pc = param_counts(spec)
    one_layer = predict_memory(spec, "badam", 2, 16)
    misa = predict_memory(spec, "misa", 2, 16, block_params=pc["layer"])
    assert one_layer["trainable_params"] == misa["trainable_params"] == pc["layer"]
    assert one_layer["optimizer"] - misa["optimizer"] == pc["layer"] * 4  # BAdam's fp32 master copy
    low = predict_memory(spec, "misa", 2, 16, block_params=pc["layer"], lowest_layer=0)
    high = predict_memory(spec, "misa", 2, 16, block_params=pc["layer"], lowest_layer=7)
    assert high["activations"] < low["activations"]  # nothing recorded below the lowest layer
    assert predict_memory(spec, "misa", 2, 16, budget=0.5)["trainable_params"] > misa["trainable_params"]
    assert misa["tied_grad_temporary"] == 0


def test_misa_memory_model_matches_measurement_on_tiny():
    from core.costs.bench import PROFILES, bench_method

    row = bench_method("misa", dict(PROFILES["tiny"], budget=0.1), "cpu")
    assert abs(row["predicted_peak_mb"] / row["peak_mb"] - 1) < 0.15
    assert row["trainable_params"] == row["block_params"] > 0


def test_variance_analysis_on_constructed_gradients():
    """Two layers x two modules; the equal-budget table reproduces hand-computed variances. (The optimal
    inclusion is optimal for the mean block norms, so two identical batches make it optimal for each.)"""
    from papers.misa.variance import (
        closed_vs_monte_carlo,
        equal_budget_table,
        lisa_monte_carlo,
        single_block_table,
    )

    data = {
        "sizes": [10, 10, 10, 10],
        "layer": [0, 0, 1, 1],
        "n_layers": 2,
        "total_params": 40,
        "per_batch": [{"blocks": [4.0, 1.0, 1.0, 0.0]}, {"blocks": [4.0, 1.0, 1.0, 0.0]}],
    }
    table = equal_budget_table(data, draws=400)["gamma1"]
    assert table["budget"] == 0.5
    lisa = table["layer_uniform (LISA)"]
    # pi = 1/2 everywhere -> variance = sum(sq) * (1/pi - 1) = ||g||^2 = 6; missed mass 3
    assert table["grad_sq"] == [6.0, 6.0]
    assert lisa["variance"] == pytest.approx([6.0, 6.0])
    assert lisa["unreweighted_error"] == pytest.approx([3.0, 3.0])
    assert table["module_uniform"]["used_budget"] == pytest.approx(0.5)  # two of four equal blocks per draw
    opt = table["module_optimal (pi ~ |g|/sqrt(n))"]
    assert all(o < v for o, v in zip(opt["variance"], lisa["variance"]))
    sq = np.array([4.0, 1.0, 1.0, 0.0])
    mc = lisa_monte_carlo(data, sq, 1, n=3000)
    assert mc["closed"] == pytest.approx(1.0) and mc["lo"] <= 1.0 <= mc["hi"]
    one = closed_vs_monte_carlo(sq, {"uniform": np.full(4, 0.25)})["uniform"]
    assert one["closed"] == pytest.approx((4 * 6 - 6) / 6)  # (Σ s_b / p − ‖g‖²)/‖g‖²
    assert one["lo"] <= one["closed"] <= one["hi"]
    single = single_block_table(sq[None, :], etas=(0.0,))
    assert single["exp_eta0"][0] == pytest.approx(3.0)
    assert single["optimal"][0] == pytest.approx(((2 + 1 + 1) ** 2 - 6) / 6)
    json.dumps(table)


def test_misa_seed_changes_the_draws_after_the_warm_up():
    """The sampler is seeded by the run seed: the reference warm-up (never-used blocks first, in index order) is the
    same for every seed, the importance draws after it are not; the same seed repeats its sequence exactly."""
    from core.training.sampling import ModuleImportanceSampler

    def draws(seed, n=30):
        s = ModuleImportanceSampler([10] * 20, budget=0.1, seed=seed, period=1, sample_last=0)
        out = []
        for _ in range(n):
            chosen = s.sample()
            s.update({b: 1.0 + b / 10 for b in chosen})
            out.append(chosen)
        return out

    a, b = draws(0), draws(1)
    assert a[:10] == b[:10] == [[2 * i, 2 * i + 1] for i in range(10)]  # warm-up: 2 blocks per draw, 10 draws
    assert a[10:] != b[10:]
    assert draws(0) == a


def test_misa_runs_of_two_seeds_switch_differently_past_the_warm_up(tiny_cfg, tmp_path):
    """End to end through the Trainer: switch_history of seeds 0 and 1 agree on the warm-up sweep and differ after."""
    from core.training.finetune import train

    cfg = dict(method="misa", max_steps=24, misa={"budget": 0.1, "interval": 2, "sample_last": 0})
    runs = [train(tiny_cfg(seed=s, **cfg), tmp_path / f"s{s}") for s in (0, 1)]
    hist = [[tuple(h["active"]) for h in r["switch_history"]] for r in runs]
    n_blocks = 28
    seen, warm = set(), 0
    for active in hist[0]:  # the sweep ends once every block was active
        seen |= set(active)
        warm += 1
        if len(seen) == n_blocks:
            break
    assert warm < len(hist[0]) - 3
    assert hist[0][:warm] == hist[1][:warm]
    assert hist[0][warm:] != hist[1][warm:]


def test_dora_is_peft_lora_with_magnitudes(tiny_cfg, tmp_path):
    """`method: dora` = peft LoraConfig(use_dora=True): at initialisation the model is the base model (same first
    loss as LoRA), it adds one magnitude per output feature of every adapted linear (Σ out = 4 layers × (64 + 32 +
    32 + 64 + 128 + 128 + 64) = 2048 on tiny-llama) and it trains to different losses than LoRA."""
    from core.infra.io import read_jsonl
    from core.training.finetune import train

    res = {m: train(tiny_cfg(method=m, max_steps=4, lr=1e-2), tmp_path / m) for m in ("lora", "dora")}
    loss = {m: [r["loss"] for r in read_jsonl(tmp_path / m / "metrics.jsonl") if "loss" in r] for m in res}
    assert loss["dora"][0] == pytest.approx(loss["lora"][0], rel=1e-6)
    assert loss["dora"][1:] != pytest.approx(loss["lora"][1:], rel=1e-6)
    assert loss["dora"][-1] < loss["dora"][0]
    assert res["dora"]["trainable_params_end"] - res["lora"]["trainable_params_end"] == 2048

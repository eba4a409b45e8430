"""MeZO / Sparse MeZO through the Trainer (core.training.trainers), the encoder classifier, magnitude bands, the
noise study and the ZO memory model."""

import json
import math
import shutil

import pytest
import torch
from conftest import run_interrupted_and_resumed
from transformers import TrainerCallback

import core.training.finetune as ft
from core.costs.memory import PAPER_MODELS, predict_memory
from core.infra.io import atomic_write_json, read_json, read_jsonl
from core.training.checks import run_config
from core.training.config import ConfigError
from core.training.experiment_file import load_experiment
from core.training.zo import MagnitudeBand, MagnitudeMask, RandomMask
from core.training.zo_replay import (
    RECORD_DIR,
    is_weight_file,
    last_record,
    rebuild_checkpoint,
    rebuilt_by_save_model,
)


def test_sparse_mezo_resume_is_bit_exact_and_same_seed_repeats(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="mezo", max_steps=6, save_every=3, lr=1e-3, task="sentiment", zo={"sparsity": 0.5})
    _, _, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and len(ref) == 6
    ft.train(cfg, tmp_path / "again")
    assert [r["loss"] for r in ft.read_jsonl(tmp_path / "again" / "metrics.jsonl") if "loss" in r] == ref


def test_zo_trainer_keeps_no_gradient_and_no_optimizer_state(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="mezo", max_steps=3, zo={"sparsity": 0.8})
    trainer, _, model = ft.build_trainer(cfg, tmp_path)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    assert all(p.grad is None for p in model.parameters())
    assert len(trainer.optimizer.state) == 0
    mask = trainer.spsa.mask
    for n, p in model.named_parameters():  # entries above the start threshold never move
        big = before[n].abs() > mask.thresholds[n][1]
        assert torch.equal(p.detach()[big], before[n][big])
    assert any(not torch.equal(p.detach(), before[n]) for n, p in model.named_parameters())


def test_zo_on_lora_moves_only_adapters(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="mezo", max_steps=2, lr=1e-2, zo={"lora": True, "eps": 1e-2})
    trainer, _, model = ft.build_trainer(cfg, tmp_path)
    names = [n for n, _ in trainer.spsa.params]
    assert names and all("lora_" in n for n in names)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert moved and all("lora_" in n for n in moved)


def test_resuming_a_zo_run_without_its_state_is_a_clear_error(tmp_path, tiny_cfg):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise KeyboardInterrupt

    cfg = tiny_cfg(method="mezo", max_steps=4, save_every=2)
    trainer, _, _ = ft.build_trainer(cfg, tmp_path)
    trainer.add_callback(Interrupt())
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    ckpt = ft.last_checkpoint(tmp_path)
    (ckpt / "zo_state.json").unlink()
    with pytest.raises(FileNotFoundError, match="random directions cannot be continued"):
        ft.build_trainer(cfg, tmp_path)[0].train(resume_from_checkpoint=str(ckpt))


def test_nonfinite_zo_loss_stops_as_diverged_and_logs_the_projected_gradient(tmp_path, tiny_cfg):
    result = ft.train(tiny_cfg(method="mezo", max_steps=6, lr=1e12), tmp_path)
    assert result["status"] == "diverged" and result["reason"].startswith("non-finite loss nan")
    assert read_json(tmp_path / "result.json")["diverged_at"] == result["steps"] < 6
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if "loss" in r]
    assert len(rows) == result["steps"] and all("grad_norm" not in r for r in rows)
    assert rows[0]["projected_grad"] != 0 and math.isfinite(rows[0]["projected_grad"])
    assert not (tmp_path / "checkpoints").exists()


def test_zo_config_errors():
    with pytest.raises(ConfigError, match="grad_accum = 1"):
        run_config({"method": "mezo", "grad_accum": 2})
    with pytest.raises(ConfigError, match="zo.mask"):
        run_config({"method": "mezo", "zo": {"mask": "largest"}})
    with pytest.raises(ConfigError, match="zo.sparsity"):
        run_config({"method": "mezo", "zo": {"sparsity": 1.0}})


def test_runs_may_set_their_own_seeds(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "paper: t\nprofiles: {cpu: {}}\nruns: [{name: a, method: zero_shot, seeds: [0]}, {name: b}]\n"
        "seeds: [0, 1, 2]\n"
    )
    assert [(c.name, c.seed) for c in load_experiment(path)] == [("a", 0), ("b", 0), ("b", 1), ("b", 2)]


def test_encoder_classifier_scores_are_scaled_cosines_and_accuracy_matches(tmp_path, tiny_cfg):
    from core.sources.encoder_cls import classifier_accuracy

    cfg = tiny_cfg(model="tiny-bert", method="zero_shot", task="sentiment", max_length=32)
    trainer, _, model = ft.build_trainer(cfg, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    out = model(**batch)
    assert out.logits.shape == (6, 2) and out.logits.abs().max() <= 1 / model.temperature + 1e-4
    assert math.isclose(
        float(out.loss), float(torch.nn.functional.cross_entropy(out.logits, batch["labels"])), rel_tol=1e-6
    )
    acc = classifier_accuracy(
        model, trainer.data_collator, trainer.train_dataset.select(range(6)), batch_size=4
    )
    assert acc["correct"] == (out.logits.argmax(-1) == batch["labels"]).int().tolist()


@pytest.mark.parametrize(
    "method,extra",
    [("full", {}), ("lora", {"lr": 1e-2}), ("mezo", {"zo": {"sparsity": 0.8, "mask": "random"}})],
)
def test_encoder_runs_end_to_end_with_validation_curve(tmp_path, tiny_cfg, method, extra):
    cfg = tiny_cfg(model="tiny-bert", method=method, task="entailment", max_steps=4, eval_every=2, **extra)
    result = ft.train(cfg, tmp_path)
    assert result["test_n"] == 8 and 0 <= result["test_accuracy"] <= 1
    curve = [r["step"] for r in ft.read_jsonl(tmp_path / "metrics.jsonl") if "eval_accuracy" in r]
    assert curve[:2] == [2, 4]


def test_magnitude_bands_partition_each_tensor_and_mask_thresholds_are_fixed():
    w = torch.randn(50, 40)
    bands = [MagnitudeBand(lo, hi) for lo, hi in ((0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1))]
    masks = torch.stack([b("w", w) for b in bands])
    assert torch.equal(masks.sum(0), torch.ones_like(w, dtype=torch.long))  # every entry in exactly one band
    assert masks.flatten(1).sum(1).tolist() == [400] * 5
    mask = MagnitudeMask(0.8)
    keep = mask("w", w)
    assert int(keep.sum()) == 400
    h = mask.thresholds["w"][1]
    grown = w * 2  # weights grow: fewer stay under h
    assert torch.equal(mask("w", grown), grown.abs() <= h) and int(mask("w", grown).sum()) < 400
    fresh = MagnitudeMask(0.8)
    fresh.load_state_dict(json.loads(json.dumps(mask.state_dict())))
    assert torch.equal(fresh("w", grown), mask("w", grown))
    r = RandomMask(0.8, seed=3)
    assert int(r("w", w).sum()) == 400 and torch.equal(r("w", w), RandomMask(0.8, seed=3)("w", grown))


def test_zo_memory_model_is_inference_plus_one_row_group():
    from core.training.zo import GROUP
    from core.training.zo_stream import BLOCK

    spec = PAPER_MODELS["llama-7b"]
    kw = dict(weight_bytes=2, act_bytes=2)
    inf, mezo, sparse, rand = (
        predict_memory(spec, m, 16, 256, **kw) for m in ("inference", "mezo", "sparse_mezo", "random_mezo")
    )
    head_rows = GROUP // spec.hidden  # the LM head's output, one row group at a time
    assert mezo["total"] - inf["total"] == GROUP * 2 + 16 * 256 * head_rows * 2 + 2 * BLOCK * 4
    assert sparse["total"] == mezo["total"]  # the mask is computed per block
    n = predict_memory(spec, "full", 16, 256, **kw)["trainable_params"]
    assert rand["total"] - mezo["total"] == (n + 7) // 8  # R-MeZO's mask: one bit per weight
    assert mezo["grads"] == mezo["optimizer"] == 0
    assert mezo["total"] < 1.01 * inf["total"] < predict_memory(spec, "lora", 16, 256, **kw)["total"]


def test_noise_study_tiny_profile_and_its_notebook(tmp_path, monkeypatch):
    import papers.sparse_mezo.noise as noise
    from core.infra.io import REPO
    from core.reporting.figures import execute

    results = tmp_path / "results"
    monkeypatch.setattr("core.infra.paths.RESULTS", results)
    data = noise.collect("tiny")
    for res in data["models"].values():
        assert len(res["draws"]) == 3
        for d in res["draws"]:
            assert sum(d["count"]) == res["n_params"] and len(d["noise"]) == len(d["step"]) == 5
            assert len(d["noise_sym"]) == 5 and d["noise_sym"] != d["noise"]  # the antithetic mean
            assert all(e >= 0 for e in d["err"])
        # the quintiles partition the gradient: their ‖∇_b‖² add up to ‖∇L‖²
        assert math.isclose(sum(res["draws"][0]["grad_sq"]), res["grad_sq_total"], rel_tol=1e-6)
    from conftest import stage_claims_file

    stage_claims_file(results, "sparse_mezo", "tiny")
    rec = execute(
        REPO / "notebooks" / "src" / "sparse_mezo_noise.py", "sparse_mezo", "tiny", tmp_path / "out", results
    )
    assert set(rec["table"]) == {"tiny-llama", "tiny-bert"}
    llama = rec["table"]["tiny-llama"]
    assert len(llama["grad_share"]) == 5 and math.isclose(sum(llama["grad_share"]), 1.0, rel_tol=1e-6)
    assert all(t["interval"]["n"] == 3 for t in llama["tests"].values())  # the study's 3 draws, paired


def test_encoder_run_resumes_bit_exactly(tmp_path, tiny_cfg):
    """The verbalizer classifier is a plain nn.Module: the Trainer checkpoints its state dict, and resume works."""
    cfg = tiny_cfg(model="tiny-bert", method="full", task="sentiment", max_steps=4, save_every=2)
    _, _, ref, got = run_interrupted_and_resumed(cfg, tmp_path)
    assert got == ref and len(ref) == 4


def test_zo_memory_model_saves_no_attention_scores():
    """ZO probes run without autograd: the eager-attention scores a backward would need are never saved."""
    spec = PAPER_MODELS["llama-7b"]
    for method in ("mezo", "sparse_mezo"):
        with_scores = predict_memory(spec, method, 16, 256, attention_scores=True)
        assert with_scores["total"] == predict_memory(spec, method, 16, 256)["total"]
    assert (
        predict_memory(spec, "full", 16, 256, attention_scores=True)["activations"]
        > predict_memory(spec, "full", 16, 256)["activations"]
    )


def test_antithetic_noise_cancels_the_first_order_term():
    """For a loss linear in the weights, L(θ + σz) − L(θ) = σ∇ᵀz ≠ 0 but the antithetic mean is exactly 0 (up to
    rounding): what remains of noise_sym is curvature only (papers/sparse_mezo/noise.py)."""
    from types import SimpleNamespace

    from torch import nn

    from core.training.zo import SPSA
    from papers.sparse_mezo.noise import BANDS, perturbed_losses

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 1, bias=False)

        def forward(self, x):
            return SimpleNamespace(loss=self.lin(x).sum())

    torch.manual_seed(0)
    model, batch = Linear(), {"x": torch.randn(4, 64)}
    with torch.no_grad():
        base = float(model(**batch).loss)
    est = SPSA(model, eps=1e-3, seed=0)
    g, _ = est.estimate(lambda: model(**batch).loss)
    banded = [SPSA(model, eps=1e-2, mask=MagnitudeBand(lo, hi)) for lo, hi in BANDS]
    out = perturbed_losses(model, est, banded, batch, g, 1e-3, 1e-2, base)
    assert max(abs(x) for x in out["noise"]) > 1e-3
    assert max(abs(x) for x in out["noise_sym"]) < 1e-5


class Interrupt(TrainerCallback):
    def on_save(self, args, state, control, **kw):
        raise KeyboardInterrupt


def zo_losses(run):
    return [r["loss"] for r in read_jsonl(run / "metrics.jsonl") if "loss" in r]


def test_zo_run_resumes_bit_exactly_from_its_weight_free_record(tmp_path, tiny_cfg, monkeypatch):
    """A fresh clone keeps `zo_resume/` (committed) but not `checkpoints/` (git-ignored): θ is replayed."""
    cfg = tiny_cfg(method="mezo", max_steps=6, save_every=3, lr=1e-3, task="sentiment", zo={"sparsity": 0.5})
    full = ft.train(cfg, tmp_path / "full")
    build = ft.build_trainer

    def interrupted(c, out):
        trainer, tok, model = build(c, out)
        trainer.add_callback(Interrupt())  # after ReplayRecord: the record of step 3 is written
        return trainer, tok, model

    monkeypatch.setattr(ft, "build_trainer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ft.train(cfg, tmp_path / "cut")
    monkeypatch.setattr(ft, "build_trainer", build)
    record = tmp_path / "cut" / RECORD_DIR / "checkpoint-3"
    assert (record / "trainer_state.json").exists()
    assert not any(rebuilt_by_save_model(p) for p in record.iterdir())
    assert any(is_weight_file(p) for p in (tmp_path / "cut" / "checkpoints" / "checkpoint-3").iterdir())
    assert len(read_json(record / "zo_state.json")["updates"]) == 3
    shutil.rmtree(tmp_path / "cut" / "checkpoints")  # what a fresh clone lacks
    resumed = ft.train(cfg, tmp_path / "cut")
    assert (
        zo_losses(tmp_path / "cut") == zo_losses(tmp_path / "full") and len(zo_losses(tmp_path / "full")) == 6
    )
    assert resumed["eval_loss"] == full["eval_loss"]
    assert not (tmp_path / "cut" / RECORD_DIR).exists()  # a finished run keeps no resume point


def test_weight_free_record_without_the_whole_history_is_refused(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="mezo", max_steps=3, save_every=3, lr=1e-3)
    trainer, _, _ = ft.build_trainer(cfg, tmp_path)
    trainer.train()
    record = last_record(tmp_path)
    state = read_json(record / "zo_state.json")
    atomic_write_json(record / "zo_state.json", {**state, "updates": state["updates"][1:]})
    with pytest.raises(ValueError, match="2 recorded ZO updates for 3 steps"):
        rebuild_checkpoint(ft.build_trainer(cfg, tmp_path / "other")[0], tmp_path / "other", record)

"""LISA's profiles load and validate, and the cpu (default) and gpu profiles have the design that lets them decide:
every layer sampled >= 3 times in expectation, >= 3 paired seeds of FT / LoRA / LISA at probed lrs from the paper's
grid, a zero-shot run for the learnability gate, equal steps for the weight-norm comparison, ablations that differ
from the main LISA run in one setting only."""

from pathlib import Path

import pytest

from core.running.lr_probe import check, parse_grid
from core.training.experiment_file import load_experiment

CONFIGS = Path(__file__).resolve().parent.parent / "papers" / "lisa" / "configs"
PAPER_GRID = {5e-6, 1e-5, 5e-5, 3e-4, 6e-4}  # LISA App. B.1 / B.3 (6e-4 as printed)
SMOLLM2_LAYERS = 30


def runs(experiment: str, profile: str) -> dict:
    out = {}
    for cfg in load_experiment(CONFIGS / f"{experiment}.yaml", profile):
        check(cfg)
        out.setdefault(cfg.name, []).append(cfg)
    return out


@pytest.mark.parametrize("profile", ["cpu", "cpu20", "quick", "gpu", "paper"])
def test_every_profile_validates(profile, monkeypatch):
    if profile == "paper":
        monkeypatch.setenv(
            "HF_HUB_OFFLINE", "0"
        )  # paper models are hub ids, downloaded on a machine with a network
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert runs(path.stem, profile)


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_profile_can_decide(profile):
    main = runs("loss_curves", profile)
    assert {"full", "lora", "lisa", "zero_shot"} <= set(main)
    for name in ("full", "lora", "lisa"):
        seeds = [c.seed for c in main[name]]
        # every arm runs full FT's seeds (same seed = same data order); LISA may add seeds (Welch, issue #32)
        assert len(seeds) >= 3 and set(c.seed for c in main["full"]) <= set(seeds)
        assert name == "lisa" or seeds == [c.seed for c in main["full"]]
        assert set(parse_grid(main[name][0].lr_probe.grid)) <= PAPER_GRID
    lisa = main["lisa"][0]
    visits = lisa.max_steps / lisa.lisa.interval * lisa.lisa.gamma / SMOLLM2_LAYERS
    assert visits >= 3 and lisa.lisa.gamma == 2
    assert {c.max_steps for cs in main.values() for c in cs} == {lisa.max_steps}
    norms = runs("weight_norms", profile)
    assert (
        norms["smollm2_lora"][0].max_steps == main["full"][0].max_steps and main["full"][0].log_weight_norms
    )
    assert [c.seed for c in norms["smollm2_lora"]] == [c.seed for c in main["full"]]
    assert "embed_tokens" in norms["smollm2_lora"][0].lora.targets
    for experiment, fixed in (("layers_ablation", "interval"), ("K_ablation", "gamma")):
        for cfgs in runs(experiment, profile).values():
            cfg = cfgs[0]
            assert cfg.lr_probe.source == "loss_curves.lisa" and cfg.max_steps == lisa.max_steps
            assert getattr(cfg.lisa, fixed) == getattr(lisa.lisa, fixed)


def test_gpu_profile_is_batch_8_by_512_for_1000_steps():
    for cfgs in runs("loss_curves", "gpu").values():
        assert (cfgs[0].batch_size, cfgs[0].max_length, cfgs[0].model) == (8, 512, "smollm2-135m")
        assert cfgs[0].max_steps >= 1000


def test_cpu20_profile_is_the_retired_20_step_design():
    """`cpu20` keeps the settings of the retired results under `cpu20/` (figures v001-v003), so they can be
    re-made: 20 steps, K = 4, one lr per method, no probe."""
    main = runs("loss_curves", "cpu20")
    assert set(main) == {"full", "lora", "galore", "lisa"}
    assert {c.max_steps for cs in main.values() for c in cs} == {20} and main["lisa"][0].lisa.interval == 4
    assert all(not c.lr_probe.grid and not c.lr_probe.source for cs in main.values() for c in cs)

"""Shared fixtures: tiny models, isolated results folders, quiet logs."""

import os
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")


@pytest.fixture
def tiny_cfg():
    """A RunConfig for a few fast steps on the tiny Llama."""
    from core.training.checks import run_config

    def make(**over):
        base = dict(
            paper="test",
            experiment="unit",
            model="tiny-llama",
            task="instruct",
            max_steps=6,
            batch_size=2,
            max_length=48,
            eval_examples=8,
            train_examples=64,
            lr=1e-3,
        )
        base.update(over)
        return run_config(base)

    return make


def run_interrupted_and_resumed(cfg, root):
    """Train `cfg` once uninterrupted and once killed at its first checkpoint then resumed.

    Returns (uninterrupted result, resumed result, losses of each) for bit-exact resume checks.
    """
    from transformers import TrainerCallback

    import core.training.finetune as ft
    from core.infra.io import read_jsonl

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise KeyboardInterrupt

    def losses(d):
        return [r["loss"] for r in read_jsonl(d / "metrics.jsonl") if "loss" in r]

    full = ft.train(cfg, root / "full")
    orig = ft.build_trainer

    def interrupted(c, out):
        trainer, tok, model = orig(c, out)
        trainer.add_callback(Interrupt())
        return trainer, tok, model

    ft.build_trainer = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            ft.train(cfg, root / "cut")
    finally:
        ft.build_trainer = orig
    assert ft.last_checkpoint(root / "cut") is not None and not (root / "cut" / "result.json").exists()
    resumed = ft.train(cfg, root / "cut")
    return full, resumed, losses(root / "full"), losses(root / "cut")


def run_experiment_into(yaml_text: str, root):
    """Run the experiment `yaml_text` with every result under `root` (core.running.experiment's RESULTS redirected)."""
    import core.running.experiment as experiment

    cfg = root / "exp.yaml"
    cfg.write_text(yaml_text)
    old = experiment.RESULTS
    experiment.RESULTS = root
    try:
        assert experiment.main([str(cfg)]) == 0
    finally:
        experiment.RESULTS = old
    return root


def stage_claims_file(root, paper: str, profile: str = "cpu", verdict: str | None = None):
    """The committed claims file of `paper` (cpu) copied under `root` as `profile`'s: a figure reads its verdicts
    from there and never judges. With `verdict`, every claim's verdict is replaced by it, so that a test sees the
    figure carry exactly the file's word (a notebook that judged for itself would not)."""
    import json
    from pathlib import Path

    from core.infra.io import RESULTS
    from core.infra.paths import claims_path

    data = json.loads(claims_path(paper, "cpu", RESULTS).read_text())
    if verdict is not None:
        data["claims"] = {cid: verdict for cid in data["claims"]}
    path = claims_path(paper, profile, Path(root))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**data, "profile": profile}))
    return path

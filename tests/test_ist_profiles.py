"""Every profile of every IST config loads, and the compare_math profiles have the design issue #23 asks for."""

from pathlib import Path

import pytest
import yaml

from core.infra.io import REPO
from core.running import lr_probe
from core.training.experiment_file import load_experiment

CONFIGS = sorted((REPO / "papers" / "ist" / "configs").glob("*.yaml"))


def score_updates(cfg) -> int:
    """Probes run at the start of steps interval, 2·interval, ... < max_steps (not at step 0; the count is checked
    against real runs in tests/test_ist.py: 7 steps / interval 3 -> 2 updates)."""
    return (cfg.max_steps - 1) // cfg.ist.interval


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_profile_loads(path, monkeypatch):
    monkeypatch.setenv(
        "HF_HUB_OFFLINE", "0"
    )  # paper profiles name hub models (tests/test_config.py does the same)
    profiles = yaml.safe_load(Path(path).read_text())["profiles"]
    for profile in profiles:
        configs = load_experiment(path, profile)
        assert configs, f"{path.stem}/{profile} has no runs"
        for cfg in configs:
            lr_probe.check(cfg)


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_compare_math_decides(profile):
    configs = load_experiment(REPO / "papers" / "ist" / "configs" / "compare_math.yaml", profile)
    by = {}
    for c in configs:
        by.setdefault(c.name, []).append(c)
    assert {"lora", "ist", "ist_random", "ist_slr100"} <= set(by)
    assert by["zero_shot"][0].method == "zero_shot"  # the learnability gate's reference
    for name, runs in ((n, r) for n, r in by.items() if n != "zero_shot"):
        assert len({c.seed for c in runs}) >= 3 or name == "lisa", name  # seeds: data order and sampler
        assert all(c.max_steps >= 300 for c in runs)
        assert all(c.lr_probe.grid or c.lr_probe.source for c in runs), f"{name}: lr from a probe"
    ist = by["ist"][0]
    assert (
        score_updates(ist) >= 30 and ist.ist.interval == 10 and ist.ist.lr == 10.0
    )  # the reference's score lr
    assert by["ist_slr100"][0].ist.lr == 100.0
    random = by["ist_random"][0]
    assert random.ist.uniform and random.ist.update_frac == ist.ist.update_frac  # same fraction
    assert random.lr_probe.source == "compare_math.ist" == by["ist_slr100"][0].lr_probe.source
    for c in configs:  # only what selects the layers differs between the IST arms
        if c.method == "ist" and c.name != "dora_ist":  # DoRA + IST differs in the adapter (claim 8)
            same = {k: v for k, v in c.to_dict().items() if k not in ("name", "seed", "ist", "lr_probe")}
            ref = {k: v for k, v in ist.to_dict().items() if k not in ("name", "seed", "ist", "lr_probe")}
            assert same == ref
    assert all(c.lora.dropout == 0.05 and c.lr_scheduler == "linear" for c in configs)  # the reference's
    if profile == "gpu":
        assert {"lisa", "ist_keep", "dora_ist"} <= set(by) and not by["ist_keep"][0].ist.free_state
        assert by["dora_ist"][0].lora.dora and len(by["dora_ist"]) == 3  # claim 8's accuracy side
        assert ist.batch_size == 16 and ist.ist.probe_batch == 16 and ist.max_steps > 310  # longer than cpu

"""Every profile of every Sparse MeZO config loads, and compare_sentiment has the design issue #24 asks for
(the gpu profile is validated here because no GPU was lent to run it)."""

from pathlib import Path

import pytest
import yaml

from core.infra.io import REPO
from core.running import lr_probe
from core.training.experiment_file import load_experiment

FOLDER = REPO / "papers" / "sparse_mezo" / "configs"


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_profile_loads(path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # paper profiles name hub models
    for profile in yaml.safe_load(Path(path).read_text())["profiles"]:
        configs = load_experiment(path, profile)
        assert configs, f"{path.stem}/{profile} has no runs"
        for cfg in configs:
            lr_probe.check(cfg)


def by_name(profile: str) -> dict:
    out = {}
    for c in load_experiment(FOLDER / "compare_sentiment.yaml", profile):
        out.setdefault(c.name, []).append(c)
    return out


def test_cpu_profile_decides():
    by = by_name("cpu")
    zo = ["mezo", "s-mezo-0.8", "r-mezo-0.8", "s-mezo-0.5", "s-mezo-0.7", "s-mezo-0.9", "r-mezo-0.8-lr1e-4"]
    assert set(zo) | {"zero_shot", "full"} == set(by)
    for name in zo:
        runs = by[name]
        primary = name in ("mezo", "s-mezo-0.8", "r-mezo-0.8-lr1e-4")  # power.yaml's paired comparisons
        assert {c.seed for c in runs} == ({0, 1, 2, 3, 4} if primary else {0, 1, 2}), name
        c = runs[0]
        assert c.method == "mezo" and c.max_steps >= 2000
        assert c.lr_probe.grid or name.endswith("-lr1e-4")  # each its own lr; one sensitivity arm
        assert c.eval_every <= 100 and c.eval_examples >= 200 and c.test_limit == 500
        assert c.save_every and c.max_steps % c.save_every == 0  # resumable across sessions
    assert by["mezo"][0].zo.sparsity == 0
    assert (by["s-mezo-0.8"][0].zo.sparsity, by["s-mezo-0.8"][0].zo.mask) == (0.8, "magnitude")
    assert (by["r-mezo-0.8"][0].zo.sparsity, by["r-mezo-0.8"][0].zo.mask) == (0.8, "random")
    sensitivity = by["r-mezo-0.8-lr1e-4"][0]  # R-MeZO again, at a lower lr of its own probe grid
    assert (sensitivity.zo.sparsity, sensitivity.zo.mask) == (0.8, "random")
    assert sensitivity.lr in lr_probe.parse_grid(by["r-mezo-0.8"][0].lr_probe.grid)
    assert [by[f"s-mezo-{s}"][0].zo.sparsity for s in ("0.5", "0.7", "0.9")] == [0.5, 0.7, 0.9]
    ignore = ("name", "seed", "zo", "lr", "lr_probe")
    ref = {k: v for k, v in by["mezo"][0].to_dict().items() if k not in ignore}
    for name in zo:  # the ZO arms differ only in the mask and the lr
        assert {k: v for k, v in by[name][0].to_dict().items() if k not in ignore} == ref, name
        assert by[name][0].zo.eps == 1e-3
    assert len(by["full"]) == 3 and by["full"][0].lr_probe.grid  # the gate's baseline, with its own lr
    assert by["zero_shot"][0].method == "zero_shot"


def test_gpu_profile_is_smollm2_mezo_vs_s_mezo_for_5000_steps():
    by = by_name("gpu")
    assert {"mezo", "s-mezo-0.8"} <= set(by)
    for name in ("mezo", "s-mezo-0.8"):
        c = by[name][0]
        assert c.model == "smollm2-135m" and c.max_steps >= 5000 and c.lr_probe.grid
    assert by["s-mezo-0.8"][0].zo.sparsity == 0.8 and by["mezo"][0].zo.sparsity == 0

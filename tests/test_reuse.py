"""core.running.reuse: an experiment names another experiment's runs as arms only when the run configs are identical
except paper / experiment / name; otherwise one config error naming the first differing keys."""

from pathlib import Path

import pytest

from core.running.reuse import arm_dirs, differences, load
from core.training.config import ConfigError

SOURCE = """
paper: src
experiment: exp
base: {model: tiny-llama, task: instruct, max_steps: 3, batch_size: 2, max_length: 32, eval_examples: 4, lr: 1.0e-3}
profiles: {cpu: {}}
runs: [{name: full, method: full}, {name: lora, method: lora}]
seeds: [0, 1]
"""
ATLAS = """
paper: mine
experiment: atlas
base: {{model: tiny-llama, task: instruct, max_steps: 3, batch_size: 2, max_length: 32, eval_examples: 4, lr: 1.0e-3}}
profiles: {{cpu: {{}}, other: {{}}}}
runs: [{{name: full_ft, method: full{extra}}}, {{name: galore, method: galore}}]
seeds: {seeds}
reuse: {{cpu: {{full_ft: {ref}}}}}
"""


def files(tmp_path: Path, extra: str = "", seeds: str = "[0, 1]", ref: str = "src/exp.full") -> Path:
    (tmp_path / "papers" / "src" / "configs").mkdir(parents=True)
    (tmp_path / "papers" / "src" / "configs" / "exp.yaml").write_text(SOURCE)
    path = tmp_path / "atlas.yaml"
    path.write_text(ATLAS.format(extra=extra, seeds=seeds, ref=ref))
    return path


def test_identical_configs_are_replaced_by_the_sources(tmp_path):
    configs = load(files(tmp_path), "cpu", papers_dir=tmp_path / "papers")
    got = [(c.paper, c.experiment, c.name, c.seed) for c in configs]
    assert got == [
        ("src", "exp", "full", 0),
        ("src", "exp", "full", 1),
        ("mine", "atlas", "galore", 0),
        ("mine", "atlas", "galore", 1),
    ]
    # a profile without reuse entries runs its own arm
    assert {c.paper for c in load(tmp_path / "atlas.yaml", "other", papers_dir=tmp_path / "papers")} == {
        "mine"
    }


def test_overrides_reach_the_source_so_the_configs_stay_identical(tmp_path):
    configs = load(files(tmp_path), "cpu", {"max_steps": 2, "seed": 1}, papers_dir=tmp_path / "papers")
    assert [(c.paper, c.name, c.seed, c.max_steps) for c in configs][0] == ("src", "full", 1, 2)


def test_a_differing_config_is_refused_naming_the_key(tmp_path):
    path = files(tmp_path, extra=", max_steps: 4")
    with pytest.raises(
        ConfigError, match=r"reuse full_ft: src/exp.full \(seed 0\) differs in max_steps \(4 vs 3\)"
    ):
        load(path, "cpu", papers_dir=tmp_path / "papers")


def test_a_seed_the_source_lacks_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"src/exp.full has no seed 2 \(seeds \[0, 1\]\)"):
        load(files(tmp_path, seeds="[0, 1, 2]"), "cpu", papers_dir=tmp_path / "papers")


@pytest.mark.parametrize(
    "ref, message",
    [("src/exp.nope", "has no run 'nope'"), ("exp.full", "expected <paper>/<experiment>.<run>")],
)
def test_a_bad_reference_is_one_config_error(tmp_path, ref, message):
    with pytest.raises(ConfigError, match=message):
        load(files(tmp_path, ref=ref), "cpu", papers_dir=tmp_path / "papers")


def test_differences_list_nested_keys_and_ignore_the_names(tmp_path):
    a, b = load(files(tmp_path), "cpu", papers_dir=tmp_path / "papers")[0:3:2]  # src full vs mine galore
    assert differences(a, b) == ["method ('full' vs 'galore')"]


def test_arm_dirs_point_reused_arms_at_the_source_folders(tmp_path):
    dirs = arm_dirs(files(tmp_path), "cpu", tmp_path / "results", tmp_path / "papers")
    assert dirs["full_ft"] == [tmp_path / "results" / "src" / "exp" / "cpu" / f"full-s{s}" for s in (0, 1)]
    assert dirs["galore"][0] == tmp_path / "results" / "mine" / "atlas" / "cpu" / "galore-s0"


def test_the_atlas_reuses_misas_finished_runs():
    """The atlas's six reused arms are MISA's committed accuracy_math cpu runs (identical configs), all finished."""
    from core.infra.io import REPO, RESULTS

    dirs = arm_dirs(REPO / "papers" / "atlas" / "configs" / "atlas.yaml", "cpu")
    for arm in ("full", "lora", "lisa", "badam", "misa"):
        assert dirs[arm] == [RESULTS / "misa" / "accuracy_math" / "cpu" / f"{arm}-s{s}" for s in (0, 1, 2)]
        assert all((d / "result.json").exists() for d in dirs[arm])
    assert dirs["zero_shot"] == [RESULTS / "misa" / "accuracy_math" / "cpu" / "zero_shot-s0"]
    assert dirs["dora"][0] == RESULTS / "atlas" / "atlas" / "cpu" / "dora-s0"


def test_the_experiment_cli_refuses_with_one_config_error_line(tmp_path, monkeypatch, capsys):
    import core.running.reuse
    from core.running.experiment import main

    path = files(tmp_path, extra=", max_steps: 4")
    monkeypatch.setattr(core.running.reuse, "REPO", tmp_path)  # the sources are read from <REPO>/papers
    assert main([str(path), "--run", "full_ft"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("config error: reuse full_ft: src/exp.full (seed 0) differs")

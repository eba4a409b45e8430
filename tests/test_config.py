from pathlib import Path

import pytest
import yaml

from core.training.checks import run_config
from core.training.config import ConfigError, merge, parse_overrides
from core.training.experiment_file import load_experiment

REPO = Path(__file__).resolve().parent.parent


def test_unknown_key_names_key_and_close_match():
    with pytest.raises(ConfigError, match=r"unknown config key 'lisa.gama'.*gamma"):
        run_config({"lisa": {"gama": 2}})
    with pytest.raises(ConfigError, match=r"'learning_rate'.*valid"):
        run_config({"learning_rate": 1e-4})


def test_invalid_values_are_named():
    with pytest.raises(ConfigError, match="max_steps='ten': expected int"):
        run_config({"max_steps": "ten"})
    with pytest.raises(ConfigError, match="lisa.interval"):
        run_config({"lisa": {"interval": 0}})
    with pytest.raises(ConfigError, match="method='lisaa'.*lisa"):
        run_config({"method": "lisaa"})
    with pytest.raises(ConfigError, match="lm_eval_tasks.*'sft_math'.*sft_math_mc"):
        run_config({"lm_eval_tasks": "sft_math"})
    assert run_config({"lm_eval_tasks": "sft_math_mc"}).lm_eval_tasks == "sft_math_mc"


def test_overrides_parse_nested_and_typed():
    over = parse_overrides(["lisa.gamma=4", "lr=1e-5", "name=no"])
    assert over == {
        "lisa": {"gamma": "4"},
        "lr": "1e-5",
        "name": "no",
    }  # typed by the field: name stays a string
    assert run_config(over).name == "no"
    cfg = run_config(merge({"lisa": {"interval": 3}}, over))
    assert (cfg.lisa.gamma, cfg.lisa.interval, cfg.lr) == (4, 3, 1e-5)
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["gamma"])


def test_experiment_expands_runs_times_seeds(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "paper: p\nexperiment: e\nbase: {max_steps: 3}\nprofiles: {cpu: {lr: 0.5}, paper: {seeds: [7]}}\n"
        "runs: [{name: a, method: full}, {name: b, method: lisa}]\nseeds: [0, 1]\n"
    )
    cfgs = load_experiment(path, "cpu")
    assert [(c.name, c.seed, c.lr, c.max_steps) for c in cfgs] == [
        ("a", 0, 0.5, 3),
        ("a", 1, 0.5, 3),
        ("b", 0, 0.5, 3),
        ("b", 1, 0.5, 3),
    ]
    assert [c.seed for c in load_experiment(path, "paper")] == [7, 7]
    with pytest.raises(ConfigError, match="no profile 'gpu'"):
        load_experiment(path, "gpu")


def test_duplicate_run_names_rejected(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("profiles: {cpu: {}}\nruns: [{name: a}, {name: a, lr: 0.1}]\n")
    with pytest.raises(ConfigError, match="share a name"):
        load_experiment(path, "cpu")


@pytest.mark.parametrize(
    "path", sorted(REPO.glob("papers/*/configs/*.yaml")), ids=lambda p: f"{p.parent.parent.name}/{p.stem}"
)
@pytest.mark.parametrize("profile", ["cpu", "paper"])
def test_shipped_configs_validate(path, profile, monkeypatch):
    if profile == "paper":
        monkeypatch.setenv(
            "HF_HUB_OFFLINE", "0"
        )  # paper models are hub ids, downloaded on a machine with a network
    if (
        profile not in yaml.safe_load(path.read_text())["profiles"]
    ):  # e.g. a stand-in with no paper-scale setting
        pytest.skip(f"{path.stem} has no {profile} profile")
    cfgs = load_experiment(path, profile)
    assert cfgs and all(c.paper == path.parent.parent.name for c in cfgs)
    if profile == "paper":  # long runs checkpoint, so an interrupted one resumes instead of restarting
        assert all(0 < c.save_every < c.max_steps for c in cfgs)

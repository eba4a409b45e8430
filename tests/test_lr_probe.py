"""core.running.lr_probe: the probe picks the lr with the lowest validation loss, and the runs train at it."""

import json
import math

import pytest

from core.infra.io import RunExistsError
from core.running.lr_probe import check, parse_grid, probe_configs, select, selection_path, with_selected_lr
from core.training.config import ConfigError
from core.training.experiment_file import load_experiment


def test_select_lowest_finite_loss_ties_to_smaller_lr():
    rows = [
        {"lr": 1e-5, "eval_loss": 2.5},
        {"lr": 5e-5, "eval_loss": 2.1},
        {"lr": 3e-4, "eval_loss": math.nan},
        {"lr": 6e-4, "eval_loss": None, "error": "NonFiniteLossError"},
        {"lr": 1e-4, "eval_loss": 2.1},
    ]
    assert select(rows) == 5e-5
    assert select([{"lr": 1e-3, "eval_loss": None}]) is None


def test_grid_and_settings_are_checked(tiny_cfg):
    assert parse_grid("3e-4, 1e-5,5e-5") == [1e-5, 5e-5, 3e-4]
    for bad in ("", "1e-5,x", "1e-5,1e-5", "-1e-5", "nan"):
        with pytest.raises(ConfigError, match="lr_probe.grid"):
            parse_grid(bad)
    with pytest.raises(ConfigError, match="lr_probe.steps"):
        check(tiny_cfg(lr_probe={"grid": "1e-5", "steps": 0}))
    with pytest.raises(ConfigError, match="exclude each other"):
        check(tiny_cfg(lr_probe={"grid": "1e-5", "steps": 2, "source": "a.b"}))
    probes = probe_configs(
        tiny_cfg(name="full", lr_probe={"grid": "1e-5,1e-3", "steps": 2}, lm_eval_limit=4, seed=2)
    )
    assert [(p.lr, p.max_steps, p.seed, p.lm_eval_limit, p.lr_probe.grid) for p in probes] == [
        (1e-5, 2, 0, 0, ""),
        (1e-3, 2, 0, 0, ""),
    ]
    assert probes[0].name == "unit.full-lr1e-05" and probes[0].experiment == "lr_probe"


EXPERIMENT = """paper: test
experiment: main
base: {model: tiny-llama, task: instruct, batch_size: 2, max_length: 48, eval_examples: 8, train_examples: 64,
       max_steps: 6, lr: 1.0e-6}
profiles:
  cpu: {}
runs:
  - {name: full, method: full, lr_probe: {grid: "GRID", steps: 6}}
  - {name: fixed, method: full}
seeds: [0, 1]
"""
ABLATION = """paper: test
experiment: ablation
base: {model: tiny-llama, task: instruct, batch_size: 2, max_length: 48, eval_examples: 8, train_examples: 64,
       max_steps: 4, lr_probe: {source: main.full}}
profiles:
  cpu: {}
runs:
  - {name: other, method: full}
"""


def write_configs(folder, grid):
    folder.mkdir(exist_ok=True)
    (folder / "main.yaml").write_text(EXPERIMENT.replace("GRID", grid))
    (folder / "ablation.yaml").write_text(ABLATION)
    return folder


def test_probe_selects_lowest_validation_loss_and_runs_use_it(tmp_path):
    """Constructed case: 1e-7 leaves the random tiny model at its initial loss, 3e-3 (AdamW, 6 steps) lowers it,
    10 diverges; the known answer is 3e-3, for every seed and for a run that takes the selection as its source."""
    configs = write_configs(tmp_path / "configs", "10,1e-7,3e-3")
    root = tmp_path / "results"
    main = with_selected_lr(load_experiment(configs / "main.yaml", "cpu"), "cpu", root, configs)
    assert [(c.name, c.seed, c.lr) for c in main] == [
        ("full", 0, 3e-3),
        ("full", 1, 3e-3),
        ("fixed", 0, 1e-6),
        ("fixed", 1, 1e-6),
    ]
    record = json.loads(selection_path("test", "main", "full", "cpu", root).read_text())
    by_lr = {r["lr"]: r for r in record["probes"]}
    assert record["selected_lr"] == 3e-3 and set(by_lr) == {1e-7, 3e-3, 10.0} and not record["at_grid_edge"]
    assert by_lr[3e-3]["eval_loss"] < by_lr[1e-7]["eval_loss"]
    assert by_lr[10.0]["eval_loss"] is None or by_lr[10.0]["eval_loss"] > by_lr[3e-3]["eval_loss"]
    assert by_lr[3e-3]["status"] == "done" and by_lr[3e-3]["error"] is None
    assert record["manifest"]["config"]["max_steps"] == 6 and record["steps"] == 6
    ablation = with_selected_lr(load_experiment(configs / "ablation.yaml", "cpu"), "cpu", root, configs)
    assert [c.lr for c in ablation] == [3e-3]
    # a second plan reuses the selection; a changed grid is refused instead of silently re-selected
    before = selection_path("test", "main", "full", "cpu", root).read_text()
    assert [
        c.lr for c in with_selected_lr(load_experiment(configs / "main.yaml", "cpu"), "cpu", root, configs)
    ][0] == 3e-3
    assert selection_path("test", "main", "full", "cpu", root).read_text() == before
    from core.running.lr_probe import run_probe

    changed = load_experiment(write_configs(tmp_path / "configs", "1e-7,3e-3") / "main.yaml", "cpu")[0]
    with pytest.raises(RunExistsError, match="different lr selection"):
        run_probe(changed, "cpu", root)


def test_confirmation_reruns_the_best_short_lrs_at_the_full_horizon(tmp_path, monkeypatch, tiny_cfg):
    """Known answer with a stand-in trainer: the 4-step probe ranks 1e-2 < 3e-3 < 1e-3 (short probes favour large
    lrs); at the full 20 steps on seed 1000, 3e-3 beats 1e-2, so 3e-3 is selected; 1e-3 is never re-run."""
    import core.running.lr_probe as lp
    from core.infra.io import atomic_write_json
    from core.training.run import run_dir

    losses = {4: {1e-3: 2.0, 3e-3: 1.5, 1e-2: 1.2}, 20: {3e-3: 0.6, 1e-2: 0.9}}
    made = []

    def fake_run_one(cfg, out, profile):
        made.append((cfg.lr, cfg.max_steps, cfg.seed, out.name))
        result = {"eval_loss": losses[cfg.max_steps][cfg.lr], "status": "done", "steps": cfg.max_steps}
        atomic_write_json(out / "result.json", result)
        return result

    monkeypatch.setattr(lp, "run_one", fake_run_one)
    cfg = tiny_cfg(name="lisa", max_steps=20, lr_probe={"grid": "1e-3,3e-3,1e-2", "steps": 4, "confirm": 2})
    root = tmp_path / "results"
    short = lp.pending_probes([cfg], "cpu", root)
    assert sorted(p.lr for p, _ in short) == [1e-3, 3e-3, 1e-2] and all(p.max_steps == 4 for p, _ in short)
    for (
        probe,
        out,
    ) in short:  # as core.running.experiment --jobs runs them; then the confirmation runs are pending
        out.mkdir(parents=True)
        fake_run_one(probe, out, "cpu")
    confirm = lp.pending_probes([cfg], "cpu", root)
    assert sorted((p.lr, p.max_steps, p.seed) for p, _ in confirm) == [(3e-3, 20, 1000), (1e-2, 20, 1000)]
    assert {out.name for _, out in confirm} == {"unit.lisa-lr0.003-full-s1000", "unit.lisa-lr0.01-full-s1000"}
    record = lp.run_probe(cfg, "cpu", root)
    assert record["short_selected_lr"] == 1e-2 and record["selected_lr"] == 3e-3
    assert record["confirm"]["seed"] == 1000 and record["confirm"]["steps"] == 20
    assert [r["lr"] for r in record["confirm"]["runs"]] == [1e-2, 3e-3]
    assert not any(lr == 1e-3 and steps == 20 for lr, steps, _, _ in made)
    assert run_dir(confirm[0][0], "cpu", root).exists()
    with pytest.raises(ConfigError, match="confirm_seed"):
        check(
            tiny_cfg(
                seed=1000, lr_probe={"grid": "1e-3,3e-3", "steps": 4, "confirm": 2, "confirm_seed": 1000}
            )
        )
    with pytest.raises(ConfigError, match="lr_probe.confirm=3"):
        check(tiny_cfg(lr_probe={"grid": "1e-3,3e-3", "steps": 4, "confirm": 3}))

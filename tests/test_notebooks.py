"""Papermill smoke test: a tiny results fixture -> executed notebook -> versioned figure + manifest."""
import json

import pytest

from core.run import REPO

FIXTURE = """
paper: lisa
experiment: loss_curves
base: {model: tiny-llama, task: instruct, max_steps: 3, batch_size: 2, max_length: 32, eval_examples: 4,
       train_examples: 16, lm_eval_limit: 2, lr: 1.0e-3, lisa: {gamma: 1, interval: 1}}
profiles: {cpu: {}}
runs: [{name: full, method: full}, {name: lora, method: lora}, {name: galore, method: galore}, {name: lisa, method: lisa}]
seeds: [0, 1]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    cfg = root / "exp.yaml"
    cfg.write_text(FIXTURE)
    import core.experiment as experiment
    import core.run as run
    old = run.RESULTS
    experiment.RESULTS = root
    try:
        assert experiment.main([str(cfg)]) == 0
    finally:
        experiment.RESULTS = old
    return root


def test_notebook_executes_into_versioned_figure(results, tmp_path):
    from core.figures import execute
    src = REPO / "notebooks" / "src" / "lisa_loss_curves.py"
    rec = execute(src, "lisa", "cpu", tmp_path, results)
    assert (tmp_path / rec["figure"]).stat().st_size > 10_000
    assert (tmp_path / rec["executed_notebook"]).exists()
    manifest = json.loads((tmp_path / "figures" / "lisa" / "MANIFEST.json").read_text())
    entry = manifest["loss_curves"]
    assert entry["latest"] == "v001"
    inputs = entry["versions"]["v001"]["inputs"]
    assert len([i for i in inputs if i["path"].endswith("result.json")]) == 8
    assert all(len(i["sha256"]) == 64 for i in inputs)
    assert set(entry["versions"]["v001"]["table"]) == {"full", "lora", "galore", "lisa"}
    # unchanged inputs: no new version; forced: a new one, the old one kept
    assert execute(src, "lisa", "cpu", tmp_path, results) is None
    rec2 = execute(src, "lisa", "cpu", tmp_path, results, force=True)
    assert rec2["figure"].endswith("v002.png") and (tmp_path / rec["figure"]).exists()


def test_downstream_notebook_reads_lm_eval_scores(results, tmp_path):
    from core.figures import execute
    rec = execute(REPO / "notebooks" / "src" / "lisa_downstream.py", "lisa", "cpu", tmp_path, results)
    assert set(rec["table"]["lisa"]) == {"sft_math_mc", "sft_instruct_ll"}


def test_index_lists_every_figure_with_provenance(results, tmp_path):
    """`make figures` ends with core.figure_index: one row per figure, linking version, notebook and runs."""
    from core.figure_index import build_index
    from core.figures import execute
    execute(REPO / "notebooks" / "src" / "lisa_loss_curves.py", "lisa", "cpu", tmp_path, results)
    (tmp_path / "papers" / "lisa").mkdir(parents=True)
    (tmp_path / "papers" / "lisa" / "figures.yaml").write_text("loss_curves: {counterpart: Fig. X, verdict: holds}\n")
    index = build_index(tmp_path)
    row = next(line for line in index.splitlines() if line.startswith("| lisa | [loss_curves]"))
    assert "(lisa/loss_curves/v001.png)" in row and "| Fig. X |" in row and row.endswith("| holds |")
    assert "notebooks/src/lisa_loss_curves.py" in row and "lisa/loss_curves/cpu/full-s0" in row


def test_recorded_inputs_resolve_into_this_clones_results(tmp_path):
    """An absolute input path recorded by another clone maps onto our results folder, even where that other
    clone exists on this machine (its files must never decide whether our figure is up to date)."""
    from core.results import locate_input
    other = tmp_path / "other_clone" / "data" / "results" / "bench" / "cpu-cpu.json"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    ours = tmp_path / "ours"
    assert locate_input(str(other), ours) == ours / "bench" / "cpu-cpu.json"
    assert locate_input("data/results/bench/cpu-cpu.json", ours) == REPO / "data/results/bench/cpu-cpu.json"

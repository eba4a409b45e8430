"""Papermill smoke test: a tiny results fixture -> executed notebook -> versioned figure + manifest."""

import json
import re

import pytest
from conftest import run_experiment_into, stage_claims_file

from core.infra.io import REPO

FIXTURE = """
paper: lisa
experiment: loss_curves
base: {model: tiny-llama, task: instruct, max_steps: 3, batch_size: 2, max_length: 32, eval_examples: 4,
       train_examples: 16, lm_eval_limit: 2, lr: 1.0e-3, lisa: {gamma: 1, interval: 1}}
profiles: {cpu: {}}
runs: [{name: full, method: full}, {name: lora, method: lora}, {name: galore, method: galore},
       {name: lisa, method: lisa}]
seeds: [0, 1]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = run_experiment_into(FIXTURE, tmp_path_factory.mktemp("results"))
    stage_claims_file(root, "lisa", verdict=SENTINEL)
    return root


SENTINEL = "inconclusive (MDE = 9.9)"  # a verdict no data of the fixture could give


def test_notebook_executes_into_versioned_figure(results, tmp_path):
    from core.reporting.figures import execute

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
    table = entry["versions"]["v001"]["table"]
    assert set(table["validation loss per method"]) == {"full", "lora", "galore", "lisa"}
    assert len(table["validation loss: LISA − lora per seed"]) == 2  # the fixture's 2 seeds, paired
    # the verdict computed in the notebook is in the manifest; the executed notebook shows the figure inline and
    # ends with the verdict table
    assert entry["versions"]["v001"]["verdicts"][0]["claim"] == "loss_curves"
    assert entry["versions"]["v001"]["verdicts"][0]["verdict"] == SENTINEL  # from the claims file, not judged
    nb = json.loads((tmp_path / rec["executed_notebook"]).read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "## Verdict" in "".join(outputs[-1]["data"]["text/markdown"])
    # unchanged inputs: no new version; forced: a new one, the old one kept
    assert execute(src, "lisa", "cpu", tmp_path, results) is None
    rec2 = execute(src, "lisa", "cpu", tmp_path, results, force=True)
    assert rec2["figure"].endswith("v002.png") and (tmp_path / rec["figure"]).exists()


def test_downstream_notebook_reads_lm_eval_scores(results, tmp_path):
    from core.reporting.figures import execute

    rec = execute(REPO / "notebooks" / "src" / "lisa_downstream.py", "lisa", "cpu", tmp_path, results)
    per_task = {k.split()[0]: v for k, v in rec["table"].items() if k.endswith("per method")}
    assert {"sft_math_mc", "sft_instruct_ll"} <= set(per_task)
    assert set(per_task["sft_math_mc"]) == {"full", "lora", "galore", "lisa"}
    assert rec["verdicts"][0]["verdict"] == SENTINEL  # the claims file's word, whatever the fixture's numbers


def test_index_lists_every_figure_with_provenance(results, tmp_path):
    """`make figures` ends with core.reporting.figure_index: one row per figure, linking version, notebook and runs,
    with the verdict its notebook recorded; the paper's claims without a figure are listed with the reason."""
    from core.reporting.figure_index import build_index
    from core.reporting.figures import execute

    execute(REPO / "notebooks" / "src" / "lisa_loss_curves.py", "lisa", "cpu", tmp_path, results)
    (tmp_path / "papers" / "lisa").mkdir(parents=True)
    (tmp_path / "papers" / "lisa" / "figures.yaml").write_text("loss_curves: {counterpart: Fig. X}\n")
    (tmp_path / "papers" / "lisa" / "claims.yaml").write_text(
        "paper: {short: LISA}\nclaims:\n  - {id: Llama2-70B-mt, figure: null, claim: c, source: 'Table 5; v1',"
        " testable_offline: needs a 70B model}\n"
    )
    index = build_index(tmp_path)
    row = next(line for line in index.splitlines() if line.startswith("| lisa | [loss_curves]"))
    assert "(lisa/loss_curves/v001.png)" in row and "| Fig. X |" in row
    assert re.search(r"\*\*(holds|does not hold|inconclusive \(MDE = [^)]+\))\*\* \|$", row)
    assert "notebooks/src/lisa_loss_curves.py" in row and "lisa/loss_curves/cpu/full-s0" in row
    assert "| lisa | Llama2-70B-mt | Table 5 | c | needs a 70B model |" in index


def test_index_lists_a_figures_own_runs_first():
    from core.reporting.figure_index import run_dirs, summarize_runs

    inputs = [
        {"path": f"data/results/lisa/{exp}/cpu/{name}/result.json"}
        for exp, name in (
            ("loss_curves", "full-s0"),
            ("loss_curves", "full-s1"),
            ("weight_norms", "smollm2_lora-s0"),
        )
    ]
    assert run_dirs(inputs, "weight_norms")[0] == "lisa/weight_norms/cpu/smollm2_lora-s0"
    assert run_dirs(inputs, "loss_curves")[0] == "lisa/loss_curves/cpu/full-s0"
    assert summarize_runs(run_dirs(inputs, "weight_norms"), 2) == (
        "[`lisa/weight_norms/cpu/smollm2_lora-s0`]"
        "(../data/results/lisa/weight_norms/cpu/smollm2_lora-s0), "
        "[`lisa/loss_curves/cpu/full-s0`](../data/results/lisa/"
        "loss_curves/cpu/full-s0) (+1 more)"
    )


def test_recorded_inputs_resolve_into_this_clones_results(tmp_path):
    """An absolute input path recorded by another clone maps onto our results folder, even where that other
    clone exists on this machine (its files must never decide whether our figure is up to date)."""
    from core.infra.results import locate_input

    other = tmp_path / "other_clone" / "data" / "results" / "bench" / "cpu-cpu.json"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    ours = tmp_path / "ours"
    assert locate_input(str(other), ours) == ours / "bench" / "cpu-cpu.json"
    assert locate_input("data/results/bench/cpu-cpu.json", ours) == REPO / "data/results/bench/cpu-cpu.json"


def test_a_figure_is_stale_once_a_run_is_added_to_a_folder_it_listed(tmp_path):
    """Notebooks that read every run of an experiment record which finished runs they saw; a run finished since
    (a new arm or seed) makes the figure out of date even though every file it read is unchanged."""
    from core.infra.results import finished_run_names
    from core.reporting.figures import up_to_date

    base = tmp_path / "exp" / "cpu"
    for name in ("a-s0", "a-s1", "b-s0"):
        (base / name).mkdir(parents=True)
    for name in ("a-s0", "a-s1"):
        (base / name / "result.json").write_text("{}")
    assert finished_run_names(base) == ["a-s0", "a-s1"]  # b-s0 is unfinished
    version = {"notebook_sha256": "x", "parameters": {"profile": "cpu"}, "inputs": []}
    version["listings"] = [{"path": str(base), "runs": finished_run_names(base)}]
    entry = {"latest": "v001", "versions": {"v001": version}}
    assert up_to_date(entry, "x", "cpu", tmp_path)
    (base / "b-s0" / "result.json").write_text("{}")
    assert not up_to_date(entry, "x", "cpu", tmp_path)

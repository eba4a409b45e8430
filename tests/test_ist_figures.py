"""IST's new figures on a tiny results fixture: the compare_math runs -> importance check -> both notebooks."""

import json
import shutil

import pytest
from conftest import run_experiment_into, stage_claims_file

from core.infra.io import REPO

FIXTURE = """
paper: ist
experiment: compare_math
base: {model: tiny-llama, task: math, max_steps: 6, batch_size: 2, max_length: 48, eval_examples: 4,
       train_examples: 32, lr: 1.0e-3, save_adapter: true, lora: {r: 4, alpha: 8, dropout: 0.05},
       ist: {interval: 2, probe_batch: 4, update_frac: 0.5}}
profiles: {cpu: {}}
runs: [{name: lora, method: lora}, {name: ist, method: ist}, {name: ist_random, method: ist, ist: {uniform: true}},
       {name: ist_slr100, method: ist, ist: {lr: 100.0}}, {name: ist_keep, method: ist, ist: {free_state: false}}]
seeds: [0, 1]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from core.infra.io import atomic_write_json
    from core.infra.results import load_runs
    from papers.ist.importance_check import check

    root = run_experiment_into(FIXTURE, tmp_path_factory.mktemp("results"))
    stage_claims_file(
        root, "ist"
    )  # the notebooks' verdicts come from the claims file, never from the fixture
    runs = load_runs("ist", "compare_math", "cpu", root)
    atomic_write_json(
        root / "ist" / "importance_check" / "cpu.json", check(runs, n=8, confounded_seeds=(0, 1))
    )
    return root


def test_importance_check_rows(results):
    data = json.loads((results / "ist" / "importance_check" / "cpu.json").read_text())
    assert [s["seed"] for s in data["seeds"]] == [0, 1]
    for s in data["seeds"]:
        assert len(s["importance"]) == 4 and len(s["ist"]["scores"]) == 4
        assert -1 <= s["ist"]["rho_lo"] <= s["ist"]["rho_hi"] <= 1 and -1 <= s["ist"]["rho"] <= 1
        assert sum(s["confounded"]["selection_counts"]) == 6 * 2  # 6 steps x 2 of 4 layers
    assert set(data["rho_over_seeds"]) == {"ist", "ist_slr100"}


@pytest.mark.parametrize("artifact", ["scores", "importance_check"])
def test_ist_notebook_executes_into_a_figure(results, tmp_path, artifact):
    from core.reporting.figures import execute

    rec = execute(REPO / "notebooks" / "src" / f"ist_{artifact}.py", "ist", "cpu", tmp_path, results)
    assert (tmp_path / rec["figure"]).stat().st_size > 10_000
    if artifact == "scores":
        from papers.ist.compare import uniform_selection_chi2

        table = rec["table"]
        runs = {f"{arm}-s{s}" for arm in ("ist", "ist_random", "ist_slr100") for s in (0, 1)}
        assert set(table) == runs | {"pooled_dispersion"}
        assert all(
            table[f"{a}-s{s}"]["updates"] == 2 for a in ("ist", "ist_slr100") for s in (0, 1)
        )  # steps 2, 4
        assert all(table[f"ist_random-s{s}"]["updates"] == 0 for s in (0, 1))  # the control runs no probes
        assert table["ist_slr100-s0"]["score_lr"] == 100
        for run in runs:
            counts = table[run]["selection_counts"]
            assert sum(counts) == 6 * 2  # 6 steps x 2 of 4 layers
            assert table[run]["chi2_vs_uniform"] == pytest.approx(uniform_selection_chi2(counts, 2)[0])
    else:
        assert len(rec["table"]["ist"]["rho_per_seed"]) == 2
        assert any(i["path"].endswith("importance_check/cpu.json") for i in rec["inputs"])


ADAPTER_STATE = """
paper: ist
experiment: adapter_state
base: {model: tiny-llama, task: math, method: ist, max_steps: 6, batch_size: 2, max_length: 48, eval_examples: 4,
       train_examples: 32, lr: 1.0e-3, lora: {r: 4, alpha: 8}, ist: {interval: 2, probe_batch: 4, update_frac: 0.5}}
profiles: {cpu: {}}
runs: [{name: free, ist: {free_state: true}}, {name: keep, ist: {free_state: false}}]
seeds: [0]
"""


def test_ist_accuracy_notebook_on_the_comparison(results, tmp_path):
    """The accuracy figure reads compare_math with its gate, the memory study and the adapter-state runs."""
    from core.costs.bench import run_variants
    from core.infra.io import atomic_write_json
    from core.reporting.figures import execute
    from core.running.learnability import gate_record, write_gate

    root = tmp_path / "results"
    shutil.copytree(results, root)
    head = FIXTURE.split("runs:")[0]
    run_experiment_into(head + "runs: [{name: zero_shot, method: zero_shot}]\nseeds: [0]\n", root)
    run_experiment_into(ADAPTER_STATE, root)
    write_gate(
        gate_record("ist", "compare_math", "cpu", ["eval_loss", "test_accuracy"], "lora", root=root), root
    )
    variants = [("lora", "lora", {}), ("ist", "ist", {})]
    atomic_write_json(root / "ist" / "memory" / "cpu.json", run_variants(variants, "tiny", "ist_memory"))
    src = REPO / "notebooks" / "src"
    rec = execute(src / "ist_accuracy.py", "ist", "cpu", tmp_path / "out", root)
    assert set(rec["table"]) >= {
        "validation loss: IST − LoRA",
        "test accuracy: IST − LoRA",
        "validation loss: IST score lr 100 − LoRA",
    }
    row = rec["table"]["validation loss: IST − LoRA"]
    assert len(row["per_seed"]) == 2 and row["interval"]["kind"] == "paired-t"
    assert row["interval"]["estimate"] == pytest.approx(sum(row["per_seed"].values()) / 2)  # the points' mean
    assert [v["claim"] for v in rec["verdicts"]] == ["accuracy"]  # read from the claims file, one per claim
    rec = execute(src / "ist_ist_vs_random.py", "ist", "cpu", tmp_path / "out", root)
    assert rec["table"]["test accuracy: IST − random layers"]["interval"]["kind"] == "crossed seeds x items"
    rec = execute(src / "ist_adapter_state.py", "ist", "cpu", tmp_path / "out", root)
    assert "validation loss: IST − IST state kept" in rec["table"]
    rec = execute(src / "ist_memory.py", "ist", "cpu", tmp_path / "out", root)
    keep, free = rec["table"]["adamw_state_mb"]["keep"], rec["table"]["adamw_state_mb"]["free"]
    assert max(keep) >= max(free)  # the kept state grows as layers are drawn; the freed one does not

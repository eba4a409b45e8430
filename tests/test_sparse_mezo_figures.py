"""The deciding comparison's analysis (papers.sparse_mezo.compare) and its accuracy notebook on a tiny fixture:
tiny-bert on sentiment, every arm of compare_sentiment, 2 seeds, the learnability gate."""

import pytest
from conftest import run_experiment_into, stage_claims_file

from core.infra.io import REPO

FIXTURE = """
paper: sparse_mezo
experiment: compare_sentiment
base: {model: tiny-bert, task: sentiment, max_steps: 6, batch_size: 4, max_length: 32, eval_examples: 8,
       test_examples: 12, train_examples: 32, eval_every: 2, lr: 1.0e-3, zo: {eps: 1.0e-3}}
profiles: {cpu: {}}
runs: [{name: zero_shot, method: zero_shot, seeds: [0]}, {name: full, method: full},
       {name: mezo, method: mezo}, {name: s-mezo-0.8, method: mezo, zo: {sparsity: 0.8}},
       {name: r-mezo-0.8, method: mezo, zo: {sparsity: 0.8, mask: random}},
       {name: s-mezo-0.5, method: mezo, zo: {sparsity: 0.5}}]
seeds: [0, 1]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from core.running.learnability import gate_record, write_gate

    root = run_experiment_into(FIXTURE, tmp_path_factory.mktemp("results"))
    gate = gate_record(
        "sparse_mezo", "compare_sentiment", "cpu", ["eval_loss", "test_accuracy"], "full", root=root
    )
    write_gate(gate, root)
    stage_claims_file(root, "sparse_mezo")  # the notebook's verdicts come from the claims file
    return root


def test_comparison_reads_every_arm_with_the_test_split_size(results):
    from papers.sparse_mezo.compare import SentimentComparison

    data = SentimentComparison("cpu", results)
    assert len(data.labels) == 12  # test_examples, not eval_examples
    assert all(len(r.result["test_correct"]) == 12 for r in data.runs)
    pairs = data.paired("s-mezo-0.8", "mezo")
    assert set(pairs) == {"test_accuracy", "balanced_accuracy", "eval_loss"}
    assert pairs["test_accuracy"].interval.n == 2  # seeds of the crossed design
    rows = data.steps_to_mezo_final("s-mezo-0.8")
    assert set(rows) == {0, 1}
    for row in rows.values():  # MeZO reaches its own final accuracy by the last evaluation at the latest
        assert row["mezo_steps"] in (2, 4, 6)
        assert row["steps"] in (None, 2, 4, 6)


def test_accuracy_notebook_executes_with_verdicts(results, tmp_path):
    from core.reporting.figures import execute

    rec = execute(
        REPO / "notebooks" / "src" / "sparse_mezo_accuracy.py", "sparse_mezo", "cpu", tmp_path, results
    )
    assert (tmp_path / rec["figure"]).stat().st_size > 10_000
    assert [v["claim"] for v in rec["verdicts"]] == ["accuracy", "superglue_average"]  # from the claims file
    drawn = rec["table"]["test_accuracy"]["s-mezo-0.8 - mezo"]
    assert drawn["role"] == "primary" and drawn["paper_effect"] == 0.004
    assert set(drawn["per_seed"]) == {0, 1} or set(drawn["per_seed"]) == {"0", "1"}
    assert rec["table"]["eval_loss"]["s-mezo-0.8 - mezo"]["role"] == "secondary"


def test_an_arm_with_one_finished_seed_is_pending_not_an_error(results):
    from papers.sparse_mezo.compare import SentimentComparison

    data = SentimentComparison("cpu", results)
    data.runs = [r for r in data.runs if not (r.name == "s-mezo-0.5" and r.seed == 1)]
    assert data.common_seeds("s-mezo-0.5", "mezo") == [0]
    assert not data.comparable("s-mezo-0.5", "mezo")
    assert data.comparable("s-mezo-0.8", "mezo")

"""Per-example outputs (core.infra.item_outputs): each example's loss equals the model's own loss on that example alone,
and a finished run writes them beside result.json."""

import json

import pytest
import torch

from core.infra.item_outputs import ITEMS_FILE, example_losses
from core.training.finetune import build_trainer, train


def own_loss(model, collator, example) -> float:
    """The model's built-in loss (transformers' causal-LM / the classifier's cross-entropy) on one example."""
    batch = collator([example])
    with torch.no_grad():
        return float(model(**batch).loss)


@pytest.mark.parametrize("task", ["instruct", "sentiment"])
def test_each_example_loss_is_the_models_loss_on_that_example(task, tmp_path, tiny_cfg):
    cfg = tiny_cfg(
        method="full", max_steps=1, task=task, model="tiny-llama" if task == "instruct" else "tiny-bert"
    )
    trainer, _, model = build_trainer(cfg, tmp_path)
    model.eval()
    items = example_losses(model, trainer.data_collator, trainer.eval_dataset, batch_size=3)  # padded batches
    expected = [
        own_loss(model, trainer.data_collator, trainer.eval_dataset[i]) for i in range(cfg.eval_examples)
    ]
    assert items["eval_loss"] == pytest.approx(expected, rel=1e-5)
    assert len(items["eval_tokens"]) == cfg.eval_examples and min(items["eval_tokens"]) >= 1


def test_a_finished_run_writes_its_items_beside_result_json(tmp_path, tiny_cfg):
    cfg = tiny_cfg(method="full", max_steps=2, task="sentiment", model="tiny-bert", test_examples=6)
    result = train(cfg, tmp_path)
    items = json.loads((tmp_path / ITEMS_FILE).read_text())
    assert len(items["eval_loss"]) == cfg.eval_examples
    assert items["test_correct"] == result["test_correct"] and len(items["test_correct"]) == 6

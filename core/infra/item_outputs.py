"""Per-example outputs of a run's final evaluation, beside its result.json (`items.json`), so that a loss can get the
seeds × items design that accuracies already have (core.analysis.item_stats.accuracy_diff works on any per-item score).

- ``eval_loss``: each validation example's own loss: for a causal LM the mean negative log-likelihood of its
  response tokens (labels ≠ −100, next-token shifted as in transformers' causal-LM loss); for the verbalizer
  classifier (core.sources.encoder_cls) the cross-entropy over the choices. The Trainer's ``eval_loss`` is a mean over
  batches of token-weighted batch means, so it equals the mean of these only when every example has as many
  response tokens; the token-weighted mean of these (weights ``eval_tokens``) is exact for a causal LM.
- ``test_correct``: per test item correctness, as in result.json (copied here so one file holds every item score).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from core.infra.io import atomic_write_json

ITEMS_FILE = "items.json"


def _batches(dataset, collator, batch_size: int):
    for start in range(0, len(dataset), batch_size):
        yield collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])


def _causal_rows(logits: torch.Tensor, labels: torch.Tensor) -> tuple[list[float], list[int]]:
    """Per-row mean NLL of the response tokens and their counts (shift: position t predicts token t + 1)."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    counts = (labels != -100).sum(1)
    means = nll.sum(1) / counts.clamp(min=1)
    return means.tolist(), counts.tolist()


@torch.no_grad()
def example_losses(model, collator, dataset, batch_size: int = 8) -> dict:
    """{"eval_loss": [one loss per example], "eval_tokens": [response tokens per example, or 1 for a classifier]}."""
    was_training = model.training
    model.eval()
    losses, tokens = [], []
    try:
        for batch in _batches(dataset, collator, batch_size):
            batch = {k: v.to(next(model.parameters()).device) for k, v in batch.items()}
            labels = batch.pop("labels")
            logits = model(**batch).logits
            if logits.dim() == 2:  # a classifier: one row of choice scores per example
                losses += F.cross_entropy(logits.float(), labels, reduction="none").tolist()
                tokens += [1] * len(labels)
            else:
                rows, counts = _causal_rows(logits, labels)
                losses, tokens = losses + rows, tokens + counts
    finally:
        model.train(was_training)
    return {"eval_loss": losses, "eval_tokens": tokens}


def write_items(out: Path, losses: dict, result: dict) -> None:
    """items.json beside result.json (atomic): per-example validation losses and per-item test correctness."""
    atomic_write_json(
        Path(out) / ITEMS_FILE,
        {**losses, "test_correct": result.get("test_correct")},
    )

"""Prompt-based classification with a sentence encoder (the encoder side of MeZO / Sparse MeZO's experiments).

MeZO's RoBERTa runs score a verbalizer word at a [MASK] position with the MLM head. all-MiniLM-L6-v2 ships no
MLM head, only the encoder, so the verbalizer is used the sentence-transformers way: every choice ("positive",
"negative", ...) is embedded by the same encoder, and the logit of choice c is cos(e(prompt), e(c)) / τ with e
the mean-pooled, normalized last hidden state. No parameter is added, so the zero-shot model is already a
classifier, and full FT, LoRA and ZO all train the same encoder weights with cross-entropy over the choices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from core.sources.models import eval_mode

ENCODER_TYPES = ("bert", "roberta", "xlm-roberta", "deberta-v2", "distilbert", "mpnet", "electra")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states under the attention mask, L2-normalized (sentence-transformers pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)


class VerbalizerClassifier(nn.Module):
    """logits[i, c] = cos(e(x_i), e(choice_c)) / temperature; loss = cross-entropy with `labels`."""

    def __init__(
        self,
        encoder: nn.Module,
        tokenizer,
        choices: list[str],
        max_length: int = 16,
        temperature: float = 0.05,
    ):
        super().__init__()
        self.encoder, self.temperature, self.choices = encoder, temperature, list(choices)
        enc = tokenizer(
            self.choices, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        self.register_buffer("choice_ids", enc["input_ids"], persistent=False)
        self.register_buffer("choice_mask", enc["attention_mask"], persistent=False)

    @property
    def config(self):
        return self.encoder.config

    def embed(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return mean_pool(out.last_hidden_state, attention_mask)

    def forward(self, input_ids, attention_mask, labels=None, token_type_ids=None):
        logits = (
            self.embed(input_ids, attention_mask, token_type_ids)
            @ self.embed(self.choice_ids, self.choice_mask).T
            / self.temperature
        )
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def encode_classification(ds, tokenizer, max_length: int):
    """Records with prompt/choices/label -> input_ids, attention_mask (, token_type_ids), labels."""

    def encode(ex):
        enc = tokenizer(ex["prompt"], truncation=True, max_length=max_length)
        return {**enc, "labels": ex["label"]}

    if "choices" not in ds.column_names:
        raise ValueError(
            "an encoder model needs a classification task with `choices` (sentiment, entailment, boolq)"
        )
    return ds.map(encode, remove_columns=ds.column_names)


@torch.no_grad()
def classifier_accuracy(model: VerbalizerClassifier, collator, ds, batch_size: int = 32) -> dict:
    """Accuracy of the highest-scoring choice on an encoded dataset, with per-example correctness."""
    correct = []
    device = next(model.parameters()).device
    with eval_mode(model):
        for start in range(0, len(ds), batch_size):
            batch = collator([ds[i] for i in range(start, min(start + batch_size, len(ds)))])
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            correct += (logits.argmax(-1) == batch["labels"]).int().tolist()
    return {"accuracy": sum(correct) / max(len(correct), 1), "n": len(correct), "correct": correct}

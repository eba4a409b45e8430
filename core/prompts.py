"""Prompt templates for causal LMs: chat formatting, loss masks, and verbalizer scoring.

A record ``{prompt, response}`` becomes the model's chat template with the user turn = prompt and the
assistant turn = response; only the response tokens (and the end-of-turn token) carry loss, as in
Alpaca-style instruction tuning. Classification uses the MeZO/LISA practice of scoring each verbalizer
(`choices`) by its log-likelihood after the prompt.
"""
from __future__ import annotations

import torch


def prompt_text(tokenizer, prompt: str) -> str:
    """The chat-formatted user turn followed by the assistant header."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    return f"{prompt}\n"


def encode_example(tokenizer, prompt: str, response: str, max_length: int) -> dict:
    """input_ids / attention_mask / labels with the prompt masked (-100); truncated from the left of the prompt."""
    eos = tokenizer.eos_token or ""
    p_ids = tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response + eos, add_special_tokens=False)["input_ids"]
    r_ids = r_ids[:max_length - 1]
    p_ids = p_ids[-(max_length - len(r_ids)):]
    ids = p_ids + r_ids
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(p_ids) + r_ids}


def tokenize_dataset(ds, tokenizer, max_length: int):
    """Map a records dataset to model inputs (keeps nothing else)."""
    return ds.map(lambda ex: encode_example(tokenizer, ex["prompt"], ex["response"], max_length),
                  remove_columns=ds.column_names)


@torch.no_grad()
def choice_logprobs(model, tokenizer, prompt: str, choices: list[str], max_length: int) -> list[float]:
    """Summed log-probability of each verbalizer after the prompt."""
    batch = [encode_example(tokenizer, prompt, c, max_length) for c in choices]
    width = max(len(b["input_ids"]) for b in batch)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([b["input_ids"] + [pad] * (width - len(b["input_ids"])) for b in batch])
    mask = torch.tensor([b["attention_mask"] + [0] * (width - len(b["input_ids"])) for b in batch])
    labels = torch.tensor([b["labels"] + [-100] * (width - len(b["labels"])) for b in batch])
    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    target = labels[:, 1:].to(logp.device)
    keep = target != -100
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep
    return picked.sum(dim=1).tolist()


def choice_accuracy(model, tokenizer, ds, max_length: int) -> dict:
    """Accuracy of picking the highest-likelihood verbalizer, with per-example correctness."""
    was_training = model.training
    model.eval()
    correct = []
    for ex in ds:
        scores = choice_logprobs(model, tokenizer, ex["prompt"], ex["choices"], max_length)
        correct.append(int(max(range(len(scores)), key=scores.__getitem__) == ex["label"]))
    model.train(was_training)
    return {"accuracy": sum(correct) / max(len(correct), 1), "n": len(correct), "correct": correct}

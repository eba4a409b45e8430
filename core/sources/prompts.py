"""Prompt templates for causal LMs: chat formatting, loss masks, and verbalizer scoring.

A record ``{prompt, response}`` becomes the model's chat template with the user turn = prompt and the
assistant turn = response; only the response tokens (and the end-of-turn token) carry loss, as in
Alpaca-style instruction tuning. Classification uses the MeZO/LISA practice of scoring each verbalizer
(`choices`) by its log-likelihood after the prompt.
"""

from __future__ import annotations

import torch

from core.sources.models import eval_mode


def prompt_text(tokenizer, prompt: str) -> str:
    """The chat-formatted user turn followed by the assistant header."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return f"{prompt}\n"


def encode_example(tokenizer, prompt: str, response: str, max_length: int) -> dict:
    """input_ids / attention_mask / labels with the prompt masked (-100); truncated from the left of the prompt."""
    eos = tokenizer.eos_token or ""
    p_ids = tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response + eos, add_special_tokens=False)["input_ids"]
    r_ids = r_ids[: max_length - 1]
    p_ids = p_ids[-(max_length - len(r_ids)) :]
    ids = p_ids + r_ids
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(p_ids) + r_ids}


def tokenize_dataset(ds, tokenizer, max_length: int):
    """Map a records dataset to model inputs (keeps nothing else)."""
    return ds.map(
        lambda ex: encode_example(tokenizer, ex["prompt"], ex["response"], max_length),
        remove_columns=ds.column_names,
    )


def _pad_right(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


@torch.no_grad()
def choice_logprobs(model, tokenizer, prompt: str, choices: list[str], max_length: int) -> list[float]:
    """Summed log-probability of each verbalizer after the prompt (the tokens `encode_example` labels).

    When every choice keeps the same (possibly left-truncated) prompt, the prompt is run once and its KV cache is
    shared by the choices (``shared_prefix_logprobs``), which is the same computation up to float summation order;
    otherwise each choice is scored as one full sequence."""
    batch = [encode_example(tokenizer, prompt, c, max_length) for c in choices]
    prompts = [b["input_ids"][: b["labels"].count(-100)] for b in batch]
    pad = tokenizer.pad_token_id or 0
    if all(p == prompts[0] for p in prompts) and prompts[0]:
        return shared_prefix_logprobs(
            model, prompts[0], [b["input_ids"][len(prompts[0]) :] for b in batch], pad
        )
    return full_sequence_logprobs(model, batch, pad)


def full_sequence_logprobs(model, batch: list[dict], pad: int) -> list[float]:
    """Sum of the labelled tokens' log-probabilities, one right-padded sequence per choice."""
    ids = _pad_right([b["input_ids"] for b in batch], pad)
    mask = _pad_right([b["attention_mask"] for b in batch], 0)
    labels = _pad_right([b["labels"] for b in batch], -100)
    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    target = labels[:, 1:].to(logp.device)
    keep = target != -100
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep
    return picked.sum(dim=1).tolist()


def shared_prefix_logprobs(
    model, prompt_ids: list[int], continuations: list[list[int]], pad: int
) -> list[float]:
    """The prompt's forward once (cache kept, head on its last position only), then every continuation at once
    on the cache repeated per choice; returns the summed log-probability of each continuation."""
    n = len(continuations)
    out = model(input_ids=torch.tensor([prompt_ids], device=model.device), use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(n)
    ids = _pad_right(continuations, pad).to(model.device)
    valid = _pad_right([[1] * len(c) for c in continuations], 0).to(model.device)
    mask = torch.cat([torch.ones(n, len(prompt_ids), dtype=valid.dtype, device=model.device), valid], dim=1)
    logits = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    rest = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * valid[:, 1:]
    return (first[ids[:, 0]] + rest.sum(dim=1)).tolist()


def choice_accuracy(model, tokenizer, ds, max_length: int) -> dict:
    """Accuracy of picking the highest-likelihood verbalizer, with per-example correctness."""
    correct = []
    with eval_mode(model):
        for ex in ds:
            scores = choice_logprobs(model, tokenizer, ex["prompt"], ex["choices"], max_length)
            correct.append(int(max(range(len(scores)), key=scores.__getitem__) == ex["label"]))
    return {"accuracy": sum(correct) / max(len(correct), 1), "n": len(correct), "correct": correct}

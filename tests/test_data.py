import json
import shutil

import pytest

import core.sources.data as data
from core.sources.data import DataError, load_task, split_records, verify
from core.sources.models import byte_tokenizer
from core.sources.prompts import encode_example

TASKS = ["sentiment", "entailment", "boolq", "math", "instruct"]


@pytest.mark.parametrize("task", TASKS)
def test_prepared_splits_match_checksums_and_sizes(task):
    sums = json.loads((data.PREPARED / "CHECKSUMS.json").read_text())
    assert sums["source"]["file"] == "bigbench-1.0.0.tar.gz" and len(sums["source"]["sha256"]) == 64
    for split, size in zip(("train", "validation", "test"), data.SIZES[task]):
        ds = load_task(task, split)
        assert len(ds) == size == sums["files"][f"{task}/{split}.jsonl"]["rows"]
        assert {"prompt", "response"} <= set(ds.column_names)


@pytest.mark.parametrize("task", ["sentiment", "entailment", "boolq", "math"])
def test_classification_records_have_valid_labels(task):
    ds = load_task(task, "validation")
    for ex in ds:
        assert ex["choices"][ex["label"]] == ex["response"]


def test_splits_are_disjoint():
    for task in TASKS:
        prompts = {
            s: {(r["prompt"], r["response"]) for r in load_task(task, s)}
            for s in ("train", "validation", "test")
        }
        assert not prompts["train"] & prompts["test"] or task == "math"  # arithmetic repeats a few sums
        assert len(prompts["test"] & prompts["validation"]) <= 2


def test_tampered_file_is_detected(tmp_path, monkeypatch):
    shutil.copytree(data.PREPARED, tmp_path / "prepared")
    monkeypatch.setattr(data, "PREPARED", tmp_path / "prepared")
    path = tmp_path / "prepared" / "boolq" / "test.jsonl"
    path.write_text(path.read_text().replace("Yes", "No", 1))
    with pytest.raises(DataError, match="does not match its sha256.*make data-rebuild"):
        verify("boolq", "test")
    (tmp_path / "prepared" / "math" / "train.jsonl").unlink()
    with pytest.raises(DataError, match="missing.*make data-rebuild"):
        verify("math", "train")


def test_unknown_task_names_the_offline_ones():
    with pytest.raises(DataError, match="offline tasks: sentiment"):
        load_task("sst3")


def test_hub_dataset_without_network_is_a_clear_error():
    with pytest.raises(DataError, match="cannot load hub dataset 'glue/sst2'"):
        load_task("glue/sst2")


def test_split_is_deterministic_and_test_independent_of_train_size():
    recs = [{"prompt": str(i), "response": "x"} for i in range(100)]
    a = split_records(list(recs), (50, 10, 20))
    b = split_records(list(recs), (30, 10, 20))
    assert a["test"] == b["test"] and a["validation"] == b["validation"]
    assert a["train"][:30] == b["train"]


def test_prompt_tokens_are_masked_and_response_learned():
    tok = byte_tokenizer()
    enc = encode_example(tok, "What is 2 plus 2?", "4", max_length=64)
    learned = [t for t, lab in zip(enc["input_ids"], enc["labels"]) if lab != -100]
    assert tok.decode(learned) == "4<|im_end|>"
    assert len(enc["input_ids"]) == len(enc["labels"]) == len(enc["attention_mask"])
    short = encode_example(tok, "x" * 200, "answer", max_length=32)
    assert (
        len(short["input_ids"]) == 32
        and tok.decode([t for t, lab in zip(short["input_ids"], short["labels"]) if lab != -100])
        == "answer<|im_end|>"
    )


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2"])
def test_shared_prompt_cache_scores_choices_like_full_sequences(name):
    """Choices of unequal length (so padded) scored on the prompt's shared KV cache equal the full-sequence scores;
    a prompt truncated differently per choice falls back to full sequences (same numbers as before)."""
    import torch

    from core.sources.models import load_model
    from core.sources.prompts import choice_logprobs, full_sequence_logprobs, shared_prefix_logprobs

    model, tok = load_model(name)
    model.eval()
    choices = ["3", "45", "6937", "a much longer answer"]
    batch = [encode_example(tok, "What is 71 minus 26?", c, 64) for c in choices]
    n_prompt = batch[0]["labels"].count(-100)
    with torch.no_grad():
        full = full_sequence_logprobs(model, batch, tok.pad_token_id)
        shared = shared_prefix_logprobs(
            model,
            batch[0]["input_ids"][:n_prompt],
            [b["input_ids"][n_prompt:] for b in batch],
            tok.pad_token_id,
        )
    assert shared == pytest.approx(full, rel=1e-5, abs=1e-4)
    assert choice_logprobs(model, tok, "What is 71 minus 26?", choices, 64) == pytest.approx(
        full, rel=1e-5, abs=1e-4
    )
    truncated = [encode_example(tok, "x" * 100, c, 48) for c in choices]
    assert len({tuple(b["input_ids"][: b["labels"].count(-100)]) for b in truncated}) > 1
    with torch.no_grad():
        expected = full_sequence_logprobs(model, truncated, tok.pad_token_id)
    assert choice_logprobs(model, tok, "x" * 100, choices, 48) == expected

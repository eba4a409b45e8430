"""Tasks: offline from the `bigbench` 1.0.0 sdist on PyPI, or from the hub by dataset id.

Every record has ``prompt`` and ``response`` (a causal LM learns the response); classification-like records
also carry ``choices`` (the verbalizers) and ``label`` (index of the right choice).

| task | bigbench source | stands in for |
| --- | --- | --- |
| sentiment | multiemo/all_sentence_en (positive/negative only) | SST-2 |
| entailment | epistemic_reasoning | RTE |
| boolq | strategyqa | BoolQ |
| math | arithmetic 1-3 digit +, -, x (with the task's distractors as choices) | GSM8K |
| instruct | natural_instructions (short examples, instruction = task prefix) | Alpaca-GPT4 |

``python -m core.sources.data prepare`` downloads the sdist with pip, writes fixed-seed splits to
``data/prepared/<task>/<split>.jsonl`` and their sha256 to ``data/prepared/CHECKSUMS.json``; loading
verifies the checksum. The prepared files are committed, so training needs no download.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from core.infra.io import REPO, atomic_write_json, atomic_write_text, sha256_file

PREPARED = REPO / "data" / "prepared"
RAW = REPO / "data" / "raw"
SDIST = "bigbench-1.0.0.tar.gz"
SPLIT_SEED = 1234
TASKS_ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks/"
SIZES = {  # train, validation, test
    "sentiment": (2000, 200, 500),
    "entailment": (1400, 200, 400),
    "boolq": (1600, 200, 490),
    "math": (2000, 200, 300),
    "instruct": (2000, 200, 200),
}
MAX_INSTRUCT_CHARS = 240  # input + response; keeps sequences near 128 tokens


class DataError(ValueError):
    """A dataset is missing, corrupted or unknown."""


def download_sdist() -> Path:
    """`pip download --no-deps bigbench==1.0.0` into data/raw (PyPI is reachable; no dataset hub)."""
    target = RAW / SDIST
    if not target.exists():
        RAW.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "bigbench==1.0.0", "-d", str(RAW)],
            check=True,
        )
    return target


def read_tasks(tar: tarfile.TarFile, prefix: str) -> dict[str, dict]:
    """task.json files under `prefix` (a task or a folder of subtasks), read without importing bigbench."""
    out = {}
    for member in tar.getmembers():
        if member.name.startswith(TASKS_ROOT + prefix) and member.name.endswith("task.json"):
            task = json.load(tar.extractfile(member))
            if task.get("examples"):
                out[member.name[len(TASKS_ROOT) :]] = task
    return out


def _choice_record(prompt: str, scores: dict, choices: list[str]) -> dict | None:
    best = [c for c in choices if scores.get(c) == 1]
    if len(best) != 1:
        return None
    return {"prompt": prompt, "response": best[0], "choices": choices, "label": choices.index(best[0])}


def build_sentiment(tar) -> list[dict]:
    task = read_tasks(tar, "multiemo/all_sentence_en/")
    examples = next(iter(task.values()))["examples"]
    records = []
    for ex in examples:
        rec = _choice_record(
            f"Review: {ex['input']}\nIs the sentiment of this review positive or negative?",
            ex["target_scores"],
            ["negative", "positive"],
        )
        if rec:
            records.append(rec)
    return records


def build_entailment(tar) -> list[dict]:
    examples = read_tasks(tar, "epistemic_reasoning/")["epistemic_reasoning/task.json"]["examples"]
    return [
        _choice_record(
            f"{ex['input']}\nDoes the premise entail the hypothesis?",
            ex["target_scores"],
            ["entailment", "non-entailment"],
        )
        for ex in examples
    ]


def build_boolq(tar) -> list[dict]:
    examples = read_tasks(tar, "strategyqa/")["strategyqa/task.json"]["examples"]
    return [
        _choice_record(f"Question: {ex['input']}\nAnswer yes or no.", ex["target_scores"], ["No", "Yes"])
        for ex in examples
    ]


def build_math(tar) -> list[dict]:
    records = []
    for name, task in sorted(read_tasks(tar, "arithmetic/").items()):
        digits = int(name.split("/")[1][0])
        if digits > 3 or "division" in name:
            continue
        for ex in task["examples"]:
            choices = sorted((k for k in ex["target_scores"] if k not in ("banana", "house")), key=str)
            rec = _choice_record(ex["input"], ex["target_scores"], choices)
            if rec:
                records.append(rec)
    return records


def short_instruction(description: str) -> str:
    """First sentence of a natural_instructions 'Definition: ...' (the full text runs to ~800 chars)."""
    text = description.removeprefix("Definition:").strip()
    text = re.split(r"\s{2,}|(?<=[.!?])\s", text)[0].strip()
    return text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + " ..."


def build_instruct(tar) -> list[dict]:
    records = []
    for name, task in sorted(read_tasks(tar, "natural_instructions/").items()):
        instruction = short_instruction(task.get("description", ""))
        for ex in task["examples"]:
            targets = ex.get("target")
            response = (targets[0] if isinstance(targets, list) else targets) or ""
            if response and len(ex["input"]) + len(response) <= MAX_INSTRUCT_CHARS:
                records.append(
                    {
                        "prompt": f"{instruction}\n\n{ex['input']}",
                        "response": response,
                        "source": name.split("/")[1],
                    }
                )
    return records


BUILDERS = {
    "sentiment": build_sentiment,
    "entailment": build_entailment,
    "boolq": build_boolq,
    "math": build_math,
    "instruct": build_instruct,
}


def split_records(records: list[dict], sizes: tuple[int, int, int], seed: int = SPLIT_SEED) -> dict:
    """Shuffle with a fixed seed and cut train/validation/test (test first, so it never changes with train)."""
    records = [r for r in records if r]
    random.Random(seed).shuffle(records)
    n_train, n_val, n_test = sizes
    if len(records) < n_val + n_test + 1:
        raise DataError(f"only {len(records)} records; need more than {n_val + n_test}")
    test, val = records[:n_test], records[n_test : n_test + n_val]
    train = records[n_test + n_val : n_test + n_val + n_train]
    return {"train": train, "validation": val, "test": test}


def prepare(tasks=tuple(BUILDERS)) -> dict:
    """Build every task's splits from the sdist and record sha256 checksums."""
    sdist = download_sdist()
    checksums = {
        "source": {"file": SDIST, "sha256": sha256_file(sdist)},
        "split_seed": SPLIT_SEED,
        "files": {},
    }
    with tarfile.open(sdist) as tar:
        for task in tasks:
            for split, rows in split_records(BUILDERS[task](tar), SIZES[task]).items():
                path = PREPARED / task / f"{split}.jsonl"
                for i, row in enumerate(rows):
                    row["id"] = f"{task}-{split}-{i}"
                atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
                checksums["files"][f"{task}/{split}.jsonl"] = {"sha256": sha256_file(path), "rows": len(rows)}
                print(f"{task}/{split}: {len(rows)} rows")
    atomic_write_json(PREPARED / "CHECKSUMS.json", checksums)
    return checksums


def verify(task: str, split: str) -> Path:
    """Path of a prepared split after checking its sha256 against CHECKSUMS.json."""
    if task not in BUILDERS:
        raise DataError(
            f"unknown task '{task}'; offline tasks: {', '.join(BUILDERS)} (or a hub id like glue/sst2)"
        )
    path = PREPARED / task / f"{split}.jsonl"
    sums = (
        json.loads((PREPARED / "CHECKSUMS.json").read_text())["files"]
        if (PREPARED / "CHECKSUMS.json").exists()
        else {}
    )
    key = f"{task}/{split}.jsonl"
    if not path.exists() or key not in sums:
        raise DataError(
            f"{path} is missing; restore it (`git checkout -- data/prepared`) or run `make data-rebuild`"
        )
    if sha256_file(path) != sums[key]["sha256"]:
        raise DataError(
            f"{path} does not match its sha256 in CHECKSUMS.json; run `make data-rebuild` to rebuild it "
            "(or `git checkout -- data/prepared`)"
        )
    return path


HUB_CONVERTERS = {  # hub dataset id -> (load_dataset args, record converter)
    "glue/sst2": (
        ("glue", "sst2"),
        lambda ex: {
            "prompt": f"Review: {ex['sentence']}\nIs the sentiment of this review positive or negative?",
            "choices": ["negative", "positive"],
            "label": ex["label"],
        },
    ),
    "glue/rte": (
        ("glue", "rte"),
        lambda ex: {
            "prompt": f"Premise: {ex['sentence1']} Hypothesis: {ex['sentence2']}"
            "\nDoes the premise entail the hypothesis?",
            "choices": ["entailment", "non-entailment"],
            "label": ex["label"],
        },
    ),
    "super_glue/boolq": (
        ("super_glue", "boolq"),
        lambda ex: {
            "prompt": f"{ex['passage']}\nQuestion: {ex['question']}?\nAnswer yes or no.",
            "choices": ["No", "Yes"],
            "label": ex["label"],
        },
    ),
    "gsm8k": (("gsm8k", "main"), lambda ex: {"prompt": ex["question"], "response": ex["answer"]}),
    "vicgalle/alpaca-gpt4": (
        ("vicgalle/alpaca-gpt4",),
        lambda ex: {
            "prompt": (ex["instruction"] + ("\n\n" + ex["input"] if ex["input"] else "")),
            "response": ex["output"],
        },
    ),
}


def _with_response(rec: dict) -> dict:
    if "response" not in rec:
        rec["response"] = rec["choices"][rec["label"]]
    return rec


def load_task(task: str, split: str = "train", limit: int = 0):
    """A `datasets.Dataset` of records; offline tasks are checksum-verified, hub ids need a network."""
    import datasets

    if task in HUB_CONVERTERS:
        args, convert = HUB_CONVERTERS[task]
        try:
            raw = datasets.load_dataset(*args, split=split)
        except Exception as err:  # the hub raises many types; the message is what matters
            raise DataError(
                f"cannot load hub dataset '{task}' ({err}); offline tasks: {', '.join(BUILDERS)}"
            ) from None
        ds = raw.map(lambda ex: _with_response(convert(ex)), remove_columns=raw.column_names)
    else:
        ds = datasets.load_dataset("json", data_files=str(verify(task, split)), split="train")
    return ds.select(range(min(limit, len(ds)))) if limit else ds


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        prepare()
    else:
        for task in BUILDERS:
            for split in ("train", "validation", "test"):
                print(task, split, verify(task, split))

"""Downstream evaluation with lm-evaluation-harness on local tasks built from the prepared splits.

LISA's downstream tables (MT-Bench, GSM8K; Tables 3-5) need a judge model or the hub; offline we score
held-out splits with lm-eval's own machinery instead:
- ``sft_math_mc``: arithmetic test split, multiple choice over the task's answer options (``acc``, and the
  length-normalized ``acc_norm``: raw log-likelihood sums favour the short distractors);
- ``sft_instruct_ll``: instruction test split, whether greedy decoding reproduces the reference response
  token for token (lm-eval's loglikelihood ``acc`` = is_greedy).
Prompts go through the model's chat template (``apply_chat_template=True``), as in training.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from core.sources.data import verify
from core.sources.models import eval_mode

LOCAL_TASKS = {
    "sft_math_mc": {
        "source": ("math", "test"),
        "output_type": "multiple_choice",
        "doc_to_text": "{{prompt}}",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{label}}",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
    },
    "sft_instruct_ll": {
        "source": ("instruct", "test"),
        "output_type": "loglikelihood",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{response}}",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    },
}


def write_task_yamls(folder: Path, tasks: list[str]) -> None:
    """One lm-eval YAML per local task; data_files are absolute paths (lm-eval requires it offline)."""
    for name in tasks:
        spec = dict(LOCAL_TASKS[name])
        task, split = spec.pop("source")
        cfg = {
            "task": name,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(verify(task, split))}},
            "test_split": "test",
            "num_fewshot": 0,
            **spec,
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def lm_eval_local(model, tokenizer, tasks=tuple(LOCAL_TASKS), limit: int = 50, batch_size: int = 8) -> dict:
    """``{task: {metric: value, metric_stderr: value}}`` from lm-eval's simple_evaluate."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    with eval_mode(model), tempfile.TemporaryDirectory() as tmp:
        write_task_yamls(Path(tmp), list(tasks))
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
        # include_defaults=False: index only our YAMLs, not lm-eval's ~15k built-in tasks (~10 s per call)
        manager = TaskManager(include_path=tmp, include_defaults=False)
        out = simple_evaluate(
            model=lm,
            tasks=list(tasks),
            task_manager=manager,
            limit=limit,
            apply_chat_template=True,
            log_samples=False,
            random_seed=0,
            numpy_random_seed=0,
            torch_random_seed=0,
            fewshot_random_seed=0,
        )
    return {
        task: {k.split(",")[0]: v for k, v in res.items() if isinstance(v, (int, float))}
        for task, res in out["results"].items()
    }

"""One fine-tuning run from a `RunConfig`: full FT, LoRA / DoRA (peft), GaLore (galore-torch), LISA, MISA, BAdam, IST,
MeZO / Sparse MeZO (`core.training.trainers.ZOTrainer`), or none (`zero_shot`: evaluation only).

All methods go through one `transformers.Trainer`; a method only changes what is trainable (LoRA), the
optimizer (GaLore; BAdam's BlockOptimizer from the `badam` package), adds a callback (LISA, MISA, IST on
LoRA) or replaces the training step (ZO), as its entry in the registry `core.training.methods` says. Causal LMs learn
the prompt's response; encoders (BERT family) are prompt-based classifiers over the task's verbalizers
(`core.sources.encoder_cls`). Writes ``metrics.jsonl``, ``items.json`` (per-example validation losses and test
correctness, `core.infra.item_outputs`), ``result.json`` and ``manifest.json`` into the run directory and resumes from
its last complete checkpoint when interrupted (`core.training.checkpoints`); a diverging run stops early with
``status: diverged`` (`core.training.divergence`).
"""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import torch
from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from core.infra.io import (
    append_jsonl,
    atomic_write_json,
    kill_point,
    read_json,
    read_jsonl,
    truncate_jsonl,
    write_new_json,
)
from core.infra.item_outputs import example_losses, write_items
from core.infra.provenance import manifest
from core.sources.data import load_task
from core.sources.encoder_cls import (
    ENCODER_TYPES,
    VerbalizerClassifier,
    classifier_accuracy,
    encode_classification,
)
from core.sources.models import load_model, model_type
from core.sources.prompts import choice_accuracy, tokenize_dataset
from core.training.callbacks import BlockSwitchCallback, LisaCallback
from core.training.checkpoints import CompleteMarker, checkpoint_step, last_checkpoint, restore_finished
from core.training.config import RunConfig
from core.training.divergence import DivergenceCallback
from core.training.fsdp import ShardedTrainer, shard_model
from core.training.methods import RunContext, encoder_names, method_of, uses_lora
from core.training.metric_callbacks import FullGradNormCallback, MetricsCallback, WeightNormCallback
from core.training.run import FINISHED, is_main_process, run_status, seed_everything
from core.training.trainers import ZOTrainer, zo_mask
from core.training.zo_replay import RECORD_DIR, ReplayRecord, last_record, rebuild_checkpoint

# per-step logs of a run directory
RUN_LOGS = ("metrics.jsonl", "weight_norms.jsonl", "probes.jsonl", "ist_scores.jsonl")


def apply_lora(model, cfg: RunConfig, task_type: str = "CAUSAL_LM"):
    """Wrap with peft LoRA (DoRA, Liu et al. 2024, for `method: dora` or `lora.dora`, e.g. under IST: peft's
    ``use_dora``); `targets` is "all-linear" or a comma-separated list of module names."""
    from peft import LoraConfig, get_peft_model

    targets = cfg.lora.targets if cfg.lora.targets == "all-linear" else cfg.lora.targets.split(",")
    lcfg = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=targets,
        task_type=task_type,
        use_dora=method_of(cfg).dora or cfg.lora.dora,
    )
    return get_peft_model(model, lcfg)


def training_args(cfg: RunConfig, out: Path) -> TrainingArguments:
    """The Trainer's arguments, plus the method's own (`Method.trainer_args`, e.g. GaLore's optimizer)."""
    method = method_of(cfg)
    # save_every = 0: no checkpoint at all (the final one was only ever deleted after evaluation; an interrupted
    # 0-checkpoint run restarts from step 0, with identical results)
    return TrainingArguments(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=0.0 if method.zeroth_order else cfg.max_grad_norm,  # ZO: no grad
        logging_steps=1,
        logging_nan_inf_filter=False,
        save_strategy="steps" if cfg.save_every else "no",
        save_steps=cfg.save_every or None,
        save_total_limit=2,
        eval_strategy="steps" if cfg.eval_every else "no",
        eval_steps=cfg.eval_every or None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=[],
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False,
        prediction_loss_only=True,
        **method.trainer_args(cfg),
    )


def causal_setup(cfg: RunConfig):
    """Causal LM learning each prompt's response (instruction-tuning loss), LoRA-wrapped when the method needs it."""
    model, tok = load_model(cfg.model, "causal", dtype=cfg.dtype, seed=cfg.seed)
    model.config.use_cache = False
    if uses_lora(cfg):
        model = apply_lora(model, cfg)
    train = tokenize_dataset(load_task(cfg.task, "train", cfg.train_examples), tok, cfg.max_length)
    evals = tokenize_dataset(load_task(cfg.task, "validation", cfg.eval_examples), tok, cfg.max_length)
    return model, tok, train, evals, DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)


def encoder_setup(cfg: RunConfig):
    """Encoder as a prompt-based classifier over the task's verbalizers (core.sources.encoder_cls)."""
    if not method_of(cfg).encoder_ok:
        raise ValueError(
            f"method {cfg.method!r} needs a causal LM; encoder models ({cfg.model}) support "
            f"{', '.join(encoder_names())}"
        )
    encoder, tok = load_model(cfg.model, "encoder", dtype=cfg.dtype, seed=cfg.seed)
    if uses_lora(cfg):
        encoder = apply_lora(encoder, cfg, task_type="FEATURE_EXTRACTION")
    train_raw = load_task(cfg.task, "train", cfg.train_examples)
    if "choices" not in train_raw.column_names:
        raise ValueError(
            f"task '{cfg.task}' has no verbalizers; an encoder needs sentiment, entailment or boolq"
        )
    model = VerbalizerClassifier(encoder, tok, train_raw[0]["choices"])
    train = encode_classification(train_raw, tok, cfg.max_length)
    evals = encode_classification(load_task(cfg.task, "validation", cfg.eval_examples), tok, cfg.max_length)
    return model, tok, train, evals, DataCollatorWithPadding(tok)


class ValidationAccuracyCallback(TrainerCallback):
    """At every evaluation (`eval_every`), the verbalizer accuracy on the validation split goes to metrics.jsonl
    as ``eval_accuracy``: the accuracy-vs-step curves of MeZO / Sparse MeZO. `every_rank`: a sharded model's
    forwards are collectives, so every rank computes it (rank 0 writes)."""

    def __init__(self, path: Path, accuracy_fn, every_rank: bool = False):
        self.path, self.accuracy_fn, self.every_rank = Path(path), accuracy_fn, every_rank

    def on_evaluate(self, args, state, control, **kwargs):
        if state.is_world_process_zero or self.every_rank:
            accuracy = self.accuracy_fn()["accuracy"]
            if state.is_world_process_zero:
                append_jsonl(self.path, {"step": state.global_step, "eval_accuracy": accuracy})


def verbalizer_accuracy(cfg: RunConfig, model, tok, collator, split: str):
    """A closure computing verbalizer accuracy on `split` (``eval_examples`` of validation, ``test_limit`` of
    test): the encoder classifier's argmax, or the causal LM's highest-likelihood choice; None for tasks without
    choices."""
    raw = load_task(cfg.task, split, cfg.test_limit if split == "test" else cfg.eval_examples)
    if "choices" not in raw.column_names:
        return None
    if isinstance(model, VerbalizerClassifier):
        encoded = encode_classification(raw, tok, cfg.max_length)
        return lambda: classifier_accuracy(model, collator, encoded)
    return lambda: choice_accuracy(model, tok, raw, cfg.max_length)


def is_encoder(cfg: RunConfig) -> bool:
    return model_type(cfg.model) in ENCODER_TYPES


def build_trainer(cfg: RunConfig, out: Path):
    """Model + data + method (its `core.training.methods` entry: callback, optimizer, ZO step) -> (Trainer, tokenizer,
    model)."""
    method = method_of(cfg)
    model, tok, train, evals, collator = (encoder_setup if is_encoder(cfg) else causal_setup)(cfg)
    if cfg.sharding == "fsdp2":
        model = shard_model(model)  # before any optimizer exists: it must hold the sharded parameters
    d = cfg.divergence
    callbacks = [
        MetricsCallback(out / "metrics.jsonl"),
        DivergenceCallback(loss_factor=d.loss_factor, patience=d.patience, zero_grad_steps=d.zero_grad_steps),
    ]
    if method.callback is not None:
        callbacks.append(method.callback(cfg, RunContext(out=out, train=train, collator=collator)))
    accuracy = verbalizer_accuracy(cfg, model, tok, collator, "validation") if cfg.eval_every else None
    if accuracy is not None:
        callbacks.append(
            ValidationAccuracyCallback(out / "metrics.jsonl", accuracy, every_rank=cfg.sharding != "none")
        )
    if cfg.log_weight_norms:
        callbacks.append(WeightNormCallback(out / "weight_norms.jsonl"))
    if cfg.probe_every:
        probe = collator([evals[i] for i in range(min(cfg.probe_examples, len(evals)))])
        callbacks.append(FullGradNormCallback(out / "probes.jsonl", probe, cfg.probe_every))
    optimizer = method.optimizer(model, cfg) if method.optimizer is not None else None
    kwargs = dict(
        model=model,
        args=training_args(cfg, out),
        train_dataset=train,
        eval_dataset=evals,
        data_collator=collator,
        callbacks=callbacks,
        optimizers=(optimizer, None),
    )
    if method.zeroth_order:
        z = cfg.zo
        trainer = ZOTrainer(eps=z.eps, mask=zo_mask(z.mask, z.sparsity, cfg.seed), zo_seed=cfg.seed, **kwargs)
    else:
        trainer = (ShardedTrainer if cfg.sharding == "fsdp2" else Trainer)(**kwargs)
    for cb in callbacks:
        if isinstance(cb, BlockSwitchCallback):
            cb.bind(
                trainer
            )  # under DDP: the reducer is rebuilt over the active blocks at each switch (core.training.ddp)
    trainer.add_callback(CompleteMarker())  # last: after every callback has saved its checkpoint state
    if method.zeroth_order:
        trainer.add_callback(ReplayRecord(out))  # copies the marked checkpoint without its weights
    return trainer, tok, model


def evaluate(trainer, tok, model, cfg: RunConfig) -> dict:
    """Validation loss, and verbalizer accuracy on the test split for tasks with choices."""
    out = {"eval_loss": trainer.evaluate()["eval_loss"]}  # collective under DDP: every rank calls it
    kill_point("final_eval")
    if (
        not is_main_process() and cfg.sharding == "none"
    ):  # sharded: every rank runs the forwards (collectives)
        return out
    test_accuracy = verbalizer_accuracy(cfg, model, tok, trainer.data_collator, "test")
    if test_accuracy is not None:
        acc = test_accuracy()
        out.update(test_accuracy=acc["accuracy"], test_n=acc["n"], test_correct=acc["correct"])
    if cfg.lm_eval_limit:
        from core.sources.evaluate import lm_eval_local

        out["lm_eval"] = lm_eval_local(
            model, tok, tasks=cfg.lm_eval_tasks.split(","), limit=cfg.lm_eval_limit
        )
    return out


def reset_logs(out: Path, done_steps: int | None, max_steps: int) -> None:
    """Before (re)starting: drop rows a resumed run logs again (after checkpoint `done_steps`; from a checkpoint at
    `max_steps`, those of the final evaluation), or every row when training starts over from step 0."""
    for log in RUN_LOGS:
        if done_steps is None:
            (out / log).unlink(missing_ok=True)
        elif (out / log).exists():
            truncate_jsonl(out / log, done_steps, after_summary=done_steps >= max_steps)


def divergence_of(trainer) -> DivergenceCallback:
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, DivergenceCallback))


def start_run(cfg: RunConfig, out: Path, status: str, profile: str) -> None:
    """A new run's manifest, written once its trainer was built (a run failing on bad input leaves none); an
    unfinished run with another config and no checkpoint starts over."""
    if status == "restart":
        print(
            f"note: {out} holds an unfinished run of another config without checkpoints; starting it over",
            flush=True,
        )
        (out / "manifest.json").unlink(missing_ok=True)
    if status in ("new", "restart"):
        for folder in ("checkpoints", RECORD_DIR):  # none to resume: they belong to no manifest
            shutil.rmtree(out / folder, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        write_new_json(out / "manifest.json", manifest(cfg.to_dict(), cfg.seed, profile=profile))


def train(cfg: RunConfig, out: Path, profile: str = "cpu") -> dict:
    """Run (or resume, or skip) one run; returns its result dict (``status`` done or diverged)."""
    out = Path(out)
    if is_main_process():
        for tmp in out.glob(".*.tmp"):  # an atomic write cut before its rename
            tmp.unlink()
    resume = last_checkpoint(out)
    # a ZO run's weight-free resume point (committed; its checkpoint is git-ignored)
    record = last_record(out) if resume is None else None
    status = run_status(out, cfg, has_checkpoint=resume is not None or record is not None)
    if status in FINISHED:
        return {**read_json(out / "result.json"), "skipped": True}
    seed_everything(cfg.seed)
    trainer, tok, model = build_trainer(cfg, out)
    if record is not None and status == "resume" and is_main_process():
        resume = rebuild_checkpoint(trainer, out, record)  # θ_0 replayed along the recorded ZO updates
    done_steps = checkpoint_step(resume) if resume is not None and status == "resume" else None
    history = read_jsonl(out / "metrics.jsonl", torn_tail=True) if done_steps is not None else []
    divergence_of(trainer).replay(
        [r for r in history if r.get("step", 0) <= done_steps]
    )  # same on every rank
    if is_main_process():
        start_run(cfg, out, status, profile)
        reset_logs(out, done_steps, cfg.max_steps)
    start = time.perf_counter()
    trains = method_of(cfg).trains
    if trains and done_steps is not None and done_steps >= cfg.max_steps:
        restore_finished(trainer, resume)  # killed after the last checkpoint: evaluate again, train no more
    elif trains:
        trainer.train(resume_from_checkpoint=str(resume) if done_steps is not None else None)
    wall = time.perf_counter() - start
    result = summarize(cfg, out, trainer, wall)
    diverged = divergence_of(trainer)
    if diverged.reason:
        result.update(status="diverged", diverged_at=diverged.step, reason=diverged.reason, eval_loss=None)
    else:
        result.update(evaluate(trainer, tok, model, cfg))
        if is_main_process() or cfg.sharding != "none":  # sharded: the forwards are collectives on every rank
            items = example_losses(model, trainer.data_collator, trainer.eval_dataset, cfg.batch_size)
            if is_main_process():
                write_items(out, items, result)  # before result.json: a finished run always has its items
    if is_main_process():
        if cfg.save_adapter and uses_lora(cfg):
            save_adapter(model, out / ADAPTER_FILE)
        atomic_write_json(out / "result.json", result)
        for folder in ("checkpoints", RECORD_DIR):
            shutil.rmtree(out / folder, ignore_errors=True)
    return result


ADAPTER_FILE = "adapter.safetensors"


def save_adapter(model, path: Path) -> None:
    """The run's final LoRA weights (every `lora_` tensor by name), for analyses at a fixed checkpoint; written to a
    temporary file and renamed, so a killed run never leaves a half-written adapter."""
    from safetensors.torch import save_file

    tmp = Path(path).with_suffix(".tmp")
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if "lora_" in n}, str(tmp))
    tmp.replace(path)


def load_adapter(model, path: Path) -> None:
    """Load `save_adapter`'s tensors into a model wrapped with the same LoRA settings (every name must match)."""
    from safetensors.torch import load_file

    saved, params = load_file(str(path)), dict(model.named_parameters())
    missing = sorted(set(saved) ^ {n for n in params if "lora_" in n})
    if missing:
        raise ValueError(
            f"{path} does not match the model's LoRA tensors (e.g. {missing[:2]}): other LoRA settings?"
        )
    with torch.no_grad():
        for name, tensor in saved.items():
            params[name].copy_(tensor)


def summarize(cfg: RunConfig, out: Path, trainer, wall: float) -> dict:
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    times = [r["step_time"] for r in rows if "step_time" in r][1:]  # the first step includes warm-up
    switch = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, BlockSwitchCallback)]
    n_train = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    return {
        "status": "done",
        "steps": trainer.state.global_step,
        "wall_s": wall,
        "final_train_loss": sum(r["loss"] for r in rows[-5:]) / max(len(rows[-5:]), 1),
        "mean_step_s": sum(times) / len(times) if times else None,
        "trainable_params_end": n_train,
        # ru_maxrss is the peak of the whole process: with several runs in one process it is cumulative
        "process_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "lisa_history": switch[0].history if switch and isinstance(switch[0], LisaCallback) else None,
        "switch_history": switch[0].history if switch else None,
        "score_history": getattr(switch[0].sampler, "history", None) if switch else None,
        **({"zo_stream": trainer.spsa.state_dict()["zo_stream"]} if hasattr(trainer, "spsa") else {}),
    }

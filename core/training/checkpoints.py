"""Crash-safe Trainer checkpoints: a checkpoint counts only once it is complete.

The Trainer writes ``checkpoints/checkpoint-<step>/`` file by file (weights, optimizer, scheduler, RNG states,
trainer state), then the callbacks add their own state (LISA / MISA / IST sampler, ZO generator). A process killed
in between leaves a folder that looks like a checkpoint but cannot be resumed. `CompleteMarker`, the last callback,
writes ``COMPLETE`` into the folder after everything else (the write-then-rename of a single file, applied to a
folder); `last_checkpoint` resumes from the newest marked folder and reports and removes unmarked ones.
With ``save_total_limit = 2`` the previous complete checkpoint is still there when a save is interrupted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import TrainerState

from core.infra.io import atomic_write_json, atomic_write_text, kill_point
from core.training.run import is_main_process

MARKER = "COMPLETE"


def checkpoint_dir(args, state) -> Path:
    """The Trainer's checkpoint folder for the current step (being saved, or resumed from)."""
    return Path(args.output_dir) / f"checkpoint-{state.global_step}"


def save_checkpoint_state(args, state, filename: str, payload: dict) -> None:
    """Write a callback's state into the Trainer checkpoint being saved (rank 0 only), for an exact resume."""
    if state.is_world_process_zero:
        atomic_write_json(checkpoint_dir(args, state) / filename, payload)


def load_checkpoint_state(checkpoint: Path, filename: str, lost: str) -> dict:
    """A callback's state saved in `checkpoint`; missing, a clear error saying what cannot be continued (`lost`)."""
    path = Path(checkpoint) / filename
    if not path.exists():
        raise FileNotFoundError(f"resuming from {checkpoint} but it has no {filename}; {lost}")
    return json.loads(path.read_text())


class CompleteMarker(TrainerCallback):
    """Marks a checkpoint complete after every other `on_save` has written its state: add it last."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            kill_point("ckpt_save")
            atomic_write_text(checkpoint_dir(args, state) / MARKER, f"{state.global_step}\n")


def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-")[1])


def last_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint of run directory `out`; incomplete ones (interrupted saves) are reported and,
    on the main process, removed so that the Trainer can save that step again."""
    ckpts = sorted((Path(out) / "checkpoints").glob("checkpoint-*"), key=checkpoint_step)
    for partial in [c for c in ckpts if not (c / MARKER).exists()]:
        print(
            f"note: ignoring {partial}: its save was interrupted (no {MARKER} marker); removing it",
            flush=True,
        )
        if is_main_process():
            shutil.rmtree(partial, ignore_errors=True)
    complete = [c for c in ckpts if (c / MARKER).exists()]
    return complete[-1] if complete else None


def restore_finished(trainer, checkpoint: Path) -> None:
    """Load a checkpoint taken at ``max_steps`` without training: weights, Trainer state and the callbacks' state
    (their `on_train_begin` restores it), ready for the final evaluation. ``Trainer.train`` resumed from such a
    checkpoint would train one step past ``max_steps`` (it skips the finished batches and steps once more)."""
    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))
    trainer.create_optimizer_and_scheduler(num_training_steps=trainer.state.max_steps)
    handler = trainer.callback_handler
    handler.model, handler.optimizer, handler.lr_scheduler = (
        trainer.model,
        trainer.optimizer,
        trainer.lr_scheduler,
    )
    trainer.control = handler.on_train_begin(trainer.args, trainer.state, trainer.control)
    trainer.accelerator.prepare_model(
        trainer.model, evaluation_mode=True
    )  # as train() would: same eval log row

"""Weight-free ZO checkpoints: a MeZO run's trajectory is its start, its step seeds and its projected gradients.

MeZO (Malladi et al. 2023, §2 "Storage efficiency") notes that a ZO fine-tuning run can be stored as the list of
(step seed, projected gradient) pairs: z is regenerated from the seed, so θ_T = θ_0 − Σ_t lr_t·g_t·m_t⊙z_t is
recomputed exactly. Here that makes a resume point that fits in git. A Trainer checkpoint of a ZO run is the model
weights (91 MB for all-MiniLM-L6-v2) plus small files (trainer state, RNG states, scheduler, the SGD optimizer's
empty state, `zo_state.json`); those checkpoints are git-ignored, so a run cut by the end of a session on a machine
that keeps only the repository lost every step of its unfinished runs.

- `ReplayRecord` (a callback, after `CompleteMarker`): with every complete checkpoint it copies the checkpoint
  without its weight, model-config and tokenizer files to ``<run dir>/zo_resume/checkpoint-<step>/`` (atomic:
  written beside, then renamed; older records removed). `core.training.zo.SPSA` keeps every applied update (step seed,
  g, lr, weight decay) in its state, so the record's ``zo_state.json`` holds the whole trajectory (~80 bytes a step).
- `rebuild_checkpoint`: when a run has no complete checkpoint but a record, the freshly built model (θ_0, built
  exactly as for a new run) is moved along the recorded updates with `SPSA.update` (the same code, the same
  blocks of z, the mask computed from the same θ_t), its weights are saved into ``checkpoints/checkpoint-<step>``
  beside the record's files, and the Trainer resumes from there as from any checkpoint: bit for bit
  (`tests/test_sparse_mezo.py`). The replay costs one z generation per recorded step and no forward pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from transformers import TrainerCallback

from core.infra.io import read_json
from core.training.checkpoints import MARKER, checkpoint_dir, checkpoint_step
from core.training.run import is_main_process

RECORD_DIR = "zo_resume"
# what `Trainer.save_model` writes (weights, model config, tokenizer), so the rebuild writes it again
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json")
WEIGHT_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "adapter_model.bin")
SAVED_WITH_MODEL = (
    "config.json",
    "generation_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
)


def is_weight_file(path: Path) -> bool:
    return path.name.endswith(WEIGHT_SUFFIXES) or path.name in WEIGHT_FILES


def rebuilt_by_save_model(path: Path) -> bool:
    """Left out of a record: weights, and the config / tokenizer files that `save_model` writes with them."""
    return is_weight_file(path) or path.name in SAVED_WITH_MODEL or path.name.startswith("tokenizer")


def last_record(out: Path) -> Path | None:
    """The newest complete weight-free record of run directory `out` (None if there is none)."""
    records = [r for r in (Path(out) / RECORD_DIR).glob("checkpoint-*") if (r / MARKER).exists()]
    return max(records, key=checkpoint_step) if records else None


class ReplayRecord(TrainerCallback):
    """Copies each complete checkpoint, without its weights, to ``<run dir>/zo_resume/`` (add it after
    `CompleteMarker`, so only marked checkpoints are copied)."""

    def __init__(self, out: Path):
        self.root = Path(out) / RECORD_DIR

    def on_save(self, args, state, control, **kwargs):
        if not is_main_process():
            return
        source = checkpoint_dir(args, state)
        if not (source / MARKER).exists():
            return
        tmp = self.root / f".{source.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(
            source, tmp, ignore=lambda d, names: [n for n in names if rebuilt_by_save_model(Path(d) / n)]
        )
        for old in self.root.glob("checkpoint-*"):
            shutil.rmtree(old)
        os.replace(tmp, self.root / source.name)


def rebuild_checkpoint(trainer, out: Path, record: Path) -> Path:
    """``checkpoints/checkpoint-<step>`` rebuilt from a weight-free `record`: the trainer's model (θ_0) replayed
    along the recorded updates, saved with `Trainer.save_model`, plus the record's files (marker last)."""
    state = read_json(record / "zo_state.json")
    updates = state.get("updates")
    step = checkpoint_step(record)
    if updates is None or len(updates) != step:  # e.g. a run resumed from a checkpoint made before `updates`
        raise ValueError(
            f"{record} holds {0 if updates is None else len(updates)} recorded ZO updates for {step} steps, so its "
            f"weights cannot be rebuilt; delete {record.parent} to restart the run from step 0"
        )
    spsa = trainer.spsa
    if state.get("mask") is not None:
        spsa.mask.load_state_dict(state["mask"])
    spsa.replay(updates)
    target = Path(out) / "checkpoints" / record.name
    tmp = target.with_name(f".{record.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(record, tmp, ignore=lambda d, names: [MARKER] if MARKER in names else [])
    trainer.save_model(str(tmp))
    shutil.copy2(record / MARKER, tmp / MARKER)
    os.replace(tmp, target)
    print(f"note: rebuilt {target} from {record} ({len(updates)} ZO updates replayed)", flush=True)
    return target

"""Worker for tests/test_ddp.py, launched with torchrun (or plainly for the 1-process reference).

    python tests/ddp_worker.py <run|cut|badseed> '<RunConfig JSON>' <run dir>

Trains through `core.training.finetune.train` and writes ``rank<r>.json`` into the run dir: per optimizer step, the
active blocks, the layers holding optimizer state and the layers with requires_grad, as this rank sees them,
and (under DDP) the parameter tensors / bytes DDP's reducer covers next to those that require grad.
``cut`` stops the run (exit code 3) right after its first checkpoint; ``badseed`` gives every rank a
different sampler seed, which the switch check must refuse.
"""

import json
import os
import sys
from pathlib import Path

from transformers import TrainerCallback

import core.training.finetune as ft
from core.sources.layers import find_blocks
from core.training.callbacks import BlockSwitchCallback
from core.training.checks import run_config
from core.training.ddp import reducer_parameters, trainable_parameters, wrapped_ddp
from core.training.optimizers import base_optimizer

mode, cfg, out = sys.argv[1], run_config(json.loads(sys.argv[2])), Path(sys.argv[3])
rank = int(os.environ.get("RANK", "0"))


class Record(TrainerCallback):
    def __init__(self):
        self.rows = []

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
        layers = find_blocks(model).layers
        st = base_optimizer(optimizer).state
        switch = next(cb for cb in self.handler.callbacks if isinstance(cb, BlockSwitchCallback))
        self.rows.append(
            {
                "step": state.global_step,
                "active": switch.active,
                "with_state": [i for i, (_, m) in enumerate(layers) if any(p in st for p in m.parameters())],
                "requires_grad": [
                    i for i, (_, m) in enumerate(layers) if any(p.requires_grad for p in m.parameters())
                ],
            }
        )
        ddp = wrapped_ddp(self.trainer)
        if ddp is not None:
            self.rows[-1].update(reducer=reducer_parameters(ddp), trainable=trainable_parameters(ddp.module))

    def on_train_end(self, args, state, control, **kw):
        out.mkdir(parents=True, exist_ok=True)
        (out / f"rank{rank}.json").write_text(json.dumps(self.rows))


class Cut(TrainerCallback):
    def on_save(self, args, state, control, **kw):
        sys.exit(3)


orig = ft.build_trainer


def build_with_probes(c, o):
    trainer, tok, model = orig(c, o)
    record = Record()
    record.handler, record.trainer = trainer.callback_handler, trainer
    trainer.add_callback(record)
    if mode == "cut":
        trainer.add_callback(Cut())
    if mode == "badseed":
        switch = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, BlockSwitchCallback))
        if hasattr(switch, "kw"):
            switch.kw["seed"] = 100 + rank
        else:
            switch.seed = 100 + rank
    return trainer, tok, model


ft.build_trainer = build_with_probes
ft.train(cfg, out)

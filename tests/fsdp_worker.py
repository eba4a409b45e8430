"""Worker for tests/test_fsdp.py: `core.running.experiment.main` with a probe on every run, launched with torchrun (or
plainly for the 1-process reference).

    python tests/fsdp_worker.py <run|badseed> <core.running.experiment arguments ...>

Writes ``rank<r>.json`` into each run dir: per optimizer step the active blocks (None without a switching
callback), the layers with requires_grad and with optimizer state, and this rank's optimizer-state bytes
(`core.training.optimizers.optimizer_state_bytes`: local shards under FSDP2); at the end, which layers' full weights
moved from their initial values. ``badseed`` gives every rank a different sampler seed, which the switch check refuses.
"""

import json
import os
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

import core.running.experiment
import core.training.finetune as ft
from core.sources.layers import find_blocks
from core.training.callbacks import BlockSwitchCallback
from core.training.dtensor import full_value
from core.training.optimizers import optimizer_state_bytes, state_holder

torch.set_num_threads(1)
mode, argv = sys.argv[1], sys.argv[2:]
rank = int(os.environ.get("RANK", "0"))


def full_layers(model) -> list[list[torch.Tensor]]:
    """Every layer's full weights (a collective under FSDP2: every rank calls it in the same order)."""
    return [[full_value(p.detach()).clone() for p in m.parameters()] for _, m in find_blocks(model).layers]


class Record(TrainerCallback):
    def __init__(self, out: Path, handler):
        self.out, self.handler, self.rows, self.start = out, handler, [], None

    def switch(self):
        return next((cb for cb in self.handler.callbacks if isinstance(cb, BlockSwitchCallback)), None)

    def on_train_begin(self, args, state, control, model=None, **kw):
        self.start = full_layers(model)

    def on_step_end(self, args, state, control, model=None, optimizer=None, **kw):
        layers, st, switch = find_blocks(model).layers, state_holder(optimizer).state, self.switch()
        self.rows.append(
            {
                "step": state.global_step,
                "active": None if switch is None else switch.active,
                "with_state": [i for i, (_, m) in enumerate(layers) if any(p in st for p in m.parameters())],
                "requires_grad": [
                    i for i, (_, m) in enumerate(layers) if any(p.requires_grad for p in m.parameters())
                ],
                "state_bytes": optimizer_state_bytes(optimizer),
            }
        )

    def on_train_end(self, args, state, control, model=None, **kw):
        end = full_layers(model)
        moved = [
            i
            for i, (a, b) in enumerate(zip(self.start, end))
            if any(not torch.equal(x, y) for x, y in zip(a, b))
        ]
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"rank{rank}.json").write_text(json.dumps({"steps": self.rows, "moved_layers": moved}))


orig = ft.build_trainer


def build_with_probes(cfg, out):
    trainer, tok, model = orig(cfg, out)
    trainer.add_callback(Record(Path(out), trainer.callback_handler))
    if mode == "badseed":
        switch = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, BlockSwitchCallback))
        if hasattr(switch, "kw"):
            switch.kw["seed"] = 100 + rank
        else:
            switch.seed = 100 + rank
    return trainer, tok, model


ft.build_trainer = build_with_probes
sys.exit(core.running.experiment.main(argv))

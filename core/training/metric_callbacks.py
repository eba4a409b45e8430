"""`transformers.Trainer` callbacks that record, never steer: every log row to metrics.jsonl, per-block weight
norms (LISA §3.1, Fig. 2), and the full-gradient probe of MISA's convergence rate (Thm. 2)."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from core.analysis.norms import block_norms, snapshot
from core.infra.io import append_jsonl
from core.sources.models import eval_mode


class MetricsCallback(TrainerCallback):
    """Append every log (loss, lr, grad norm, step time) to metrics.jsonl (a NaN loss is
    `core.training.divergence`'s)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._t0 = None
        self.step_times: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._t0 is not None:
            self.step_times.append(time.perf_counter() - self._t0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        row = {
            "step": state.global_step,
            **{k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))},
        }
        if self.step_times and "loss" in row:
            row["step_time"] = self.step_times[-1]
        if state.is_world_process_zero:
            append_jsonl(self.path, row)


class WeightNormCallback(TrainerCallback):
    """LISA §3.1 / Fig. 2: per-block weight norms recorded during training (every `every` steps)."""

    def __init__(self, path: Path, every: int = 1):
        self.path, self.every = Path(path), every
        self.init = None

    def on_init_end(self, args, state, control, model=None, **kwargs):
        """W0 when the Trainer is built, before a resumed run loads its checkpoint's weights (which happens before
        on_train_begin): ΔW = W − W0 is then measured from the start of training, resumed or not."""
        self.init = snapshot(model)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if (
            self.init is None
        ):  # added after the Trainer was built: a resumed run would measure from its checkpoint
            self.init = snapshot(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0 and state.is_world_process_zero:
            append_jsonl(self.path, {"step": state.global_step, **block_norms(model, self.init)})


class FullGradNormCallback(TrainerCallback):
    """Convergence probe (MISA Thm. 2 bounds min_k E‖∇f(θ_k)‖² by O(1/√K)): every `every` optimizer steps, the
    loss and the squared norm of the gradient w.r.t. *all* parameters on a fixed batch, computed with
    `torch.autograd.grad` so no `.grad`, optimizer state or `requires_grad` flag of the run is touched.
    Rows go to ``probes.jsonl``; step 0 (before training) is probed too."""

    def __init__(self, path: Path, batch: dict, every: int):
        if every <= 0:
            raise ValueError(f"probe interval must be > 0, got {every}")
        self.path, self.batch, self.every = Path(path), batch, every

    def probe(self, model, step: int) -> None:
        params = list(model.parameters())
        flags = [p.requires_grad for p in params]
        try:
            for p in params:
                p.requires_grad_(True)
            batch = {k: v.to(params[0].device) for k, v in self.batch.items()}
            with eval_mode(model), torch.enable_grad():
                loss = model(**batch).loss
                grads = torch.autograd.grad(loss, params, allow_unused=True)
            sq = float(sum(g.double().pow(2).sum() for g in grads if g is not None))
        finally:
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)
        append_jsonl(self.path, {"step": step, "probe_loss": loss.item(), "full_grad_sq": sq})

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0 and state.is_world_process_zero:
            self.probe(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if (
            state.global_step % self.every == 0 and state.is_world_process_zero
        ):  # no collectives: rank 0 alone
            self.probe(model, state.global_step)

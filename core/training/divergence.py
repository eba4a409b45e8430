"""Stop a diverging run early and say why (`RunConfig.divergence`).

Checked on every logged training step (``logging_steps = 1``, so every optimizer step):
- a non-finite loss, gradient norm or evaluation loss stops the run at once;
- a loss above ``loss_factor`` x the first logged loss for ``patience`` steps in a row (a blown-up run whose loss
  stays finite; the committed CPU runs peak at 2.0 x their first loss);
- a gradient norm, or for zeroth-order runs the SPSA projected gradient, of exactly 0 for ``zero_grad_steps``
  steps in a row (weights so large that the softmax saturates: the loss no longer moves).

The callback only sets ``should_training_stop``; `core.training.finetune` then writes ``result.json`` with
``status: diverged`` and the reason, and `core.running.experiment` reports it in one line and exits non-zero.
"""

from __future__ import annotations

import math

from transformers import TrainerCallback

from core.infra.io import kill_point


class DivergenceCallback(TrainerCallback):
    """Watches the logged loss and gradient; `reason` / `step` say why and when it stopped the run."""

    def __init__(self, loss_factor: float = 10.0, patience: int = 5, zero_grad_steps: int = 10):
        self.loss_factor, self.patience, self.zero_grad_steps = loss_factor, patience, zero_grad_steps
        self.first_loss = None
        self.high = self.zero = 0
        self.reason: str | None = None
        self.step: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            kill_point("first_step")

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        reason = self.check(logs)
        if reason and self.reason is None:
            self.reason, self.step = reason, state.global_step
            control.should_training_stop = True

    def replay(self, rows: list[dict]) -> None:
        """Resume: rebuild the first loss and the counters from the rows logged before the checkpoint."""
        for row in rows:
            self.check(row)

    def check(self, logs: dict) -> str | None:
        """The reason this log row ends the run, or None."""
        bad = {
            k: logs[k]
            for k in ("loss", "grad_norm", "projected_grad", "eval_loss")
            if isinstance(logs.get(k), (int, float)) and not math.isfinite(logs[k])
        }
        if bad:
            return f"non-finite {', '.join(f'{k} {v}' for k, v in bad.items())}"
        if "loss" not in logs:
            return None
        loss, grad = logs["loss"], logs.get("projected_grad", logs.get("grad_norm"))
        if self.first_loss is None:
            self.first_loss = loss
        self.high = self.high + 1 if self.loss_factor and loss > self.loss_factor * self.first_loss else 0
        self.zero = self.zero + 1 if grad == 0 else 0
        if self.patience and self.high >= self.patience:
            return (
                f"loss {loss:.4g} above {self.loss_factor:g} x the first loss {self.first_loss:.4g} for "
                f"{self.high} steps"
            )
        if self.zero_grad_steps and self.zero >= self.zero_grad_steps:
            what = "projected gradient" if "projected_grad" in logs else "gradient norm"
            return f"{what} exactly 0 for {self.zero} steps (loss {loss:.4g} no longer moves)"
        return None

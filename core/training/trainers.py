"""`ZOTrainer`: MeZO / Sparse MeZO inside `transformers.Trainer`, by overriding `training_step` only.

MeZO (Malladi et al. 2023) forks the whole Trainer loop and reseeds the global RNG; here the Trainer's own loop,
data order, lr schedule, logging, checkpointing and resume are kept, and one `training_step` is one SPSA step
of `core.training.zo` (Alg. 1 of MeZO; with a mask, Alg. S-MeZO of Sparse MeZO) on a private generator:
- probes run in eval mode under no_grad (MeZO's `zo_forward`: dropout off), the loss logged is L(θ + εz);
- the update θ ← θ − lr·(g·m⊙z + wd·θ) reads the lr from the Trainer's scheduler; weight decay skips biases and
  norms, as in MeZO's `zo_update`; the optimizer the Trainer steps is a stateless SGD that never sees a gradient,
  so no optimizer state exists;
- gradient accumulation must be 1 (MeZO asserts the same);
- under torchrun, every rank probes its share of the batch and one all-reduce of the two (token-weighted) losses
  gives all ranks the same g, hence the same update (`core.training.zo_dp`); the model is never run through DDP;
- the SPSA generator, the z stream's version (`core.training.zo_stream.STREAM`) and the mask state are saved in every
  checkpoint (`zo_state.json`), so a resumed run continues the same trajectory bit for bit (a checkpoint made
  with another z stream is refused);
- the projected gradient g of each step is logged as ``projected_grad`` (there is no gradient norm: the Trainer's
  ``grad_norm`` of a run without backprop would read 0.0); a NaN/inf probe loss skips the update and logs a NaN
  loss, which stops the run as diverged (`core.training.divergence`).
"""

from __future__ import annotations

import torch
from transformers import Trainer, TrainerCallback

from core.training.checkpoints import checkpoint_dir, load_checkpoint_state, save_checkpoint_state
from core.training.settings import ZoSettings
from core.training.zo import SPSA, MagnitudeMask, RandomMask
from core.training.zo_dp import PAYLOAD_BYTES, combiner, data_parallel

STATE_FILE = "zo_state.json"


def zo_mask(kind: str, sparsity: float, seed: int = 0):
    """None for dense MeZO (sparsity 0), else Sparse MeZO's magnitude mask or the R-MeZO random control."""
    if sparsity == 0:
        return None
    if kind == "magnitude":
        return MagnitudeMask(sparsity)
    if kind == "random":
        return RandomMask(sparsity, seed)
    raise ValueError(f"zo mask must be 'magnitude' or 'random', got {kind!r}")


class ZOStateCallback(TrainerCallback):
    """Saves the SPSA state with each checkpoint and restores it when the Trainer resumes."""

    def __init__(self, spsa: SPSA):
        self.spsa = spsa

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step > 0:
            self.spsa.load_state_dict(
                load_checkpoint_state(
                    checkpoint_dir(args, state),
                    STATE_FILE,
                    "the ZO run's random directions cannot be continued; delete the checkpoint to restart from step 0",
                )
            )

    def on_save(self, args, state, control, **kwargs):
        save_checkpoint_state(args, state, STATE_FILE, self.spsa.state_dict())


class ZOTrainer(Trainer):
    """A `transformers.Trainer` whose every step is one SPSA (MeZO) step; `mask` makes it Sparse MeZO."""

    def __init__(self, *args, eps: float = ZoSettings.eps, mask=None, zo_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.gradient_accumulation_steps != 1:
            raise ValueError(
                "ZO training needs grad_accum = 1 (one SPSA estimate per step, as MeZO asserts); "
                "raise batch_size instead"
            )
        self.spsa = SPSA(self.model, eps=eps, mask=mask, seed=zo_seed)
        self.projected_grad = None
        self.add_callback(ZOStateCallback(self.spsa))

    def create_optimizer(self):
        """A stateless SGD over the ZO parameters: it only carries the lr schedule (it never gets a gradient)."""
        if self.optimizer is None:
            self.optimizer = torch.optim.SGD([p for _, p in self.spsa.params], lr=self.args.learning_rate)
        return self.optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        inputs = self._prepare_inputs(inputs)
        model = (
            self.model
        )  # no gradient to reduce: never DDP's wrapper (it would also broadcast buffers each forward)
        model.eval()
        lr = self.optimizer.param_groups[0]["lr"]
        combine = combiner(
            inputs
        )  # under torchrun: the whole batch's two losses, one all-reduce (core.training.zo_dp)
        try:
            self.projected_grad, loss = self.spsa.estimate(lambda: self.compute_loss(model, inputs), combine)
        except FloatingPointError:  # no update; the NaN loss logged for this step stops the run as diverged
            self.projected_grad, loss = float("nan"), float("nan")
        else:
            self.spsa.update(self.projected_grad, lr, self.args.weight_decay)
        return torch.tensor(loss, device=self.args.device)

    def log(self, logs: dict, *args, **kwargs) -> None:
        """Training rows carry the step's projected gradient instead of the Trainer's (empty) gradient norm."""
        if "loss" in logs and self.projected_grad is not None:
            logs.pop("grad_norm", None)
            logs["projected_grad"] = self.projected_grad
            if data_parallel():
                logs["zo_allreduce_bytes"] = PAYLOAD_BYTES  # all this step exchanged between ranks
        super().log(logs, *args, **kwargs)

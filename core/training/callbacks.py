"""`transformers.Trainer` callbacks that switch blocks (LISA; MISA/IST reuse it); metrics, weight norms and the
full-gradient probe are in `core.training.metric_callbacks`, a callback's resume state in `core.training.checkpoints`.

One switching mechanism serves every sampler: every `interval` optimizer steps the callback asks its
sampler for the active blocks, turns ``requires_grad`` on for them and off for the rest, and drops the
gradients and AdamW state of blocks that went inactive (so memory stays flat across switches; the
reference LISA callback keeps that state forever, LMFlow #768/#778). The optimizer must already hold
every block's parameters: freezing before the Trainer builds it was LMFlow bug #726. Under DDP, a callback
bound to its Trainer (`bind`) rebuilds DDP's reducer after each switch over exactly the active parameters
(`core.training.ddp`). Under FSDP2 (`core.training.fsdp`) the same toggles act on the sharded parameters, and FSDP2
reduce-scatters only the gradients of those that require grad; the state freed is this rank's shard.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import TrainerCallback

from core.infra.io import append_jsonl
from core.sources.layers import find_blocks, module_blocks
from core.sources.models import eval_mode
from core.training.checkpoints import checkpoint_dir, load_checkpoint_state, save_checkpoint_state
from core.training.ddp import check_same_on_all_ranks, rebuild_reducer, wrapped_ddp
from core.training.dtensor import full_value
from core.training.optimizers import optimizer_params, optimizer_state_bytes, set_trainable
from core.training.sampling import ISTScores, ModuleImportanceSampler, UniformLayerSampler
from core.training.settings import IstSettings, LisaSettings, MisaSettings


class BlockSwitchCallback(TrainerCallback):
    """Shared switching machinery; subclasses define `setup(model)` (fills `self.blocks`) and `choose()`.

    Switches at optimizer steps 0, K, 2K, ... (`on_step_begin` fires once per optimizer step, so gradient
    accumulation is respected). The sampler state and active set are saved in every checkpoint and
    restored on resume, so an interrupted run continues the same sequence.
    """

    state_file = "block_switch.json"
    free_state = (
        True  # a deselected block's gradient and optimizer state are dropped (ISTCallback may keep them)
    )

    def __init__(self, interval: int):
        if interval <= 0:
            raise ValueError(
                f"switch interval K must be a positive number of optimizer steps, got {interval}"
            )
        self.interval = interval
        self.blocks: dict[str, list[torch.nn.Parameter]] = {}
        self.active: list[str] = []
        self.switched_at = -1
        self.history: list[dict] = []
        self.optimizer = None
        self.sampler = None
        self.trainer = None
        self.reducer_over = None

    @classmethod
    def from_settings(cls, settings, seed: int = 0, **extra):
        """The callback of a method's settings object (`core.training.settings`; every field is a keyword of `cls`),
        with the run's `seed`; `extra` keywords win over the settings' (e.g. IST's probe-batch function)."""
        return cls(**{**dataclasses.asdict(settings), "seed": seed, **extra})

    def bind(self, trainer):
        """Let the callback reach the Trainer's DDP wrapper, so every switch rebuilds DDP's reducer over exactly
        the active parameters (`core.training.ddp.rebuild_reducer`). Unbound, DDP keeps the buckets it built at wrap
        time for every parameter (correct with ``find_unused_parameters``, one gradient-sized buffer more).
        ``trainer.add_callback(cb.bind(trainer))``; `core.training.finetune` does it for every run."""
        self.trainer = trainer
        return self

    def setup(self, model) -> None:
        raise NotImplementedError

    def attach(self, model, optimizer=None) -> BlockSwitchCallback:
        """Set the callback up on `model` and the `optimizer` that will step it, as a Trainer does at the start
        of training; the public way to drive it by hand (`core.costs.bench`, papers' studies): then ``switch(step)``
        draws the active blocks. The optimizer must already hold every block (LMFlow bug #726); without one
        (probe-only uses) nothing is checked and no optimizer state is freed."""
        self.optimizer = optimizer
        self.setup(model)
        if optimizer is not None:
            known = optimizer_params(optimizer)
            missing = [n for n, ps in self.blocks.items() if any(id(p) not in known for p in ps)]
            if missing:
                raise RuntimeError(
                    f"blocks {missing[:3]} are not in the optimizer: were they frozen before the "
                    "Trainer built it? Leave them trainable; the callback freezes them itself"
                )
        return self

    def choose(self) -> list[str]:
        raise NotImplementedError

    def sampler_state(self) -> dict:
        return self.sampler.state_dict() if self.sampler is not None else {}

    def load_sampler_state(self, state: dict) -> None:
        if self.sampler is not None:
            self.sampler.load_state_dict(state)

    def always_trained(self, parts) -> set[int]:
        """ids of the embedding / head parameters that stay trainable whatever is sampled
        (subclasses set `train_embeddings` / `train_head`)."""
        return {
            id(p)
            for on, mods in ((self.train_embeddings, parts.embeddings), (self.train_head, parts.head))
            if on
            for _, m in mods
            for p in m.parameters()
        }

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        if optimizer is None:
            raise RuntimeError(
                f"{type(self).__name__} needs the optimizer to exist before it freezes layers; "
                "add it to a transformers.Trainer (which builds the optimizer before training)"
            )
        self.attach(model, optimizer)
        if state.global_step > 0:
            self._restore(checkpoint_dir(args, state))

    def should_switch(self, step: int) -> bool:
        return step % self.interval == 0

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step != self.switched_at and self.should_switch(state.global_step):
            self.switch(state.global_step)

    def switch(self, step: int) -> None:
        self.apply(self.choose())
        check_same_on_all_ranks(self.active, f"active blocks at step {step}")
        self.switched_at = step
        self.history.append({"step": step, "active": list(self.active)})

    def apply(self, names: list[str]) -> None:
        unknown = set(names) - set(self.blocks)
        if unknown:
            raise KeyError(f"unknown blocks {sorted(unknown)}")
        state_owner = self.optimizer if self.free_state else None  # kept state: AdamW skips grad-less params
        for name, params in self.blocks.items():
            set_trainable(params, name in names, state_owner)
        self.active = list(names)
        self.sync_ddp_reducer()

    def sync_ddp_reducer(self) -> None:
        """Under DDP (bound Trainer), rebuild the reducer when the trainable set changed since the last build."""
        ddp = wrapped_ddp(self.trainer)
        if ddp is None:
            return
        trainable = tuple(id(p) for p in ddp.module.parameters() if p.requires_grad)
        if trainable != self.reducer_over:
            rebuild_reducer(ddp)
            self.reducer_over = trainable

    def on_save(self, args, state, control, **kwargs):
        save_checkpoint_state(
            args,
            state,
            self.state_file,
            {
                "active": self.active,
                "switched_at": self.switched_at,
                "history": self.history,
                "sampler": self.sampler_state(),
            },
        )

    def _restore(self, checkpoint: Path) -> None:
        saved = load_checkpoint_state(
            checkpoint,
            self.state_file,
            f"the checkpoint was written without {type(self).__name__}, so its layer sequence is unknown",
        )
        self.load_sampler_state(saved["sampler"])
        self.history, self.switched_at = saved["history"], saved["switched_at"]
        self.apply(saved["active"])


class LisaCallback(BlockSwitchCallback):
    """LISA (Pan et al. 2024, Alg. 1): embeddings + head always trained, γ middle layers every K steps.

    ``trainer.add_callback(LisaCallback(gamma=2, interval=20))`` is all a user adds; the defaults are
    `core.training.settings.LisaSettings`'s.
    """

    def __init__(
        self,
        gamma: int = LisaSettings.gamma,
        interval: int = LisaSettings.interval,
        seed: int = 0,
        train_embeddings: bool = LisaSettings.train_embeddings,
        train_head: bool = LisaSettings.train_head,
    ):
        super().__init__(interval)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma, self.seed = gamma, seed
        self.train_embeddings, self.train_head = train_embeddings, train_head

    def setup(self, model) -> None:
        parts = find_blocks(model)
        self.sampler = UniformLayerSampler(parts.n_layers, self.gamma, self.seed)
        self.blocks = {f"layer{i}": list(m.parameters()) for i, (_, m) in enumerate(parts.layers)}
        keep = self.always_trained(parts)
        fixed = [p for _, m in parts.embeddings + parts.head for p in m.parameters() if id(p) not in keep]
        set_trainable(fixed, False, self.optimizer)

    def choose(self) -> list[str]:
        return [f"layer{i}" for i in self.sampler.sample()]


class MisaCallback(BlockSwitchCallback):
    """MISA (Liu et al. 2025): every weight matrix inside the layers is a block; blocks are sampled by
    `ModuleImportanceSampler` under the budget δ (a fraction of *all* parameters) every T steps, and every
    step while some block was never used (reference warm-up). Norm weights are never trained; embeddings
    and head optionally always trained. Gradient norms of active blocks are read after clipping, before
    the optimizer step, as in the reference.
    """

    def __init__(
        self,
        budget: float = MisaSettings.budget,
        eta: float = MisaSettings.eta,
        interval: int = MisaSettings.interval,
        beta: float = MisaSettings.beta,
        clip: float = MisaSettings.clip,
        sample_last: int = MisaSettings.sample_last,
        seed: int = 0,
        train_embeddings: bool = MisaSettings.train_embeddings,
        train_head: bool = MisaSettings.train_head,
    ):
        super().__init__(interval)
        self.kw = dict(
            budget=budget, eta=eta, beta=beta, clip=clip, seed=seed, period=interval, sample_last=sample_last
        )
        self.train_embeddings, self.train_head = train_embeddings, train_head

    def setup(self, model) -> None:
        parts = find_blocks(model)
        self.blocks = {name: [weight] for name, weight in module_blocks(model).items()}
        total = sum(p.numel() for p in model.parameters())
        self.sampler = ModuleImportanceSampler(
            [ps[0].numel() for ps in self.blocks.values()], total=total, **self.kw
        )
        in_blocks = {id(p) for ps in self.blocks.values() for p in ps}
        keep = self.always_trained(parts)
        set_trainable(
            [p for p in model.parameters() if id(p) not in in_blocks and id(p) not in keep],
            False,
            self.optimizer,
        )

    def should_switch(self, step: int) -> bool:
        return step % self.interval == 0 or -1 in self.sampler.last_used

    def choose(self) -> list[str]:
        names = list(self.blocks)
        return [names[b] for b in self.sampler.sample()]

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        names = list(self.blocks)
        norms = {}
        for b, name in enumerate(names):
            grad = self.blocks[name][0].grad
            if name in self.active and grad is not None:
                norm = float(full_value(grad.float().norm()))  # sharded: reduced over the ranks' shards
                norms[b] = norm if math.isfinite(norm) else 1.0
        self.sampler.update(norms)


class ISTCallback(BlockSwitchCallback):
    """IST (Yao et al. 2024) over a peft LoRA (or DoRA) model: every step only the adapters of the layers drawn
    by `ISTScores.select` train; every `interval` steps (not at 0) `n_probes` probe forwards on a training batch,
    each with a set of layers' adapters scaled by `suppression` (reference 0.25; 0 removes them), update the
    scores. ``uniform=True``: random layers, no probes (control). `probe_batch(sampler)` returns a model-ready
    batch (the Trainer run passes one drawn from the training set).

    ``free_state=True`` (the repo's switching contract): a deselected adapter keeps no gradient or AdamW state, so
    its moments restart when it is drawn again. ``free_state=False`` is the reference's behaviour (`ist.py` never
    touches the optimizer; papers/ist/REFERENCE.md §2 item 5): the state stays allocated and is reused stale.
    With `log_path`, one JSON row per step (step, the selected layers, every layer's score, the probe losses
    when the scores were updated, the AdamW state bytes) goes to that file: the score trajectories.
    """

    def __init__(
        self,
        interval: int = IstSettings.interval,
        update_frac: float = IstSettings.update_frac,
        suppress_frac: float = IstSettings.suppress_frac,
        n_probes: int = IstSettings.n_probes,
        lr: float = IstSettings.lr,
        suppression: float = IstSettings.suppression,
        seed: int = 0,
        uniform: bool = IstSettings.uniform,
        probe_batch=None,
        free_state: bool = IstSettings.free_state,
        log_path=None,
    ):
        super().__init__(1)
        if interval <= 0:
            raise ValueError(f"IST probe interval must be > 0, got {interval}")
        self.probe_interval, self.suppression, self.probe_batch = interval, suppression, probe_batch
        self.free_state, self.log_path, self.probe_losses = free_state, log_path, None
        self.kw = dict(
            update_frac=update_frac,
            suppress_frac=suppress_frac,
            n_probes=n_probes,
            lr=lr,
            seed=seed,
            uniform=uniform,
        )

    def setup(self, model) -> None:
        layers = find_blocks(model).layers
        self.blocks = {
            f"layer{i}": [p for n, p in layer.named_parameters() if "lora_" in n]
            for i, (_, layer) in enumerate(layers)
        }
        if not any(self.blocks.values()):
            raise ValueError(
                "IST trains LoRA adapters, but the model's layers hold no `lora_` parameters: wrap it "
                "with peft (method: ist does this) before adding ISTCallback"
            )
        self.adapters = [
            [m for m in layer.modules() if isinstance(getattr(m, "scaling", None), dict) and m.scaling]
            for _, layer in layers
        ]
        self.sampler = ISTScores(len(layers), **self.kw)

    def choose(self) -> list[str]:
        return [f"layer{i}" for i in self.sampler.select()]

    @contextmanager
    def suppressed(self, layers: list[int]):
        """Scale the LoRA branch of `layers` by `suppression`; restored on exit."""
        saved = [(m, dict(m.scaling)) for i in layers for m in self.adapters[i]]
        try:
            for m, scaling in saved:
                for name in scaling:
                    m.scaling[name] = scaling[name] * self.suppression
            yield
        finally:
            for m, scaling in saved:
                m.scaling.update(scaling)

    def probe(self, model) -> list[float]:
        if self.probe_batch is None:
            raise RuntimeError(
                "ISTCallback needs `probe_batch` (a function sampler -> batch) to update scores"
            )
        batch = {k: v.to(model.device) for k, v in self.probe_batch(self.sampler).items()}
        sets, losses = self.sampler.probe_sets(), []
        with eval_mode(model), torch.inference_mode():
            for layers in sets:
                with self.suppressed(layers):
                    losses.append(float(model(**batch).loss))
        self.sampler.update(sets, losses)
        return losses

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if (
            step > 0
            and step % self.probe_interval == 0
            and step != self.switched_at
            and not self.sampler.uniform
        ):
            self.probe_losses = self.probe(model)
        super().on_step_begin(args, state, control, **kwargs)

    def on_step_end(self, args, state, control, **kwargs):
        """Log the step's selection and the scores it was drawn from (rows keyed by the finished step's number)."""
        if self.log_path is not None and state.is_world_process_zero:
            scores = self.sampler.scores.tolist()
            append_jsonl(
                self.log_path,
                {
                    "step": state.global_step,
                    "selected": [int(n[5:]) for n in self.active],
                    "scores": scores,
                    "spread": max(scores) - min(scores),
                    "probe_losses": self.probe_losses,
                    "optimizer_state_bytes": optimizer_state_bytes(self.optimizer),
                },
            )
        self.probe_losses = None

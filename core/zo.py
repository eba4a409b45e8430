"""Zeroth-order fine-tuning primitives: SPSA (MeZO, Malladi et al. 2023, Alg. 1) and Sparse MeZO's masked
perturbations (Liu et al. 2024, Alg. S-MeZO), for any `nn.Module` with a loss closure (no transformers import).

One step: draw a step seed; L± = loss at θ ± ε·m⊙z; projected gradient g = (L+ − L−)/2ε; update
θ ← θ − lr·(g·m⊙z + wd·θ). z ~ N(0, I) is regenerated from (step seed, parameter index) on a private
`torch.Generator` whenever needed (the seed trick): no z, no mask and no second copy of the parameters is
stored. Unlike MeZO's in-place +ε/−2ε/+ε edits, the perturbation is applied inside each module's forward
(a pre-hook swaps in θ + s·ε·m⊙z computed from the *unperturbed* θ, a post-hook puts θ back), as Sparse MeZO's
efficient implementation does (§3.3): the mask is then always computed from θ_t, and the parameters after the
probes are bit-identical to before. Transient memory: one module's perturbed weights.

Masks are functions ``mask(name, param) -> bool tensor`` evaluated on the fly; a mask with a ``mask_(name, param,
z)`` method zeroes z in place instead, chunk by chunk (`MagnitudeBand.mask_`: no tensor-sized |θ| or mask):
`MagnitudeMask(sparsity)` keeps the entries with |θ| under a per-tensor threshold fixed at the start to the
(1 − sparsity) quantile (Sparse MeZO's dynamic mask),
`RandomMask(sparsity, seed)` a fixed random subset of the same size (R-MeZO control).
"""
from __future__ import annotations

import math
import zlib
from contextlib import contextmanager

import torch
from torch import nn


class MagnitudeBand:
    """Keep the entries of each tensor whose |θ| rank lies in the quantile band [low, high) (ranks from the
    smallest). Thresholds are set from the weights at the first call and kept (one or two scalars per tensor);
    every call compares the current weights with them. Used for Sparse MeZO's mask (band [0, 1 − sparsity))
    and for the magnitude-bucket study (quintile bands)."""

    def __init__(self, low: float, high: float):
        if not 0 <= low < high <= 1:
            raise ValueError(f"a magnitude band needs 0 <= low < high <= 1, got [{low}, {high})")
        self.low, self.high = low, high
        self.thresholds: dict[str, list[float | None]] = {}

    def score(self, name: str, param: torch.Tensor) -> torch.Tensor:
        """Entries are ranked by this score (smallest first)."""
        return param.detach().abs()

    def _threshold(self, flat: torch.Tensor, q: float) -> float | None:
        """Score of the ceil(q·n)-th smallest entry (None: no bound)."""
        if q in (0, 1):
            return None
        return float(flat.kthvalue(max(1, math.ceil(q * flat.numel()))).values)

    chunk = 1 << 18  # entries per chunk in `mask_` (1 MB of fp32: |θ|, the comparison and z stay in cache)

    def _bounds(self, name: str, score) -> list[float | None]:
        """The tensor's (low, high) score thresholds, set from its full score at the first call."""
        if name not in self.thresholds:
            flat = score().flatten().float()
            self.thresholds[name] = [self._threshold(flat, self.low), self._threshold(flat, self.high)]
        return self.thresholds[name]

    @staticmethod
    def _keep(score: torch.Tensor, lo: float | None, hi: float | None) -> torch.Tensor:
        keep = score <= hi if hi is not None else torch.ones_like(score, dtype=torch.bool)
        return keep & (score > lo) if lo is not None else keep

    def __call__(self, name: str, param: torch.Tensor) -> torch.Tensor:
        score = self.score(name, param)
        return self._keep(score, *self._bounds(name, lambda: score))

    def mask_(self, name: str, param: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """z ⊙ mask in place, the mask computed `chunk` entries at a time: the same values as
        ``z.mul_(self(name, param))`` with chunk-sized instead of tensor-sized temporaries (≈3× faster on CPU)."""
        lo, hi = self._bounds(name, lambda: self.score(name, param))
        flat_z, flat_p = z.view(-1), param.detach().reshape(-1)
        for start in range(0, flat_z.numel(), self.chunk):
            part = slice(start, start + self.chunk)
            flat_z[part].mul_(self._keep(self.score(name, flat_p[part]), lo, hi))
        return z

    def state_dict(self) -> dict:
        return {"thresholds": dict(self.thresholds)}

    def load_state_dict(self, state: dict) -> None:
        self.thresholds = {k: list(v) for k, v in state["thresholds"].items()}


class MagnitudeMask(MagnitudeBand):
    """Sparse MeZO's dynamic mask (Alg. S-MeZO, GetMask): per tensor a threshold h is set once, before training,
    at the ceil((1 − sparsity)·n)-th smallest |θ| (the percentile rule); every call returns m = |θ_t| ≤ h from
    the current weights. So exactly the requested fraction is kept at the start, and a weight that grows past
    h stops being perturbed. Only one scalar per tensor is stored (`state_dict` for resume)."""

    def __init__(self, sparsity: float):
        if not 0 <= sparsity < 1:
            raise ValueError(f"sparsity is the excluded fraction, in [0, 1); got {sparsity}")
        super().__init__(0.0, 1.0 - sparsity)
        self.sparsity = sparsity


class RandomMask(MagnitudeMask):
    """R-MeZO control: the same kept fraction per tensor, chosen at random instead of by magnitude. The score
    is uniform noise regenerated from (seed, tensor name), so the mask is fixed and never stored."""

    def __init__(self, sparsity: float, seed: int = 0):
        super().__init__(sparsity)
        self.seed = seed

    def score(self, name: str, param: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + zlib.crc32(name.encode()))
        return torch.rand(param.shape, generator=gen).to(param.device)

    def mask_(self, name: str, param: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Whole-tensor: the score of an entry depends on its position in the tensor's random stream."""
        return z.mul_(self(name, param))


class SPSA:
    """Two-point SPSA over the trainable parameters of `model` (MeZO), optionally masked (Sparse MeZO)."""

    def __init__(self, model: nn.Module, eps: float = 1e-3, mask=None, seed: int = 0, no_decay=("bias", "norm")):
        self.model, self.eps, self.mask = model, eps, mask
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("SPSA needs at least one parameter with requires_grad=True")
        self.index = {id(p): i for i, (_, p) in enumerate(self.params)}
        self.no_decay = no_decay
        self.seeder = torch.Generator().manual_seed(seed)
        self.step_seed = 0

    def z(self, i: int, param: torch.Tensor) -> torch.Tensor:
        """The direction for parameter i this step (regenerated, never stored)."""
        gen = torch.Generator().manual_seed(self.step_seed * 1_000_003 + i)
        z = torch.randn(param.shape, generator=gen, dtype=torch.float32).to(param.device, param.dtype)
        if self.mask is not None:
            name = self.params[i][0]
            if hasattr(self.mask, "mask_"):
                self.mask.mask_(name, param, z)
            else:
                z.mul_(self.mask(name, param))
        return z

    @contextmanager
    def perturbed(self, scale: float):
        """Inside the block, every forward sees θ + scale·ε·m⊙z; θ itself is never modified."""
        owners = [(m, [(n, p) for n, p in m.named_parameters(recurse=False) if id(p) in self.index])
                  for m in self.model.modules()]
        owners = [(m, own) for m, own in owners if own]
        hooks = []
        for module, own in owners:
            def pre(mod, args, own=own):
                for name, p in own:
                    mod._parameters[name] = torch.add(p.detach(), self.z(self.index[id(p)], p), alpha=scale * self.eps)

            def post(mod, args, out, own=own):
                for name, p in own:
                    mod._parameters[name] = p
            hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
        try:
            yield
        finally:
            for h in hooks:
                h.remove()
            for module, own in owners:  # also after a forward that raised between the two hooks
                for name, p in own:
                    module._parameters[name] = p

    @torch.no_grad()
    def estimate(self, loss_fn) -> tuple[float, float]:
        """(projected gradient g, loss at θ+εz) for a fresh step seed; `loss_fn()` returns a scalar loss."""
        self.step_seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=self.seeder))
        with self.perturbed(+1.0):
            plus = float(loss_fn())
        with self.perturbed(-1.0):
            minus = float(loss_fn())
        if not (math.isfinite(plus) and math.isfinite(minus)):
            raise FloatingPointError(f"non-finite ZO loss (L+ = {plus}, L- = {minus}); lower eps or lr")
        return (plus - minus) / (2 * self.eps), plus

    @torch.no_grad()
    def update(self, grad: float, lr: float, weight_decay: float = 0.0) -> None:
        """θ ← θ − lr·(g·m⊙z + wd·θ) with the step's z regenerated; no decay for biases / norms (MeZO)."""
        for i, (name, p) in enumerate(self.params):
            z = self.z(i, p)  # before p changes: the mask is computed from θ_t
            if weight_decay and not any(k in name.lower() for k in self.no_decay):
                p.mul_(1 - lr * weight_decay)
            p.add_(z, alpha=-lr * grad)

    def step(self, loss_fn, lr: float, weight_decay: float = 0.0) -> float:
        """One MeZO / Sparse MeZO step; returns L(θ+εz)."""
        grad, loss = self.estimate(loss_fn)
        self.update(grad, lr, weight_decay)
        return loss

    def state_dict(self) -> dict:
        """RNG position and the mask's thresholds: enough to continue the exact trajectory."""
        mask = self.mask.state_dict() if hasattr(self.mask, "state_dict") else None
        return {"seeder": self.seeder.get_state().tolist(), "step_seed": self.step_seed, "mask": mask}

    def load_state_dict(self, state: dict) -> None:
        self.seeder.set_state(torch.tensor(state["seeder"], dtype=torch.uint8))
        self.step_seed = state["step_seed"]
        if state.get("mask") is not None:
            self.mask.load_state_dict(state["mask"])

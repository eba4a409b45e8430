"""Zeroth-order fine-tuning primitives: SPSA (MeZO, Malladi et al. 2023, Alg. 1) and Sparse MeZO's masked
perturbations (Liu et al. 2024, Alg. S-MeZO), for any `nn.Module` with a loss closure (no transformers import).

One step: draw a step seed; L± = loss at θ ± ε·m⊙z; projected gradient g = (L+ − L−)/2ε; update
θ ← θ − lr·(g·m⊙z + wd·θ). z is never stored: it is the counter-based block stream of `core.training.zo_stream`
(``chunked-v2``), regenerated block by block (2^16 entries) on a small thread pool whenever it is needed.

Where MeZO edits θ in place (+ε, −2ε, +ε), here the perturbation is applied inside each module's forward, as
Sparse MeZO's efficient implementation does (§3.3), and θ itself is never modified by a probe: the mask is
always computed from θ_t, and the parameters after the probes are bit-identical to before. An `nn.Linear`
computes its output in groups of rows (≤ 2^20 weights, block-aligned) from perturbed copies of those rows; an
`nn.Embedding` perturbs only the rows of the ids it looks up (and regenerates only their blocks); other modules
(norms, biases) swap in a perturbed copy of their (small) tensors. No temporary larger than a row group exists.

z is generated 3 times per step, the fewest the algorithm allows without storing it: each probe needs the
whole of z while its forward runs, and the update needs g, which is known only after the second probe.
(MeZO's in-place version also needs 3: +ε, −2ε, and restore fused with the update.) A tied tensor (an
embedding shared with the LM head) is regenerated in full by the head, and only on the looked-up rows' blocks
by the embedding.

Masks are objects with ``keep(name, piece, start) -> fp32 1/0`` on a block of the flat tensor, ``prepare(name,
param)`` (once per tensor, before the blocks) and ``mask(name, param) -> bool`` (the whole tensor):
`MagnitudeMask(sparsity)` keeps the entries with |θ| under a per-tensor threshold fixed at the start to the
(1 − sparsity) quantile (Sparse MeZO's dynamic mask); `RandomMask(sparsity, seed)` a fixed pseudo-random subset
of exactly the same size (R-MeZO control), held as one bit per entry.
"""

from __future__ import annotations

import math
import zlib
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.training.settings import ZoSettings
from core.training.zo_stream import (
    BLOCK,
    STREAM,
    BlockPool,
    block_range,
    block_seed,
    blocks_between,
    normal_block,
    permuted_index,
    serial_ops,
)

GROUP = 1 << 20  # most weights in one perturbed row group of a chunked linear / embedding (4 MB in fp32)


class MagnitudeBand:
    """Keep the entries of each tensor whose |θ| rank lies in the quantile band [low, high) (ranks from the
    smallest). Thresholds are set from the weights at the first call and kept (one or two scalars per tensor);
    every call compares the current weights with them. Used for Sparse MeZO's mask (band [0, 1 − sparsity))
    and for the magnitude-bucket study (quintile bands). Entries tied with a threshold are all on the same
    side, so on weights with repeated values (SmolLM2's come from a 16-bit checkpoint) the kept fraction can
    exceed the band's width by the ties at the threshold."""

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

    def prepare(self, name: str, param: torch.Tensor) -> None:
        """Set the tensor's (low, high) thresholds from its full score at the first call."""
        if name not in self.thresholds:
            flat = self.score(name, param).flatten().float()
            self.thresholds[name] = [self._threshold(flat, self.low), self._threshold(flat, self.high)]

    def keep(self, name: str, piece: torch.Tensor, start: int) -> torch.Tensor:
        """The mask (fp32 1/0) on a block `piece` of the flat tensor (its entries from `start`), from the current
        weights. fp32 rather than bool: multiplying z by a bool mask takes a type-converting path ~5× slower."""
        lo, hi = self.thresholds[name]
        score = self.score(name, piece).float()
        if lo is None:
            return score.le_(hi) if hi is not None else torch.ones_like(score)
        return ((score > lo) & (score <= hi) if hi is not None else score > lo).float()

    def __call__(self, name: str, param: torch.Tensor) -> torch.Tensor:
        """The whole tensor's mask (bool)."""
        self.prepare(name, param)
        return self.keep(name, param.detach(), 0) > 0

    def state_dict(self) -> dict:
        return {"thresholds": dict(self.thresholds)}

    def load_state_dict(self, state: dict) -> None:
        self.thresholds = {k: list(v) for k, v in state["thresholds"].items()}


class MagnitudeMask(MagnitudeBand):
    """Sparse MeZO's dynamic mask (Alg. S-MeZO, GetMask): per tensor a threshold h is set once, before training,
    at the ceil((1 − sparsity)·n)-th smallest |θ| (the percentile rule); every call returns m = |θ_t| ≤ h from
    the current weights. So the requested fraction is kept at the start (plus ties at h), and a weight that
    grows past h stops being perturbed. Only one scalar per tensor is stored (`state_dict` for resume)."""

    def __init__(self, sparsity: float):
        if not 0 <= sparsity < 1:
            raise ValueError(f"sparsity is the excluded fraction, in [0, 1); got {sparsity}")
        super().__init__(0.0, 1.0 - sparsity)
        self.sparsity = sparsity


class RandomMask:
    """R-MeZO control: per tensor exactly ceil((1 − sparsity)·n) entries, chosen by a keyed pseudo-random
    permutation π of the entries (`core.training.zo_stream.permuted_index`, key = (seed, tensor name)): entry j is kept
    iff π(j) < k. The mask is fixed for the run and does not depend on θ; it is built block by block at the
    first use and held packed, one bit per entry (n/8 bytes), so a pass reads it instead of re-hashing."""

    def __init__(self, sparsity: float, seed: int = 0):
        if not 0 <= sparsity < 1:
            raise ValueError(f"sparsity is the excluded fraction, in [0, 1); got {sparsity}")
        self.sparsity, self.seed = sparsity, seed
        self.bits: dict[str, np.ndarray] = {}

    def prepare(self, name: str, param: torch.Tensor) -> None:
        if name in self.bits:
            return
        n = param.numel()
        k, salt = math.ceil((1 - self.sparsity) * n), self.seed * 0x9E3779B9 + zlib.crc32(name.encode())
        bits = np.empty((n + 7) // 8, dtype=np.uint8)
        with serial_ops():
            for b in range(0, max(1, (n + BLOCK - 1) // BLOCK)):
                start, stop = block_range(b, n)
                keep = permuted_index(torch.arange(start, stop), n, salt) < k
                bits[start // 8 : (stop + 7) // 8] = np.packbits(keep.numpy())
        self.bits[name] = bits

    def keep(self, name: str, piece: torch.Tensor, start: int) -> torch.Tensor:
        """The mask on the entries [start, start + len(piece)); start is a multiple of 8 (a block start)."""
        n = piece.numel()
        packed = self.bits[name][start // 8 : (start + n + 7) // 8]
        return (
            torch.from_numpy(np.unpackbits(packed, count=n)).to(piece.device, torch.float32).view(piece.shape)
        )

    def __call__(self, name: str, param: torch.Tensor) -> torch.Tensor:
        """The whole tensor's mask (bool)."""
        self.prepare(name, param)
        return self.keep(name, param.detach().reshape(-1), 0).view(param.shape) > 0

    def state_dict(self) -> dict:
        return {"seed": self.seed, "sparsity": self.sparsity}

    def load_state_dict(self, state: dict) -> None:
        if (state.get("seed"), state.get("sparsity")) != (self.seed, self.sparsity):
            raise ValueError(
                f"random mask state {state} does not match seed {self.seed}, sparsity {self.sparsity}"
            )


def row_groups(rows: int, cols: int) -> list[tuple[int, int]]:
    """Row ranges of ≤ GROUP weights; when a whole number of rows fills whole blocks (lcm(cols, BLOCK)), the
    groups start on block boundaries, so no block is generated twice."""
    per = max(1, GROUP // cols)
    align = BLOCK // math.gcd(cols, BLOCK)
    if align <= per:
        per -= per % align
    return [(r, min(r + per, rows)) for r in range(0, rows, per)]


class SPSA:
    """Two-point SPSA over the trainable parameters of `model` (MeZO), optionally masked (Sparse MeZO)."""

    def __init__(
        self,
        model: nn.Module,
        eps: float = ZoSettings.eps,
        mask=None,
        seed: int = 0,
        no_decay=("bias", "norm"),
        threads: int | None = None,
    ):
        self.model, self.eps, self.mask = model, eps, mask
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # each tensor once
        if not self.params:
            raise ValueError("SPSA needs at least one parameter with requires_grad=True")
        self.index = {id(p): i for i, (_, p) in enumerate(self.params)}
        self.no_decay = no_decay
        self.seeder = torch.Generator().manual_seed(seed)
        self.step_seed = 0
        self.updates: list[list] = []  # [step seed, g, lr, weight decay] of every applied update (`replay`)
        self.pool = BlockPool(threads)

    def blocks(self, i: int, param: torch.Tensor, blocks, action) -> None:
        """action(m⊙z of block, start, stop) for each of `blocks` of parameter i (regenerated, on the pool)."""
        name, flat = self.params[i][0], param.detach().view(-1)
        if self.mask is not None:
            self.mask.prepare(name, param)

        def one(b):
            start, stop = block_range(b, flat.numel())
            z = normal_block(self.pool.scratch(stop - start, flat.device), block_seed(self.step_seed, i, b))
            if self.mask is not None:
                z.mul_(self.mask.keep(name, flat[start:stop], start))
            action(z, start, stop)

        self.pool.run(one, list(blocks), inline=flat.device.type != "cpu")

    def z(self, i: int, param: torch.Tensor) -> torch.Tensor:
        """The whole (masked) direction of parameter i this step, as one tensor (for analysis and tests)."""
        out = torch.empty(param.numel(), dtype=torch.float32, device=param.device)
        self.blocks(i, param, blocks_between(0, param.numel()), lambda z, a, e: out[a:e].copy_(z))
        return out.view(param.shape).to(param.dtype)

    def perturbed_range(self, param: torch.Tensor, start: int, stop: int, scale: float, blocks=None):
        """θ + scale·ε·m⊙z on the flat entries [start, stop) of `param` (only `blocks`' entries if given)."""
        i, flat = self.index[id(param)], param.detach().view(-1)
        out = torch.empty(stop - start, dtype=param.dtype, device=param.device)
        alpha = scale * self.eps

        def put(z, a, e):
            lo, hi = max(a, start), min(e, stop)
            theta, dest, zz = flat[lo:hi], out[lo - start : hi - start], z[lo - a : hi - a]
            if theta.dtype == zz.dtype:
                torch.add(theta, zz, alpha=alpha, out=dest)
            else:
                dest.copy_(torch.add(theta.float(), zz, alpha=alpha))

        self.blocks(i, param, blocks_between(start, stop) if blocks is None else blocks, put)
        return out

    def _copy(self, param, scale):
        if param is None or id(param) not in self.index:
            return param
        return self.perturbed_range(param, 0, param.numel(), scale).view(param.shape)

    def _linear(self, module: nn.Linear, scale: float, x: torch.Tensor) -> torch.Tensor:
        """nn.Linear at perturbed weights, one row group at a time (`row_groups`)."""
        w, bias = module.weight, self._copy(module.bias, scale)
        if id(w) not in self.index:
            return F.linear(x, w, bias)
        rows, cols = w.shape
        groups = row_groups(rows, cols)
        rows_of = lambda r0, r1: self.perturbed_range(w, r0 * cols, r1 * cols, scale).view(r1 - r0, cols)  # noqa: E731
        if len(groups) == 1:
            return F.linear(x, rows_of(0, rows), bias)
        out = x.new_empty(*x.shape[:-1], rows)
        for r0, r1 in groups:
            out[..., r0:r1] = F.linear(x, rows_of(r0, r1), None if bias is None else bias[r0:r1])
        return out

    def _embedding(self, module: nn.Embedding, scale: float, ids: torch.Tensor) -> torch.Tensor:
        """nn.Embedding at perturbed weights: only the looked-up rows are perturbed (their blocks regenerated)."""
        w, cols = module.weight, module.weight.shape[1]
        uniq, inverse = torch.unique(ids, return_inverse=True)
        rows = w.new_empty(len(uniq), cols)
        for r0, r1 in row_groups(*w.shape):
            j0, j1 = (int(v) for v in torch.searchsorted(uniq, torch.tensor([r0, r1], device=uniq.device)))
            if j0 == j1:
                continue
            needed = sorted(
                {b for u in uniq[j0:j1].tolist() for b in blocks_between(u * cols, (u + 1) * cols)}
            )
            group = self.perturbed_range(w, r0 * cols, r1 * cols, scale, blocks=needed).view(r1 - r0, cols)
            rows[j0:j1] = group[uniq[j0:j1] - r0]
        return F.embedding(inverse, rows)

    def _forward_patch(self, module: nn.Module, scale: float):
        """A replacement forward for modules computed chunk-wise, or None (then a perturbed copy is swapped in)."""
        if type(module) is nn.Linear:
            return lambda x: self._linear(module, scale, x)
        if type(module) is nn.Embedding and id(module.weight) in self.index and module.max_norm is None:
            return lambda ids: self._embedding(module, scale, ids)
        return None

    @contextmanager
    def perturbed(self, scale: float):
        """Inside the block, every forward sees θ + scale·ε·m⊙z; θ itself is never modified."""
        owners = [
            (m, [(n, p) for n, p in m.named_parameters(recurse=False) if id(p) in self.index])
            for m in self.model.modules()
        ]
        owners = [(m, own) for m, own in owners if own]
        hooks, patched = [], []
        for module, own in owners:
            patch = self._forward_patch(module, scale)
            if patch is not None:
                module.forward = patch
                patched.append(module)
                continue

            def pre(mod, args, own=own):
                for name, p in own:
                    mod._parameters[name] = self._copy(p, scale)

            def post(mod, args, out, own=own):
                for name, p in own:
                    mod._parameters[name] = p

            hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
        try:
            yield
        finally:
            for h in hooks:
                h.remove()
            for module in patched:
                del module.forward
            for module, own in owners:  # also after a forward that raised between the two hooks
                for name, p in own:
                    module._parameters[name] = p

    @torch.no_grad()
    def estimate(self, loss_fn, combine=None) -> tuple[float, float]:
        """(projected gradient g, loss at θ+εz) for a fresh step seed; `loss_fn()` returns a scalar loss.
        `combine(plus, minus)`, if given, turns this process's two losses into the whole batch's (data-parallel
        MeZO, `core.training.zo_dp`) before g is formed."""
        self.step_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.seeder))
        with self.perturbed(+1.0):
            plus = float(loss_fn())
        with self.perturbed(-1.0):
            minus = float(loss_fn())
        if combine is not None:
            plus, minus = combine(plus, minus)
        if not (math.isfinite(plus) and math.isfinite(minus)):
            raise FloatingPointError(f"non-finite ZO loss (L+ = {plus}, L- = {minus}); lower eps or lr")
        return (plus - minus) / (2 * self.eps), plus

    @torch.no_grad()
    def update(self, grad: float, lr: float, weight_decay: float = 0.0) -> None:
        """θ ← θ − lr·(g·m⊙z + wd·θ), block by block, z regenerated (one pass); the mask of a block is computed
        before the block changes (from θ_t); no decay for biases / norms (MeZO's `zo_update`)."""
        for i, (name, p) in enumerate(self.params):
            decay = (
                1 - lr * weight_decay
                if weight_decay and not any(k in name.lower() for k in self.no_decay)
                else 1
            )
            flat = p.detach().view(-1)

            def apply(z, a, e, flat=flat, decay=decay):
                if decay != 1:
                    flat[a:e].mul_(decay)
                flat[a:e].add_(z, alpha=-lr * grad)

            self.blocks(i, p, blocks_between(0, p.numel()), apply)
        self.updates.append([self.step_seed, grad, lr, weight_decay])

    @torch.no_grad()
    def replay(self, updates: list[list]) -> None:
        """Apply recorded updates ([step seed, g, lr, weight decay] each, from `updates` of a saved state) to θ:
        the same blocks of z, masks from the same θ_t, so θ ends bit-identical to the run's
        (`core.training.zo_replay`)."""
        for seed, grad, lr, weight_decay in updates:
            self.step_seed = seed
            self.update(grad, lr, weight_decay)

    def step(self, loss_fn, lr: float, weight_decay: float = 0.0) -> float:
        """One MeZO / Sparse MeZO step; returns L(θ+εz)."""
        grad, loss = self.estimate(loss_fn)
        self.update(grad, lr, weight_decay)
        return loss

    def state_dict(self) -> dict:
        """RNG position, the z stream's version and the mask's state: enough to continue the exact trajectory."""
        mask = self.mask.state_dict() if hasattr(self.mask, "state_dict") else None
        return {
            "zo_stream": STREAM,
            "seeder": self.seeder.get_state().tolist(),
            "step_seed": self.step_seed,
            "mask": mask,
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        stream = state.get("zo_stream", "v1")
        if stream != STREAM:
            raise ValueError(
                f"this ZO state was made with z stream {stream!r}; this code draws {STREAM!r}, so the "
                "run cannot be continued on the same trajectory (restart it from step 0)"
            )
        self.seeder.set_state(torch.tensor(state["seeder"], dtype=torch.uint8))
        self.step_seed = state["step_seed"]
        self.updates = [list(u) for u in state.get("updates", [])]
        if state.get("mask") is not None:
            self.mask.load_state_dict(state["mask"])

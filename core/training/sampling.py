"""Samplers of what to train: plain objects with their own `torch.Generator` (never the global RNG).

Each sampler has ``state_dict()`` / ``load_state_dict()`` so an interrupted run continues the exact
same sequence of draws. A sampler of your own (a plug-in method) does the same with the public helpers: draw from
``generator(seed)``, save ``rng_state(gen)`` in its state dict and restore it with ``set_rng_state``. Defaults come
from the methods' settings (`core.training.settings`).
"""

from __future__ import annotations

import numpy as np
import torch

from core.training.settings import IstSettings, MisaSettings


def generator(seed: int) -> torch.Generator:
    """A private CPU generator seeded with `seed` (a sampler never draws from the global RNG)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


def rng_state(gen: torch.Generator) -> list[int]:
    """A generator's state as JSON-ready integers (for a sampler's ``state_dict``)."""
    return gen.get_state().tolist()


def set_rng_state(gen: torch.Generator, state: list[int]) -> None:
    """Restore `rng_state`'s integers into `gen` (a sampler's ``load_state_dict``): the draws continue exactly."""
    gen.set_state(torch.tensor(state, dtype=torch.uint8))


class UniformLayerSampler:
    """LISA (Pan et al. 2024, Alg. 1 line 4): draw γ of the N middle layers uniformly without replacement.

    With p_ℓ = γ/N for every middle layer (§3.2), each draw is a uniformly random γ-subset.
    """

    def __init__(self, n_layers: int, gamma: int, seed: int = 0):
        if n_layers <= 0:
            raise ValueError(f"n_layers must be > 0, got {n_layers}")
        if not 0 <= gamma <= n_layers:
            raise ValueError(
                f"gamma (layers to activate) must be in [0, {n_layers}], got {gamma}: "
                f"the model has only {n_layers} layers"
            )
        self.n_layers, self.gamma, self.seed = n_layers, gamma, seed
        self.draws = 0
        self.generator = generator(seed)

    def sample(self) -> list[int]:
        """Sorted indices of the γ layers to train until the next draw."""
        self.draws += 1
        perm = torch.randperm(self.n_layers, generator=self.generator)
        return sorted(perm[: self.gamma].tolist())

    def state_dict(self) -> dict:
        return {
            "n_layers": self.n_layers,
            "gamma": self.gamma,
            "seed": self.seed,
            "draws": self.draws,
            "rng_state": rng_state(self.generator),
        }

    def load_state_dict(self, state: dict) -> None:
        if (state["n_layers"], state["gamma"]) != (self.n_layers, self.gamma):
            raise ValueError(
                f"sampler state is for n_layers={state['n_layers']}, gamma={state['gamma']}; "
                f"this sampler has n_layers={self.n_layers}, gamma={self.gamma}"
            )
        self.seed, self.draws = state["seed"], state["draws"]
        set_rng_state(self.generator, state["rng_state"])


def importance_probs(scores, eta: float, clip: float = 5.0) -> torch.Tensor:
    """MISA block probabilities p_b ∝ exp(min(clip, η·G_b²)) (pkumelon/MISA `update_trainable_params`).

    `scores` are the importance estimates G_b (EMA of unsquared block gradient norms); the clip bounds the
    largest weight ratio at e^clip.
    """
    g = torch.as_tensor(scores, dtype=torch.float64)
    logits = torch.clamp(eta * g.pow(2), max=clip)
    w = torch.exp(logits - logits.max())
    return w / w.sum()


class ModuleImportanceSampler:
    """MISA (Liu et al. 2025): sample weight-matrix blocks under a trainable-parameter budget δ.

    Follows the reference code (papers/misa/REFERENCE.md §2): `update(norms)` accumulates each active block's
    gradient norm / T; at each re-selection the EMA G_b ← ((1-β)·Ḡ_b + β·G_b) / (1-β^c_b) is updated for
    blocks active in the period (the bias-corrected value is stored back, as the reference does); then blocks
    are packed without replacement until the budget is reached: never-used (and the `sample_last` least
    recently used) blocks first in index order, then draws ∝ `importance_probs` from the remaining pool,
    skipping blocks that do not fit. No 1/p reweighting is applied anywhere (as in the reference).
    """

    def __init__(
        self,
        sizes,
        budget: float = MisaSettings.budget,
        eta: float = MisaSettings.eta,
        beta: float = MisaSettings.beta,
        clip: float = MisaSettings.clip,
        seed: int = 0,
        total: int | None = None,
        period: int = MisaSettings.interval,
        sample_last: int = MisaSettings.sample_last,
    ):
        self.sizes = [int(s) for s in sizes]
        self.total = int(total or sum(self.sizes))
        if not 0 < budget <= 1:
            raise ValueError(f"budget δ is a fraction of all parameters in (0, 1], got {budget}")
        if min(self.sizes) / self.total > budget:
            raise ValueError(
                f"budget δ={budget} is smaller than the smallest block ({min(self.sizes) / self.total:.4f})"
            )
        self.budget, self.eta, self.beta, self.clip = budget, eta, beta, clip
        self.period, self.sample_last, self.seed = period, sample_last, seed
        n = len(self.sizes)
        self.G, self.G_cur, self.counts = [0.0] * n, [0.0] * n, [1] * n
        self.last_used = [-1] * n
        self.selections = 0
        self.generator = generator(seed)

    def update(self, grad_norms: dict[int, float]) -> None:
        """Record ‖g_b‖₂ of the active blocks after an optimizer step (accumulates the period mean)."""
        for b, norm in grad_norms.items():
            self.G_cur[b] += float(norm) / self.period

    def _fold_period(self) -> None:
        for b in range(len(self.sizes)):
            if self.G_cur[b] != 0:
                self.G[b] = ((1 - self.beta) * self.G_cur[b] + self.beta * self.G[b]) / (
                    1 - self.beta ** self.counts[b]
                )
                self.counts[b] += 1
                self.G_cur[b] = 0.0

    def probs(self) -> torch.Tensor:
        return importance_probs(self.G, self.eta, self.clip)

    def sample(self) -> list[int]:
        """Fold the period's norms into G, then pack blocks under the budget; returns sorted indices."""
        self._fold_period()
        order = sorted(range(len(self.sizes)), key=lambda b: (self.last_used[b], b))
        pool, chosen, used = set(order), [], 0.0
        for i, b in enumerate(order):
            if self.last_used[b] == -1 or i < self.sample_last:
                pool.discard(b)
                if used + self.sizes[b] / self.total <= self.budget:
                    chosen.append(b)
                    used += self.sizes[b] / self.total
        weights = self.probs()
        while pool:
            cand = sorted(pool)
            w = weights[cand]
            b = cand[int(torch.multinomial(w / w.sum(), 1, generator=self.generator))]
            pool.discard(b)
            if used + self.sizes[b] / self.total <= self.budget:
                chosen.append(b)
                used += self.sizes[b] / self.total
        self.selections += 1
        for b in chosen:
            self.last_used[b] = self.selections
        return sorted(chosen)

    def state_dict(self) -> dict:
        return {
            "G": list(self.G),
            "G_cur": list(self.G_cur),
            "counts": list(self.counts),
            "last_used": list(self.last_used),
            "selections": self.selections,
            "rng_state": rng_state(self.generator),
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["G"]) != len(self.sizes):
            raise ValueError(f"state has {len(state['G'])} blocks, sampler has {len(self.sizes)}")
        self.G, self.G_cur = list(state["G"]), list(state["G_cur"])
        self.counts, self.last_used = list(state["counts"]), list(state["last_used"])
        self.selections = state["selections"]
        set_rng_state(self.generator, state["rng_state"])


def inclusion_frequencies(sample, n_blocks: int, draws: int, burn_in: int = 0) -> np.ndarray:
    """Empirical inclusion probability π_b = P(b ∈ S) of a sampler: ``sample()`` returns active block
    indices; the first `burn_in` draws (e.g. MISA's never-used-first warm-up) are discarded."""
    counts = np.zeros(n_blocks)
    for i in range(burn_in + draws):
        chosen = sample()
        if i >= burn_in:
            counts[list(chosen)] += 1
    return counts / draws


class ISTScores:
    """IST (Yao et al. 2024; reference `ist.py`, papers/ist/REFERENCE.md §2): one score s_i per layer.

    High s_i means *less* important. Every `interval` steps, `n_probes` distinct sets of ⌊suppress_frac·L⌋ layers
    are drawn ∝ σ(s) and each set's adapters are suppressed in one probe forward; with centred rewards
    r_k = e^{−ℓ_k} − mean_j e^{−ℓ_j}, every suppressed layer gets s_i += lr · r_k · σ(s_i)(1 − σ(s_i)) (σ taken
    before the update). Every step, ⌊update_frac·L⌋ layers are drawn ∝ σ(−s) without replacement to be trained.
    ``uniform=True`` is the random-selection control (RST): the same number of layers, drawn uniformly.
    """

    def __init__(
        self,
        n_layers: int,
        update_frac: float = IstSettings.update_frac,
        suppress_frac: float = IstSettings.suppress_frac,
        n_probes: int = IstSettings.n_probes,
        lr: float = IstSettings.lr,
        seed: int = 0,
        uniform: bool = IstSettings.uniform,
    ):
        self.n_layers = n_layers
        self.n_update = int(update_frac * n_layers)
        self.n_suppress = int(suppress_frac * n_layers)
        if not 1 <= self.n_update <= n_layers or (not uniform and not 1 <= self.n_suppress <= n_layers):
            raise ValueError(
                f"update_frac={update_frac} / suppress_frac={suppress_frac} of {n_layers} layers "
                f"must select at least one layer (got {self.n_update} / {self.n_suppress})"
            )
        from math import comb

        if not uniform and n_probes > comb(n_layers, self.n_suppress):
            raise ValueError(
                f"{n_probes} distinct probe sets of {self.n_suppress} of {n_layers} layers do not exist"
            )
        self.n_probes, self.lr, self.seed, self.uniform = n_probes, lr, seed, uniform
        self.scores = torch.zeros(n_layers, dtype=torch.float64)
        self.generator = generator(seed)
        self.history: list[list[float]] = []

    def _draw(self, weights: torch.Tensor, k: int) -> list[int]:
        return sorted(torch.multinomial(weights, k, replacement=False, generator=self.generator).tolist())

    def select(self) -> list[int]:
        """The layers whose adapters train this step."""
        weights = (
            torch.ones(self.n_layers, dtype=torch.float64) if self.uniform else torch.sigmoid(-self.scores)
        )
        return self._draw(weights, self.n_update)

    def probe_sets(self) -> list[list[int]]:
        """`n_probes` distinct sets of layers to suppress, drawn ∝ σ(s) (unimportant layers more often)."""
        sets: list[list[int]] = []
        while len(sets) < self.n_probes:
            s = self._draw(torch.sigmoid(self.scores), self.n_suppress)
            if s not in sets:
                sets.append(s)
        return sets

    def update(self, sets: list[list[int]], losses: list[float]) -> None:
        """REINFORCE-style step from the probe losses (reference `ist.py` L118-131)."""
        reward = torch.exp(-torch.tensor(losses, dtype=torch.float64))
        reward -= reward.mean()
        p = torch.sigmoid(self.scores)
        grad = p * (1 - p)
        for r, layers in zip(reward, sets):
            for i in layers:
                self.scores[i] += float(r) * float(grad[i]) * self.lr
        self.history.append(self.scores.tolist())

    def probe_indices(self, n_examples: int, size: int) -> list[int]:
        """Training examples for the next probe batch (the reference's shuffled probe loader)."""
        return torch.randperm(n_examples, generator=self.generator)[:size].tolist()

    def state_dict(self) -> dict:
        return {
            "scores": self.scores.tolist(),
            "history": self.history,
            "rng_state": rng_state(self.generator),
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["scores"]) != self.n_layers:
            raise ValueError(f"state has {len(state['scores'])} layer scores, sampler has {self.n_layers}")
        self.scores = torch.tensor(state["scores"], dtype=torch.float64)
        self.history = [list(h) for h in state["history"]]
        set_rng_state(self.generator, state["rng_state"])

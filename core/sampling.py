"""Samplers of what to train: plain objects with their own `torch.Generator` (never the global RNG).

Each sampler has ``state_dict()`` / ``load_state_dict()`` so an interrupted run continues the exact
same sequence of draws.
"""
from __future__ import annotations

import torch


def _generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


def _rng_state(gen: torch.Generator) -> list[int]:
    return gen.get_state().tolist()


def _set_rng_state(gen: torch.Generator, state: list[int]) -> None:
    gen.set_state(torch.tensor(state, dtype=torch.uint8))


class UniformLayerSampler:
    """LISA (Pan et al. 2024, Alg. 1 line 4): draw γ of the N middle layers uniformly without replacement.

    With p_ℓ = γ/N for every middle layer (§3.2), each draw is a uniformly random γ-subset.
    """

    def __init__(self, n_layers: int, gamma: int, seed: int = 0):
        if n_layers <= 0:
            raise ValueError(f"n_layers must be > 0, got {n_layers}")
        if not 0 <= gamma <= n_layers:
            raise ValueError(f"gamma (layers to activate) must be in [0, {n_layers}], got {gamma}: "
                             f"the model has only {n_layers} layers")
        self.n_layers, self.gamma, self.seed = n_layers, gamma, seed
        self.draws = 0
        self.generator = _generator(seed)

    def sample(self) -> list[int]:
        """Sorted indices of the γ layers to train until the next draw."""
        self.draws += 1
        perm = torch.randperm(self.n_layers, generator=self.generator)
        return sorted(perm[: self.gamma].tolist())

    def state_dict(self) -> dict:
        return {"n_layers": self.n_layers, "gamma": self.gamma, "seed": self.seed, "draws": self.draws,
                "rng_state": _rng_state(self.generator)}

    def load_state_dict(self, state: dict) -> None:
        if (state["n_layers"], state["gamma"]) != (self.n_layers, self.gamma):
            raise ValueError(f"sampler state is for n_layers={state['n_layers']}, gamma={state['gamma']}; "
                             f"this sampler has n_layers={self.n_layers}, gamma={self.gamma}")
        self.seed, self.draws = state["seed"], state["draws"]
        _set_rng_state(self.generator, state["rng_state"])

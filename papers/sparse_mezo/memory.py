"""Sparse MeZO memory/time study: one step of inference (forward only), MeZO, Sparse MeZO (sparsity 0.5, 0.8),
R-MeZO (random mask, 0.8), full FT (AdamW) and LoRA, measured as `make bench` does, with the analytic model.

    python -m papers.sparse_mezo.memory --profile cpu   # -> data/results/sparse_mezo/memory/<profile>-<device>.json

A ZO step is two perturbed forwards and an in-place update (`core.zo.SPSA`); the perturbation is applied inside
each module's forward (Sparse MeZO's efficient implementation, §3.3), so its memory should stay at inference
level. Time ratios to one forward are the ones MeZO quotes; on CPU regenerating z (three passes over all weights
per step) is a large part of the step.
"""
from __future__ import annotations

from core.bench import study_main

VARIANTS = [
    ("inference", "inference", {}),
    ("mezo", "mezo", {}),
    ("s-mezo_0.5", "sparse_mezo", {"sparsity": 0.5}),
    ("s-mezo_0.8", "sparse_mezo", {"sparsity": 0.8}),
    ("r-mezo_0.8", "random_mezo", {"sparsity": 0.8}),
    ("lora", "lora", {}),
    ("full", "full", {}),
]


def main(argv=None) -> int:
    return study_main("sparse_mezo", VARIANTS, argv)


if __name__ == "__main__":
    raise SystemExit(main())

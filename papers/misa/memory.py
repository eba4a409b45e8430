"""MISA memory study: measured peak per method on one batch (same procedure as `make bench`) for MISA across
budgets δ, LISA across γ, BAdam (the `badam` package), LoRA, full FT and inference, next to the analytic model.

    python -m papers.misa.memory --profile cpu     # -> data/results/misa/memory/<profile>.json
"""

from __future__ import annotations

from core.bench import memory_study
from core.study import main as study_main

# (label, bench method, settings overriding the bench profile)
VARIANTS = [
    ("inference", "inference", {}),
    ("full", "full", {}),
    ("lora", "lora", {}),
    ("lisa_g1", "lisa", {"gamma": 1}),
    ("lisa_g2", "lisa", {"gamma": 2}),
    ("badam", "badam", {}),
    ("misa_d0.01", "misa", {"budget": 0.01}),
    ("misa_d0.03", "misa", {"budget": 0.03}),
    ("misa_d0.10", "misa", {"budget": 0.10}),
]


def main(argv=None) -> int:
    return study_main(memory_study("misa", VARIANTS), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

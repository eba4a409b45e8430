"""IST memory/time study: one training step of LoRA (all layers' adapters trainable) vs LoRA + IST (a quarter or
half of the layers' adapters trainable per step) vs LISA and full FT, measured as `make bench` does.

    python -m papers.ist.memory --profile cpu     # -> data/results/ist/memory/<profile>.json

The probe forwards IST adds every `interval` steps are not in this one-step measurement; the runs' mean step
time (accuracy notebook) includes them.
"""

from __future__ import annotations

from core.costs.bench import memory_study
from core.infra.study import main as study_main

VARIANTS = [
    ("full", "full", {}),
    ("lora", "lora", {}),
    ("ist_25", "ist", {"update_frac": 0.25}),
    ("ist_50", "ist", {"update_frac": 0.5}),
    ("lisa_g2", "lisa", {"gamma": 2}),
]


def main(argv=None) -> int:
    return study_main(memory_study("ist", VARIANTS), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""MISA memory study: measured peak per method on one batch (same procedure as `make bench`) for MISA across
budgets δ, LISA across γ, BAdam (the `badam` package), LoRA, full FT and inference, next to the analytic model.

    python -m papers.misa.memory --profile cpu     # -> data/results/misa/memory/<profile>.json
"""

from __future__ import annotations

from core.costs.bench import memory_study
from core.costs.memory import PAPER_MODELS, predict_memory
from core.infra.study import main as study_main

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

GB = 1024**3
# the paper's setting (REFERENCE.md §2): bf16 weights and gradients, fp32 AdamW state and fp32 master weights
MIXED = dict(weight_bytes=2, grad_bytes=2, state_bytes=4, act_bytes=2, master_weights=True)
# (variant, core.costs.memory method, settings) of the analytic model at the paper's scale, batch 2
PAPER_VARIANTS = {
    "full": ("full", {}),
    "lora_r8": ("lora", {"lora_r": 8}),
    "lisa_g1": ("lisa", {"gamma": 1}),
    "badam": ("badam", {}),
    "misa_d0.01": ("misa", {"budget": 0.01}),
    "misa_d0.03": ("misa", {"budget": 0.03}),
    "misa_d0.1": ("misa", {"budget": 0.10}),
}
PAPER_SCALE = (("llama-3-8b", "llama-2-7b"), (512, 4096))


def measured(bench: dict) -> dict:
    """{label: peak, analytic peak, step time, trainable parameters} of the measured rows of the study."""
    return {
        r["label"]: {
            "peak_mb": r["peak_mb"],
            "analytic_mb": r["predicted_peak_mb"],
            "step_s": r["step_s_median"],
            "trainable_params": r["trainable_params"],
        }
        for r in bench["rows"]
        if "skipped" not in r
    }


def analytic_gb() -> dict:
    """{"<model>, <seq> tokens": {variant: predicted peak (GB)}} at the paper's setting (batch 2, MIXED)."""
    models, seqs = PAPER_SCALE
    return {
        f"{PAPER_MODELS[m].name}, {seq} tokens": {
            v: predict_memory(PAPER_MODELS[m], meth, 2, seq, **kw, **MIXED)["total"] / GB
            for v, (meth, kw) in PAPER_VARIANTS.items()
        }
        for m in models
        for seq in seqs
    }


def main(argv=None) -> int:
    return study_main(memory_study("misa", VARIANTS), __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

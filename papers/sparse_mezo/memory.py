"""Sparse MeZO memory/time study: one step of inference (forward only), MeZO, Sparse MeZO (sparsity 0.5, 0.8),
R-MeZO (random mask, 0.8), full FT (AdamW) and LoRA, measured as `make bench` does, with the analytic model;
then the ZO throughput benchmark: forward, MeZO, S-MeZO and R-MeZO steps timed back to back at the study's
batch (4 × 64) and at MeZO's (16 × 128), with peaks, the ratio to the two-forward floor, the normal-sampling
rate per thread and the load average (`core.costs.zo_bench.zo_throughput`).

    python -m papers.sparse_mezo.memory --profile cpu   # -> data/results/sparse_mezo/memory/<profile>.json
                                                        #    data/results/sparse_mezo/throughput/<profile>.json

A ZO step is two perturbed forwards and an in-place update (`core.training.zo.SPSA`); the perturbation is applied inside
each module's forward, one row group at a time (Sparse MeZO's efficient implementation, §3.3), so its memory
should stay at inference level; z (stream `core.training.zo_stream.STREAM`) is generated 3 times per step.
"""

from __future__ import annotations

import torch

from core.costs.bench import PROFILES, bench_device, run_variants
from core.costs.zo_bench import zo_throughput
from core.infra.provenance import manifest
from core.infra.study import Study
from core.infra.study import main as study_main
from core.training.zo_stream import STREAM

VARIANTS = [
    ("inference", "inference", {}),
    ("mezo", "mezo", {}),
    ("s-mezo_0.5", "sparse_mezo", {"sparsity": 0.5}),
    ("s-mezo_0.8", "sparse_mezo", {"sparsity": 0.8}),
    ("r-mezo_0.8", "random_mezo", {"sparsity": 0.8}),
    ("lora", "lora", {}),
    ("full", "full", {}),
]
BATCHES = {"cpu": [(4, 64), (16, 128)], "tiny": [(2, 16)], "gpu": [(4, 64), (16, 512)], "paper": [(16, 128)]}


def throughput(profile: str, args) -> dict:
    threads, repeats = getattr(args, "threads", 1), getattr(args, "repeats", 3)
    torch.set_num_threads(threads)
    setting = {
        "profile": profile,
        "batches": BATCHES[profile],
        "threads": threads,
        "repeats": repeats,
        "zo_stream": STREAM,
        **PROFILES[profile],
    }
    return {
        **zo_throughput(PROFILES[profile], BATCHES[profile], repeats, threads),
        "setting": setting,
        "device": bench_device(),
        "manifest": manifest({"study": "sparse_mezo_zo_throughput", **setting}, 0),
    }


def options(parser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch's and z's threads (default 1: as the ZO runs, two side by side with one each, "
        "and as the committed results were measured on the shared 2-core machine)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds of the throughput benchmark"
    )


def memory(profile: str, args) -> dict:
    torch.set_num_threads(getattr(args, "threads", 1))
    return run_variants(VARIANTS, profile, "sparse_mezo_memory")


GB = 1024**3
FP16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=4, act_bytes=2)


def trains_all(method: str) -> bool:
    """Mixed precision's fp32 master copy is counted for a method that trains every weight (full FT's row of the
    fp16 table; the registry's memory terms say which)."""
    from core.training.methods import resolve

    return resolve(method)[0].memory.trainable == "all"


def analytic_paper_models(batch: int = 16, seq: int = 256) -> dict:
    """{model: {method: GB}} of the analytic model (`core.costs.memory.predict_memory`) for LLaMA-7b and LLaMA-30b in
    fp16 at batch × seq tokens (16 × 256: an assumption, the paper's measurement setting was not reachable);
    "stored mask" is S-MeZO plus one fp16 copy of the weights (the vanilla mask of the paper's memory table)."""
    from core.costs.memory import PAPER_MODELS, param_counts, predict_memory

    out = {}
    for key in ("llama-7b", "llama-30b"):
        spec = PAPER_MODELS[key]
        pred = {
            m: predict_memory(spec, m, batch, seq, lora_r=16, master_weights=trains_all(m), **FP16)["total"]
            / GB
            for m in ("inference", "mezo", "sparse_mezo", "lora", "full")
        }
        counts = param_counts(spec)
        n = (
            sum(v for k, v in counts.items() if k in ("embed", "head", "norm"))
            + spec.layers * counts["layer"]
        )
        pred["stored mask"] = pred["sparse_mezo"] + n * 2 / GB
        out[spec.name] = pred
    return out


STUDIES = [
    Study("sparse_mezo", "memory", PROFILES, memory, options),
    Study("sparse_mezo", "throughput", PROFILES, throughput),
]


def main(argv=None) -> int:
    return study_main(STUDIES, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())

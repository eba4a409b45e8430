"""MISA memory study: measured peak per method on one batch (same procedure as `make bench`) for MISA across
budgets δ, LISA across γ, BAdam (the `badam` package), LoRA, full FT and inference, next to the analytic model.

    python -m papers.misa.memory --profile cpu     # -> data/results/misa/memory/<profile>-<device>.json
"""
from __future__ import annotations

import argparse

import torch

from core.bench import PROFILES, bench_method
from core.memory import MB
from core.run import RESULTS, atomic_write_json, manifest

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    parser.add_argument("--force", action="store_true", help="re-measure even if the result file exists")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = RESULTS / "misa" / "memory" / f"{args.profile}-{device}.json"
    if out.exists() and not args.force:
        print(f"{out} exists; pass --force to re-measure")
        return 0
    rows = []
    for label, method, extra in VARIANTS:
        p = dict(PROFILES[args.profile], **extra)
        try:
            row = {"label": label, **extra, **bench_method(method, p, device)}
        except ValueError as err:  # e.g. a budget below the smallest block of a tiny model
            print(f"{label:12s} skipped: {err}")
            rows.append({"label": label, **extra, "skipped": str(err)})
            continue
        rows.append(row)
        print(f"{label:12s} step {row['step_s_median']:6.3f} s  peak {row['peak_mb']:8.1f} MB  analytic "
              f"{row['predicted_peak_mb']:8.1f} MB  trainable {row['trainable_params']:>11,d}", flush=True)
    atomic_write_json(out, {"rows": rows, "setting": PROFILES[args.profile], "device": device,
                            "manifest": manifest({"study": "misa_memory", "profile": args.profile}, 0),
                            "peak_unit": f"MB ({MB} bytes)"})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

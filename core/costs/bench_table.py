"""The README's benchmark table, generated from the bench JSONs so it cannot drift from them.

    python -m core.costs.bench_table           # print the markdown table
    python -m core.costs.bench_table --write   # replace the table between the README's bench-table markers

One row per method and bench file: median step time, peak memory and trainable parameters as `core.costs.bench`
measured them; the machine column comes from the file's own setting and manifest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.infra.io import REPO, RESULTS, atomic_write_text, read_json, replace_between

FILES = ("cpu-cpu", "cpu-cuda", "gpu-cuda")  # SmolLM2 benches: CPU 4x64, GPU 4x64, GPU 8x512
BEGIN, END = "<!-- bench-table: python -m core.costs.bench_table --write -->", "<!-- /bench-table -->"
HEADER = (
    "| machine | method | step (s, median) | peak (MB) | trainable params |\n| --- | --- | --- | --- | --- |"
)


def machine_label(bench: dict) -> str:
    """'CPU, 2 threads, batch 4x64' or 'H100 80GB HBM3, batch 8x512' from a bench file's device and manifest."""
    s, m = bench["setting"], bench["manifest"]["machine"]
    where = (
        m["gpu"].removeprefix("NVIDIA ")
        if bench["device"] == "cuda"
        else f"CPU, {m['torch_threads']} threads"
    )
    return f"{where}, batch {s['batch']}x{s['seq']}"


def table(root: Path | str = RESULTS, files=FILES) -> str:
    """The markdown table of every row of the given bench files that exist."""
    lines = [HEADER]
    for name in files:
        path = Path(root) / "bench" / f"{name}.json"
        if not path.exists():
            continue
        bench = read_json(path)
        label = machine_label(bench)
        lines += [
            f"| {label} | {r.get('label', r['method'])} | {r['step_s_median']:.3f} | {r['peak_mb']:.0f} | "
            f"{r['trainable_params']:,} |"
            for r in bench["rows"]
        ]
    return "\n".join(lines)


def replace_table(text: str, new_table: str) -> str:
    """`text` with the part between BEGIN and END replaced by `new_table` (core.infra.io.replace_between)."""
    return replace_between(text, BEGIN, END, new_table)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    args = p.parse_args(argv)
    if not args.write:
        print(table())
        return 0
    readme = REPO / "README.md"
    atomic_write_text(readme, replace_table(readme.read_text(), table()))
    print(f"wrote the bench table of {readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

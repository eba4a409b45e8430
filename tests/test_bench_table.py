"""core.costs.bench_table: the README's benchmark table is the bench JSONs' numbers."""

import json

import pytest

from core.costs.bench_table import BEGIN, END, machine_label, replace_table, table
from core.infra.io import REPO


def test_readme_table_is_generated_from_the_bench_files():
    readme = (REPO / "README.md").read_text()
    assert replace_table(readme, table()) == readme, (
        "README bench table is stale: python -m core.costs.bench_table --write"
    )


def bench(device, machine, batch=4, seq=64):
    row = {"method": "lisa", "step_s_median": 1.2544, "peak_mb": 1163.01, "trainable_params": 35392320}
    return {
        "device": device,
        "setting": {"batch": batch, "seq": seq},
        "manifest": {"machine": machine},
        "rows": [row],
    }


def test_rows_and_machine_labels(tmp_path):
    cpu = bench("cpu", {"torch_threads": 2})
    gpu = bench("cuda", {"gpu": "NVIDIA H100 80GB HBM3", "torch_threads": 16}, 8, 512)
    assert machine_label(cpu) == "CPU, 2 threads, batch 4x64"
    assert machine_label(gpu) == "H100 80GB HBM3, batch 8x512"
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "cpu-cpu.json").write_text(json.dumps(cpu))
    lines = table(tmp_path).splitlines()
    assert lines[2] == "| CPU, 2 threads, batch 4x64 | lisa | 1.254 | 1163 | 35,392,320 |" and len(lines) == 3


def test_replace_table_keeps_the_rest():
    text = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_table(text, "new") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError):
        replace_table("no markers", "new")

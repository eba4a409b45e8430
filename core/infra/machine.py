"""What a result depends on below the Python packages: the CPU model, the SIMD instruction sets it offers and
torch dispatches to, and the BLAS / LAPACK torch and numpy were built with.

Floating-point sums are evaluated in a different order by different kernels (AVX2 vs AVX-512, MKL vs OpenBLAS,
the thread count), so a re-run on another machine agrees with the committed results only to a relative
tolerance (README "Checking a re-run"); these fields say which machine made a file. `core.infra.provenance.manifest`
stores them under ``machine``, which `core.reporting.reproduced` treats as volatile.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import numpy as np
import torch

# The instruction-set flags (Linux /proc/cpuinfo names) that decide which float kernels run
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "asimd",
    "asimdhp",
    "sve",
    "sve2",
    "bf16",
)


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name (Linux: /proc/cpuinfo 'model name'; elsewhere platform.processor())."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    found = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else (platform.processor() or platform.machine() or "unknown")


def simd_flags(cpuinfo: str | None = None) -> list[str]:
    """Which of SIMD_FLAGS the first CPU lists (x86 'flags', ARM 'Features'); [] when unknown."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    found = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
    present = set(found.group(1).split()) if found else set()
    return [f for f in SIMD_FLAGS if f in present]


def torch_blas(config: str | None = None) -> dict:
    """BLAS / LAPACK / MKL / oneDNN versions from torch.__config__.show() and the CPU capability torch uses."""
    text = torch.__config__.show() if config is None else config
    patterns = {
        "blas": r"BLAS_INFO=([^,\s]+)",
        "lapack": r"LAPACK_INFO=([^,\s]+)",
        "mkl": r"Math Kernel Library Version ([\d.]+)",
        "mkldnn": r"MKL-DNN (v[^\s]+)",
        "openblas": r"OpenBLAS ([^\s]+)",
    }
    out = {key: m.group(1) for key, pat in patterns.items() if (m := re.search(pat, text))}
    out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def numpy_blas() -> dict:
    """numpy's BLAS and LAPACK (name and version) from numpy.show_config(mode='dicts')."""
    deps = np.show_config(mode="dicts").get("Build Dependencies", {})
    return {k: f"{deps[k].get('name')} {deps[k].get('version')}" for k in ("blas", "lapack") if k in deps}


def machine_info() -> dict:
    """The fields `core.infra.provenance.machine` adds to every manifest."""
    return {
        "cpu_model": cpu_model(),
        "cpu_simd": simd_flags(),
        "torch_blas": torch_blas(),
        "numpy_blas": numpy_blas(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(machine_info(), indent=2))

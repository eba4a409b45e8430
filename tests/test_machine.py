"""core.infra.machine: CPU model, SIMD flags and BLAS in every manifest, volatile for core.reporting.reproduced."""

from core.infra.machine import cpu_model, machine_info, simd_flags, torch_blas
from core.infra.provenance import manifest
from core.reporting.reproduced import Report, compare_values

X86 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni sha_ni\n\nprocessor\t: 1\n"
)
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes sve bf16\nCPU implementer\t: 0x41\n"
TORCH_CONFIG = """PyTorch built with:
  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64 architecture applications
  - Intel(R) MKL-DNN v3.12.0 (Git Hash 80afa71)
  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, LAPACK_INFO=mkl, TORCH_VERSION=2.13.0,
"""


def test_cpuinfo_parsing_x86_and_arm():
    assert cpu_model(X86) == "AMD EPYC 9654 96-Core Processor"
    assert simd_flags(X86) == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"]
    assert simd_flags(ARM) == ["asimd", "sve", "bf16"]
    assert simd_flags("") == []


def test_torch_build_parsing():
    info = torch_blas(TORCH_CONFIG)
    assert {k: info[k] for k in ("blas", "lapack", "mkl", "mkldnn")} == {
        "blas": "mkl",
        "lapack": "mkl",
        "mkl": "2024.2",
        "mkldnn": "v3.12.0",
    }
    assert isinstance(info["cpu_capability"], str)


def test_manifest_records_machine_info():
    m = manifest({"x": 1}, 0)["machine"]
    assert {"cpu_model", "cpu_simd", "torch_blas", "numpy_blas"} <= set(m)
    assert m["cpu_model"] == machine_info()["cpu_model"] and m["torch_blas"]["blas"]
    assert m["numpy_blas"]["blas"]


def test_machine_fields_are_volatile_for_reproduced():
    ref = {
        "machine": {"cpu_model": "AMD EPYC", "cpu_simd": ["avx2", "avx512f"], "torch_blas": {"blas": "mkl"}},
        "cpu_model": "AMD EPYC",
        "loss": 1.0,
    }
    new = {
        "machine": {"cpu_model": "Intel Xeon", "cpu_simd": ["avx2"], "torch_blas": {"blas": "openblas"}},
        "cpu_model": "Intel Xeon",
        "loss": 1.0,
    }
    report = Report()
    compare_values(ref, new, "", "manifest.json", report, rtol=0.0)
    assert not report.changed
    assert {
        "machine.cpu_model",
        "machine.cpu_simd (length 2 -> 1)",
        "machine.torch_blas.blas",
        "cpu_model",
    } <= set(report.volatile)

"""Provenance stored beside every result file: git sha, package versions, machine, date (`manifest`)."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata

import torch

from core.infra.io import REPO
from core.infra.machine import machine_info

PACKAGES = (
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "peft",
    "numpy",
    "galore-torch",
    "badam",
    "lm_eval",
)


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    """HEAD (+ "-dirty" for uncommitted core/papers changes) when first asked, i.e. when this process started
    writing results: a long experiment process keeps the code it imported even if commits land meanwhile."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "core", "papers"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict:
    info = {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    info.update(machine_info())  # CPU model, SIMD flags, BLAS (core.infra.machine)
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def manifest(config: dict, seed: int | None = None, **extra) -> dict:
    """Provenance stored beside every result file."""
    return {
        "git_sha": git_sha(),
        "config": config,
        "seed": seed,
        "versions": package_versions(),
        "machine": machine(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }

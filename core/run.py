"""Run bookkeeping: seeding, run directories, atomic writes, manifests, no silent overwrite.

Layout: ``data/results/<paper>/<experiment>/<profile>/<name>-s<seed>/`` holding
``metrics.jsonl`` (one line per logged step), ``result.json`` (written last, atomically: its presence
means *finished*), ``manifest.json`` (git sha, config, seed, package versions, machine) and
``checkpoints/`` while a run is unfinished.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import socket
import subprocess
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from core.config import ConfigError, RunConfig, build
from core.machine import machine_info

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("SFT_RESULTS", REPO / "data" / "results"))  # tests point this elsewhere
PACKAGES = ("torch", "transformers", "datasets", "accelerate", "peft", "numpy", "galore-torch", "badam", "lm_eval")


class RunExistsError(RuntimeError):
    """A finished run would be overwritten by a run with a different config."""


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch global RNGs (samplers keep their own generators)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def is_main_process() -> bool:
    """True on the rank that writes results: rank 0 under torchrun / accelerate, always in a plain process."""
    return int(os.environ.get("RANK", "0")) == 0


def write_new_json(path: Path, obj) -> None:
    """Atomic write that refuses to replace an existing file."""
    if Path(path).exists():
        raise RunExistsError(f"{path} exists; refusing to overwrite it (move it away to recompute)")
    atomic_write_json(path, obj)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


@functools.lru_cache(maxsize=1)
def git_sha() -> str:
    """HEAD (+ "-dirty" for uncommitted core/papers changes) when first asked, i.e. when this process started
    writing results: a long experiment process keeps the code it imported even if commits land meanwhile."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "core", "papers"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
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
    info = {"host": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    info.update(machine_info())  # CPU model, SIMD flags, BLAS (core.machine)
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def manifest(config: dict, seed: int | None = None, **extra) -> dict:
    """Provenance stored beside every result file."""
    return {"git_sha": git_sha(), "config": config, "seed": seed, "versions": package_versions(),
            "machine": machine(), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}


def run_dir(cfg: RunConfig, profile: str, root: Path = RESULTS) -> Path:
    return Path(root) / cfg.paper / cfg.experiment / profile / f"{cfg.name}-s{cfg.seed}"


def with_defaults(stored: dict) -> dict:
    """A stored config with defaults filled in for fields added after it ran (new fields default to the
    old behaviour, so such a run still counts as finished); unparseable configs are returned as they are."""
    try:
        return build(RunConfig, stored).to_dict()
    except ConfigError:
        return stored


def run_status(path: Path, cfg: RunConfig) -> str:
    """'new', 'resume' or 'done'; raises if a finished run holds a different config."""
    path = Path(path)
    result = path / "result.json"
    if result.exists():
        done = with_defaults(read_json(path / "manifest.json")["config"])
        if done != cfg.to_dict():
            diff = sorted(k for k in set(done) | set(cfg.to_dict()) if done.get(k) != cfg.to_dict().get(k))
            raise RunExistsError(f"{path} finished with a different config (differs in: {', '.join(diff)}); "
                                 "give the run a new `name` or move the old directory away")
        return "done"
    return "resume" if (path / "manifest.json").exists() else "new"


def append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row, sort_keys=True) + "\n")
        fh.flush()


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_jsonl(path: Path, max_step: int) -> None:
    """Drop rows logged after `max_step` (a resumed run re-logs them)."""
    rows = [r for r in read_jsonl(path) if r.get("step", 0) <= max_step]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def cached_result(path: Path, force: bool, compute):
    """A study's result file: read it when it exists (unless `force`), else ``compute()``, write it (never over an
    existing file: move the old one away first) and return it."""
    if path.exists() and not force:
        print(f"{path} exists (move it away and pass --force to recompute)")
        return read_json(path)
    data = compute()
    write_new_json(path, data)
    print(f"wrote {path}")
    return data


def study_cli(doc: str, profiles, collect, argv=None) -> int:
    """CLI of a study script: ``--profile`` (one of `profiles`) and ``--force``; calls ``collect(profile, force)``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(profiles))
    parser.add_argument("--force", action="store_true", help="recompute even if the result file exists")
    args = parser.parse_args(argv)
    collect(args.profile, args.force)
    return 0

"""Run bookkeeping: seeding, ranks, run directories and a run's status (new / resume / restart / finished).

Layout: ``data/results/<paper>/<experiment>/<profile>/<name>-s<seed>/`` holding
``metrics.jsonl`` (one line per logged step), ``result.json`` (written last, atomically: its presence
means *finished*, ``status`` ``done`` or ``diverged``), ``manifest.json`` (`core.infra.provenance.manifest`) and
``checkpoints/`` while a run is unfinished. A finished run is checked (parsable, one loss row per step) before it is
skipped; a file that is not is named in the error. File I/O is `core.infra.io`; a study's result file is
`core.infra.study`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from core.infra.io import RESULTS, CorruptFileError, RunExistsError, read_json, read_jsonl
from core.training.config import ConfigError, RunConfig, build

FINISHED = ("done", "diverged")  # result.json statuses of a run that is not re-run


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch global RNGs (samplers keep their own generators)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def is_main_process() -> bool:
    """True on the rank that writes results: rank 0 under torchrun / accelerate, always in a plain process."""
    return int(os.environ.get("RANK", "0")) == 0


def run_dir(cfg: RunConfig, profile: str, root: Path = RESULTS) -> Path:
    return Path(root) / cfg.paper / cfg.experiment / profile / f"{cfg.name}-s{cfg.seed}"


def with_defaults(stored: dict) -> dict:
    """A stored config with defaults filled in for fields added after it ran (new fields default to the
    old behaviour, so such a run still counts as finished); unparseable configs are returned as they are."""
    try:
        return build(RunConfig, stored).to_dict()
    except ConfigError:
        return stored


def differing(stored: dict, cfg: RunConfig) -> list[str]:
    """Top-level config keys in which a stored config (defaults filled in) differs from `cfg`."""
    done, want = with_defaults(stored), cfg.to_dict()
    return sorted(k for k in set(done) | set(want) if done.get(k) != want.get(k))


def finished_result(path: Path) -> dict:
    """result.json of a finished run after checking it and its metrics (parsable; one loss row per step)."""
    result = read_json(path / "result.json")
    if (
        not isinstance(result, dict)
        or result.get("status") not in FINISHED
        or not isinstance(result.get("steps"), int)
    ):
        raise CorruptFileError(
            f"{path / 'result.json'} is incomplete (no status / steps); move the run directory "
            "away to recompute it"
        )
    losses = sum("loss" in r for r in read_jsonl(path / "metrics.jsonl"))
    if losses != result["steps"]:
        raise CorruptFileError(
            f"{path / 'metrics.jsonl'} has {losses} loss rows for {result['steps']} steps; move the "
            "run directory away to recompute it"
        )
    return result


def run_status(path: Path, cfg: RunConfig, has_checkpoint: bool = False) -> str:
    """'new', 'resume', 'restart' (an unfinished run with another config and no checkpoint: nothing to keep), or a
    finished run's status ('done' / 'diverged'). Raises if a finished run, or an unfinished one with checkpoints,
    holds a different config, and CorruptFileError if a finished run's files cannot be read back."""
    path = Path(path)
    if not (path / "manifest.json").exists():
        return "new"
    try:
        stored = read_json(path / "manifest.json")["config"]
    except (CorruptFileError, KeyError, TypeError):
        if (path / "result.json").exists():
            raise
        return "restart"  # an unfinished run's damaged manifest: nothing reliable to resume
    diff = differing(stored, cfg)
    if (path / "result.json").exists():
        if diff:
            raise RunExistsError(
                f"{path} finished with a different config (differs in: {', '.join(diff)}); "
                "give the run a new `name` or move the old directory away"
            )
        return finished_result(path)["status"]
    if diff and has_checkpoint:
        raise RunExistsError(
            f"{path} holds an unfinished run with a different config (differs in: {', '.join(diff)}) "
            "and checkpoints; re-run it with its own config to resume, or move the directory away"
        )
    return "restart" if diff else "resume"

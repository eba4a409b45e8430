"""Where result files live: the path rules that writers (study CLIs, the learnability gate) and readers
(notebooks, claims, comparisons) share. A library module, so readers never import a CLI module for a path."""

from __future__ import annotations

from pathlib import Path

from core.infra.io import RESULTS


def study_path(paper: str, study: str, profile: str, root: Path | str | None = None) -> Path:
    """The one result file of `study` of `paper` under `profile` (under `root`, default the results folder)."""
    return Path(RESULTS if root is None else root) / paper / study / f"{profile}.json"


def gate_path(paper: str, experiment: str, profile: str, root: Path | str = RESULTS) -> Path:
    """The learnability gate record of one experiment and profile (written by `core.running.learnability`)."""
    return Path(root) / paper / "learnability" / profile / f"{experiment}.json"


def claims_path(paper: str, profile: str, root: Path | str = RESULTS) -> Path:
    """The claims file of one paper and profile (written by `core.reporting.claims_file`, the one verdict per claim)."""
    return Path(root) / paper / "claims" / f"{profile}.json"


def read_claims(paper: str, profile: str = "cpu", root: Path | str = RESULTS) -> dict:
    """The committed claims file, recorded as an input of the figure that reads it (core.infra.results.load_json)."""
    from core.infra.results import load_json

    path = claims_path(paper, profile, root)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no claims file; make it with python -m core.reporting.claims_file {paper}"
        )
    return load_json(path)

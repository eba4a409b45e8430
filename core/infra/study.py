"""A study: one result file per (paper, study, profile), one CLI, one path rule that writers and notebooks share.

    python -m papers.<paper>.<study> --profile cpu [--force] [study options]
    -> data/results/<paper>/<study>/<profile>.json          (`study_path`; the manifest inside names the device)

A study is a computation that is not a training run (`core.running.experiment` runs those): gradient-norm statistics,
peak-memory and speed measurements, the variance lab. Its file is written once, atomically, with a manifest
(`core.infra.provenance.manifest`); a second call reads it back. ``--force`` recomputes it and keeps the old file beside
the new one (results are never silently overwritten). Notebooks read the same path with `study_path`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.infra.io import read_json, write_new_json
from core.infra.paths import study_path


def cached_result(path: Path, force: bool, compute: Callable[[], dict]) -> dict:
    """A study's result file: read it when it exists, else ``compute()``, write it and return it. With `force` an
    existing file is recomputed; the old one is kept beside it as ``<profile>.replaced-<UTC time>.json``."""
    path = Path(path)
    if path.exists() and not force:
        print(f"{path} exists (--force recomputes it and keeps the old file beside it)")
        return read_json(path)
    data = compute()
    if path.exists():
        kept = path.with_name(f"{path.stem}.replaced-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json")
        os.replace(path, kept)
        print(f"kept the old result as {kept}")
    write_new_json(path, data)
    print(f"wrote {path}")
    return data


@dataclass(frozen=True)
class Study:
    """One study: `compute(profile, args)` returns the result (with its manifest) for `profiles[profile]`;
    `options(parser)` adds the study's own command-line options, read from `args`. `profiles` None: any profile
    name (a study of the runs of that profile)."""

    paper: str
    name: str
    profiles: Mapping[str, Any] | None
    compute: Callable[[str, argparse.Namespace], dict]
    options: Callable[[argparse.ArgumentParser], None] | None = None

    def path(self, profile: str, root: Path | str | None = None) -> Path:
        return study_path(self.paper, self.name, profile, root)

    def result(self, profile: str, force: bool = False, args: argparse.Namespace | None = None) -> dict:
        """The result of `profile`, computed and written the first time."""
        return cached_result(
            self.path(profile), force, lambda: self.compute(profile, args or argparse.Namespace())
        )


def main(studies: Study | list[Study], doc: str, argv=None) -> int:
    """The CLI of a study script: ``--profile`` (default cpu), ``--force``, ``--only`` (scripts with several
    studies) and each study's own options."""
    studies = [studies] if isinstance(studies, Study) else list(studies)
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    named = [s.profiles for s in studies if s.profiles is not None]
    choices = sorted(set().union(*named)) if len(named) == len(studies) else None
    parser.add_argument("--profile", default="cpu", choices=choices)
    parser.add_argument("--force", action="store_true", help="recompute even if the result file exists")
    if len(studies) > 1:
        parser.add_argument("--only", choices=[s.name for s in studies], help="run one of the studies")
    for s in studies:
        if s.options:
            s.options(parser)
    args = parser.parse_args(argv)
    for s in studies:
        if getattr(args, "only", None) in (None, s.name) and (
            s.profiles is None or args.profile in s.profiles
        ):
            s.result(args.profile, args.force, args)
    return 0

"""Did a re-run reproduce the committed results? Compare every number of two results trees.

After ``make reproduce`` (or one paper's target) the working tree's ``data/results`` holds re-made files; this
compares them with the files committed at a git revision (``make check-reproduced``), or with any other results
folder, field by field. Fields that measure the machine rather than the method (step times, runtimes,
throughput, resident set size, dates, git sha, host) are *volatile*: their differences are counted and their
largest relative change reported, but they never fail the check. Every other number (losses, accuracies,
gradient statistics, selected layers, memory peaks) must agree within ``--rtol`` (exact by default).

    python -m core.reporting.reproduced lisa misa            # working tree vs HEAD
    python -m core.reporting.reproduced --rev 61526ff --rtol 1e-6
    python -m core.reporting.reproduced --against /other/clone/data/results lisa
"""

from __future__ import annotations

import argparse
import io
import math
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from core.infra.io import REPO, RESULTS, CorruptFileError, read_json, read_jsonl

VOLATILE = re.compile(
    r"time|runtime|per_second|step_s|_s$|seconds|rss|created|date|git_sha|host"
    r"|^machine$|^versions$|^packages$|^cpu_model$|^cpu_simd$|_blas$"
)  # core.infra.machine fields


@dataclass
class Report:
    """Per-field differences between a reference and a re-made results tree."""

    files: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    changed: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0.0, ""]))
    volatile: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0.0, ""]))

    @property
    def reproduced(self) -> bool:
        return not (self.missing or self.unreadable or self.changed)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def _note(table: dict, key: str, rel: float, where: str) -> None:
    row = table[key]
    row[0] += 1
    if rel >= row[1]:
        row[1], row[2] = rel, where


def _differs(report: Report, volatile: bool, key: str, rel: float, where: str) -> None:
    _note(report.volatile if volatile else report.changed, key, rel, where)


def compare_values(
    ref, new, key: str, where: str, report: Report, rtol: float, volatile: bool = False
) -> None:
    """Walk two JSON values in step; numbers differing by more than ``rtol`` (relative) are recorded, and any
    other difference (a string, a bool, a list's length, a number against a non-number)."""
    if isinstance(ref, dict) and isinstance(new, dict):
        for k in sorted(set(ref) | set(new), key=str):
            sub = f"{key}.{k}" if key else str(k)
            sub_volatile = volatile or bool(VOLATILE.search(str(k)))
            if (
                k not in new
            ):  # a number the reference has and the re-run lost (machine fields may come and go)
                _differs(report, sub_volatile, f"{sub} (missing in the re-made file)", math.inf, where)
                continue
            if k not in ref:  # a field added since (e.g. a new config default): reported, not failed
                _note(report.volatile, f"{sub} (new in the re-made file)", 0.0, where)
                continue
            compare_values(ref[k], new[k], sub, where, report, rtol, sub_volatile)
    elif isinstance(ref, list) and isinstance(new, list) and len(ref) == len(new):
        for a, b in zip(ref, new):
            compare_values(a, b, f"{key}[]", where, report, rtol, volatile)
    elif _is_number(ref) and _is_number(new):
        if ref != new and not (math.isnan(ref) and math.isnan(new)) and (volatile or _rel(ref, new) > rtol):
            _differs(report, volatile, key, _rel(ref, new), where)
    elif ref != new:
        lengths = (
            f" (length {len(ref)} -> {len(new)})" if isinstance(ref, list) and isinstance(new, list) else ""
        )
        _differs(report, volatile, key + lengths, math.inf, where)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare_trees(reference: Path, remade: Path, papers: list[str], rtol: float = 0.0) -> Report:
    """Compare every ``.json``/``.jsonl`` file under ``reference/<paper>`` with its namesake under ``remade``."""
    report = Report()
    for paper in papers:
        for ref in sorted((reference / paper).rglob("*.json*")):
            rel = ref.relative_to(reference).as_posix()
            new = remade / rel
            report.files += 1
            if not new.is_file():
                report.missing.append(rel)
                continue
            try:
                load = read_jsonl if ref.suffix == ".jsonl" else read_json
                a, b = load(ref), load(new)
            except (CorruptFileError, UnicodeDecodeError) as err:
                report.unreadable.append(f"{rel}: {err}")
                continue
            # metrics.jsonl rows are keyed by the file name, so its 'loss' is told apart from result.json's
            compare_values(a, b, ref.name if ref.suffix == ".jsonl" else "", rel, report, rtol)
    return report


def committed_results(rev: str, dest: Path) -> Path:
    """Extract ``data/results`` as committed at ``rev`` into ``dest``; returns the extracted results folder."""
    rel = RESULTS.relative_to(REPO).as_posix()
    try:
        blob = subprocess.run(
            ["git", "archive", "--format=tar", rev, rel], cwd=REPO, check=True, capture_output=True
        ).stdout
    except subprocess.CalledProcessError as err:
        sys.exit(
            f"core.reporting.reproduced: cannot read {rel} at git revision {rev!r}: {err.stderr.decode().strip()} "
            f"(pass an existing commit with --rev, or a folder with --against)"
        )
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest / rel


def _largest(rel: float) -> str:
    return f", largest relative change {rel:.3g}" if 0 < rel < math.inf else ""


def format_report(report: Report, label: str) -> str:
    lines = [f"{label}: {report.files} result files compared"]
    for rel in report.missing:
        lines.append(f"  MISSING in the re-made tree: {rel}")
    for msg in report.unreadable:
        lines.append(f"  UNREADABLE: {msg}")
    for key, (n, rel, where) in sorted(report.changed.items()):
        lines.append(f"  CHANGED {key}: {n} values{_largest(rel)} (e.g. {where})")
    for key, (n, rel, _) in sorted(report.volatile.items()):
        lines.append(f"  volatile {key}: {n} values differ{_largest(rel)}")
    verdict = "REPRODUCED: every non-volatile number agrees" if report.reproduced else "NOT REPRODUCED"
    lines.append(verdict)
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("papers", nargs="*", default=["lisa", "misa", "ist", "sparse_mezo"])
    p.add_argument("--rev", default="HEAD", help="git revision holding the reference results (default HEAD)")
    p.add_argument("--against", type=Path, help="reference results folder instead of a git revision")
    p.add_argument(
        "--remade", type=Path, default=RESULTS, help="results folder to check (default data/results)"
    )
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for non-volatile numbers")
    args = p.parse_args(argv)
    unknown = [x for x in args.papers if not (args.remade / x).is_dir()]
    if unknown:
        sys.exit(
            f"core.reporting.reproduced: no results folder {args.remade / unknown[0]} (run its make target first, "
            f"or name one of {sorted(d.name for d in args.remade.iterdir() if d.is_dir())})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        reference = args.against or committed_results(args.rev, Path(tmp))
        report = compare_trees(reference, args.remade, args.papers, args.rtol)
        label = f"{' '.join(args.papers)} vs {args.against or 'git ' + args.rev}"
        print(format_report(report, label))
    return 0 if report.reproduced else 1


if __name__ == "__main__":
    raise SystemExit(main())

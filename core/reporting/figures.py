"""Execute a paper's notebooks with papermill into versioned figures and a provenance manifest.

    python -m core.reporting.figures lisa [--profile cpu] [--only lisa_loss_curves] [--force]

For every ``notebooks/src/<paper>_<artifact>.py`` (jupytext percent script with a ``parameters`` cell):
jupytext -> ipynb, papermill executes it to ``notebooks/executed/<paper>/<artifact>-vNNN.ipynb``; the figure
lands at ``figures/<paper>/<artifact>/vNNN.png``. ``figures/<paper>/MANIFEST.json`` records, per version:
notebook, parameters, input result files with sha256, the figure's verdicts (`core.reporting.plotting.finish`), git sha
and date. The kernel keeps matplotlib's inline backend, so the executed notebook shows its figure. A new version is
executed only when the notebook source or its inputs changed (``--force`` always executes), and a new version is
made only when the image or its table changed (an identical re-execution keeps the latest version, which then
records the new source and inputs); old versions are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from core.infra.io import REPO, RESULTS, atomic_write_json, sha256_file
from core.infra.provenance import git_sha
from core.infra.results import finished_run_names, locate_input


def notebooks_for(paper: str, src_dir: Path) -> list[Path]:
    return sorted(src_dir.glob(f"{paper}_*.py"))


def load_manifest(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def next_version(entry: dict) -> str:
    return f"v{len(entry.get('versions', {})) + 1:03d}"


def up_to_date(entry: dict, src_sha: str, profile: str, results_root: Path) -> bool:
    """True when the latest version used this notebook source and its inputs are unchanged."""
    latest = entry.get("versions", {}).get(entry.get("latest", ""), {})
    if latest.get("notebook_sha256") != src_sha or latest.get("parameters", {}).get("profile") != profile:
        return False
    paths = [(locate_input(i["path"], results_root), i["sha256"]) for i in latest.get("inputs", [])]
    if not all(p.exists() and sha256_file(p) == sha for p, sha in paths):
        return False
    return all(  # the folders it listed hold the same finished runs (a run added since is a new input)
        finished_run_names(locate_input(listed["path"], results_root)) == listed["runs"]
        for listed in latest.get("listings", [])
    )


def execute(
    src: Path, paper: str, profile: str, out_root: Path, results_root: Path, force: bool = False
) -> dict | None:
    """Run one notebook; returns its manifest record, or None when up to date."""
    import jupytext
    import papermill

    artifact = src.stem[len(paper) + 1 :]
    manifest_path = out_root / "figures" / paper / "MANIFEST.json"
    manifest = load_manifest(manifest_path)
    entry = manifest.setdefault(artifact, {"versions": {}})
    src_sha = sha256_file(src)
    if not force and up_to_date(entry, src_sha, profile, results_root):
        print(f"{artifact}: up to date ({entry['latest']})")
        return None
    version = next_version(entry)
    figure = out_root / "figures" / paper / artifact / f"{version}.png"
    executed = out_root / "notebooks" / "executed" / paper / f"{artifact}-{version}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    raw = executed.with_suffix(".src.ipynb")
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, raw)
    params = {"profile": profile, "results_root": str(results_root), "figure_path": str(figure)}
    os.environ.pop("MPLBACKEND", None)  # the kernel inherits it; IPython's inline backend embeds the figure
    # the kernel's core.infra.io.RESULTS is results_root too, so that what a notebook reads without naming a root (its
    # claims file: core.reporting.claims.from_file) comes from the same results as its runs
    old_results = os.environ.get("SFT_RESULTS")
    os.environ["SFT_RESULTS"] = str(Path(results_root).resolve())
    try:
        papermill.execute_notebook(
            str(raw),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(REPO),
            progress_bar=False,
            language="python",
        )
    except papermill.PapermillExecutionError as err:
        if err.ename != "FileNotFoundError":
            raise
        executed.unlink(missing_ok=True)  # no figure, no version: the notebook's results are not made yet
        print(f"{artifact}: skipped, not made yet ({err.evalue})", file=sys.stderr)
        return None
    finally:
        raw.unlink(missing_ok=True)
        if old_results is None:
            os.environ.pop("SFT_RESULTS", None)
        else:
            os.environ["SFT_RESULTS"] = old_results
    sidecar = json.loads(figure.with_suffix(".inputs.json").read_text())
    record = {
        "figure": str(figure.relative_to(out_root)),
        "notebook": str(src.relative_to(REPO)),
        "executed_notebook": str(executed.relative_to(out_root)),
        "notebook_sha256": src_sha,
        "parameters": {"profile": profile},
        "inputs": sidecar["inputs"],
        "listings": sidecar.get("listings", []),
        "table": sidecar["table"],
        "verdicts": sidecar.get("verdicts", []),
        "git_sha": git_sha(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    latest = entry["versions"].get(entry.get("latest", ""))
    if not force and latest and same_output(latest, record, out_root):
        keep_latest(latest, record, out_root)
        atomic_write_json(manifest_path, manifest)
        print(f"{artifact}: re-executed, image and table unchanged: keeps {entry['latest']}")
        return None
    entry["versions"][version] = record
    entry["latest"] = version
    atomic_write_json(manifest_path, manifest)
    print(f"{artifact}: wrote {record['figure']}")
    return record


def same_output(latest: dict, record: dict, out_root: Path) -> bool:
    """True when a re-execution drew the same image (PNG bytes) with the same table and verdicts as the latest
    version: a refactor that changes nothing a reader sees makes no new version."""
    old, new = out_root / latest["figure"], out_root / record["figure"]
    return (
        old.exists()
        and old.read_bytes() == new.read_bytes()
        and json.dumps(latest.get("table"), sort_keys=True) == json.dumps(record["table"], sort_keys=True)
        and latest.get("verdicts") == record["verdicts"]
    )


def keep_latest(latest: dict, record: dict, out_root: Path) -> None:
    """Drop the new files; the latest version now records the source and inputs that re-made it identically."""
    new_figure = out_root / record["figure"]
    for path in (new_figure, new_figure.with_suffix(".inputs.json"), out_root / record["executed_notebook"]):
        path.unlink(missing_ok=True)
    for key in ("notebook_sha256", "inputs", "listings"):
        latest[key] = record[key]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paper")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--src", default=str(REPO / "notebooks" / "src"))
    parser.add_argument("--out", default=str(REPO))
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    sources = [s for s in notebooks_for(args.paper, Path(args.src)) if not args.only or s.stem in args.only]
    if not sources:
        print(f"no notebooks for '{args.paper}' in {args.src}", file=sys.stderr)
        return 2
    for src in sources:
        execute(src, args.paper, args.profile, Path(args.out), Path(args.results), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

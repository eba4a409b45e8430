"""Read finished runs for notebooks, remembering every file read so figures can cite their inputs.

A finished run has ``status`` ``done`` or ``diverged`` (stopped early by `core.training.divergence`, no evaluation:
``eval_loss`` is None). Loaders keep diverged runs, so a figure or claims table shows them (e.g. a marker at
the step where they stopped) rather than silently averaging over the runs that survived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.infra.io import REPO, RESULTS, atomic_write_json, read_json, read_jsonl, sha256_file

INPUTS: set[Path] = set()
LISTINGS: dict[Path, list[str]] = {}  # run folders listed by `load_runs`: {folder: its finished runs}


def finished_run_names(base: Path) -> list[str]:
    """Names of the finished run directories (``<name>-s<seed>`` with a result.json) under `base`."""
    return sorted(d.name for d in Path(base).glob("*-s*") if (d / "result.json").exists())


@dataclass
class Run:
    """One finished run: its config, result, per-step metrics and (optional) weight norms."""

    name: str
    seed: int
    config: dict
    result: dict
    metrics: list[dict]
    path: Path
    weight_norms: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``done``, or ``diverged`` (then ``result["reason"]`` and ``result["diverged_at"]`` say why and when)."""
        return self.result.get("status", "done")

    @property
    def losses(self) -> list[float]:
        return [r["loss"] for r in self.metrics if "loss" in r]

    def read(self, filename: str):
        """Another file of the run directory (e.g. ``probes.jsonl``), recorded as a figure input."""
        return _read(self.path / filename)

    @property
    def step_times(self) -> list[float]:
        return [r["step_time"] for r in self.metrics if "step_time" in r]

    def curve(self, key: str = "eval_accuracy") -> dict[int, float]:
        """{step: value} of a metric logged at evaluations (``eval_accuracy``, ``eval_loss``)."""
        return {r["step"]: r[key] for r in self.metrics if key in r and "step" in r}


def first_step_reaching(curve: dict[int, float], target: float, higher: bool = True) -> int | None:
    """The first evaluated step (> 0) at which `curve` reaches `target` (None if it never does): Sparse MeZO's
    steps-to-accuracy (its RTE/BoolQ convergence figure: steps until MeZO's final accuracy is reached)."""
    hit = (lambda v: v >= target) if higher else (lambda v: v <= target)
    return next((s for s, v in sorted(curve.items()) if s > 0 and hit(v)), None)


def _read(path: Path):
    INPUTS.add(Path(path).resolve())
    return read_json(path) if Path(path).suffix == ".json" else read_jsonl(path)  # errors name the file


def load_run(d: Path) -> Run:
    """The finished run in folder `d` (its files recorded as inputs)."""
    manifest = _read(d / "manifest.json")
    norms = _read(d / "weight_norms.jsonl") if (d / "weight_norms.jsonl").exists() else []
    cfg = manifest["config"]
    return Run(cfg["name"], cfg["seed"], cfg, _read(d / "result.json"), _read(d / "metrics.jsonl"), d, norms)


def load_run_dirs(dirs) -> list[Run]:
    """The finished runs among the run folders `dirs` (unfinished or missing ones left out), their parent folders
    listed as `load_runs` lists its folder (a run added there makes a figure stale)."""
    for base in {Path(d).parent for d in dirs}:
        LISTINGS[base.resolve()] = finished_run_names(base)
    return [load_run(Path(d)) for d in dirs if (Path(d) / "result.json").exists()]


def load_runs(paper: str, experiment: str, profile: str = "cpu", root: Path | str = RESULTS) -> list[Run]:
    """All finished runs of an experiment, diverged ones included (see `Run.status`; unfinished ones are skipped),
    sorted by name and seed."""
    base = Path(root) / paper / experiment / profile
    LISTINGS[base.resolve()] = finished_run_names(base)  # a figure is stale once a run is added or removed
    runs = [load_run(d) for d in sorted(base.glob("*-s*")) if (d / "result.json").exists()]
    if not runs:
        raise FileNotFoundError(
            f"no finished runs under {base}; run `make {paper}-runs PROFILE={profile}` first"
        )
    return sorted(runs, key=lambda r: (r.name, r.seed))


def by_method(runs: list[Run], value, names: list[str] | None = None) -> dict[str, dict[int, float]]:
    """{run name: {seed: value(run)}} for the runs (in `names` order when given; names without runs are left out)."""
    out: dict[str, dict[int, float]] = {}
    for run in runs:
        out.setdefault(run.name, {})[run.seed] = value(run)
    return {n: out[n] for n in (names or sorted(out)) if n in out}


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[list[float], list[float]]:
    """The values of two methods on their common seeds, aligned seed by seed (same seed = same data order)."""
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def load_json(path: Path | str):
    """Any other result file (e.g. a bench JSON), recorded as an input."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; the make target of its paper (or `make bench`) writes it"
        )
    return _read(path)


def bench_label(bench: dict) -> str:
    """A bench file's setting in words: 'CPU, batch 4×64', 'H100, batch 8×512'."""
    st, gpu = bench["setting"], bench["manifest"]["machine"].get("gpu", "")
    return f"{'H100' if 'H100' in gpu else 'GPU' if gpu else 'CPU'}, batch {st['batch']}×{st['seq']}"


def load_benches(profile: str, root: Path | str = RESULTS) -> dict[str, dict]:
    """The `make bench` files of a profile by bench_label, CPU first: <profile>-cpu (required; a profile without
    its own bench, e.g. quick, reads cpu's), then <profile>-cuda and gpu-cuda where present (the CUDA files were
    measured on a GPU lent to one session). Each file is recorded as a figure input."""
    base = Path(root) / "bench"
    profile = profile if (base / f"{profile}-cpu.json").exists() else "cpu"
    names = dict.fromkeys([f"{profile}-cpu", f"{profile}-cuda", "gpu-cuda"])
    found = [n for n in names if n == f"{profile}-cpu" or (base / f"{n}.json").exists()]
    return {bench_label(b): b for b in (load_json(base / f"{n}.json") for n in found)}


def repo_relative(path: Path) -> str:
    """`path` relative to the repository when inside it (so manifests do not depend on the clone's location)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def locate_input(recorded: str, results_root: Path | str = RESULTS) -> Path:
    """Where a recorded input lives now: repo-relative paths resolve against the repository; absolute paths
    (older manifests recorded the clone that made them) are always mapped onto `results_root` by their part
    after ``data/results/``, so a clone never checks another clone's files, even one on the same machine."""
    path = Path(recorded)
    if path.is_absolute() and "data/results/" in recorded:
        return Path(results_root) / recorded.split("data/results/", 1)[1]
    return path if path.is_absolute() else REPO / path


def save_figure(fig, figure_path: str, table: dict | None = None, verdicts: list[dict] | None = None) -> None:
    """Write the PNG (fig.savefig: no backend switch, so a notebook still shows the figure inline), the numbers
    it shows, its verdicts, and the list of result files it came from (with sha256)."""
    path = Path(figure_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    inputs = [{"path": repo_relative(p), "sha256": sha256_file(p)} for p in sorted(INPUTS)]
    listings = [{"path": repo_relative(b), "runs": runs} for b, runs in sorted(LISTINGS.items())]
    atomic_write_json(
        path.with_suffix(".inputs.json"),
        {"inputs": inputs, "listings": listings, "table": table or {}, "verdicts": verdicts or []},
    )

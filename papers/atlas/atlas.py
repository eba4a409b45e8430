"""The method atlas (issue #35): every method of the repo on one task, memory against quality, with intervals.

Descriptive: each arm's test accuracy and validation loss with the t interval over its seeds, its measured peak
memory and step time on the same batch (the bench's ``atlas`` profile), its training budget (steps, wall-clock), the
analytic peak at 7B and 70B (`core.costs.memory.predict_memory`), and every method − LoRA paired by seed with the
interval and MDE the claims engine uses (`core.analysis.verdicts.compare`: crossed seeds × items for accuracy, paired t
for losses). No claim is judged here. Arms whose runs are not finished are listed as pending, never filled in.
The tables: `papers.atlas.tables`; the figure: `notebooks/src/atlas_atlas.py`.
"""

from __future__ import annotations

import functools
import statistics
from pathlib import Path

import numpy as np

from core.analysis.stats import t_interval
from core.infra.io import REPO, RESULTS
from core.infra.results import Run, load_json, load_run_dirs
from core.reporting.plotting import name
from core.running.reuse import arm_dirs

CONFIG = REPO / "papers" / "atlas" / "configs" / "atlas.yaml"
# the bench of every method at the runs' batch (python -m core.costs.bench --profile atlas): bench/atlas-<device>.json
BENCH = {"cpu": "atlas-cpu", "gpu": "atlas-cuda"}
REFERENCE = "lora"
PENDING = "pending (not run yet)"
# run name -> the bench row of the same method on the same batch (labels: core.reporting.plotting.name)
ARMS = {
    "zero_shot": "inference",
    "full": "full",
    "lora": "lora",
    "dora": "dora",
    "galore": "galore",
    "badam": "badam",
    "lisa": "lisa",
    "misa": "misa",
    "ist": "ist",
    "mezo": "mezo",
    "s-mezo": "sparse_mezo",
    "r-mezo": "random_mezo",
}
FIRST_ORDER = ("full", "lora", "dora", "galore", "badam", "lisa", "misa", "ist")
ZEROTH_ORDER = ("mezo", "s-mezo", "r-mezo")
METRICS = {"test accuracy": "test_correct", "validation loss": "eval_loss"}
# the analytic prediction at scale: the papers' memory setting (LISA Table 1: batch 1 x 1024, bf16, eager
# attention), each method with the atlas's own settings (LoRA r 8, LISA gamma 1, MISA delta 3 %, GaLore rank 8)
SCALES = {"7B": "llama-2-7b", "70B": "llama-2-70b"}
SCALE_BATCH, SCALE_SEQ = 1, 1024
BF16 = dict(weight_bytes=2, grad_bytes=2, state_bytes=2, act_bytes=2)
GIB = 1024**3


def bench_rows(root: Path | str = RESULTS, profile: str = "cpu") -> dict[str, dict]:
    """{bench method: row} of the profile's atlas bench ({} when it was not run)."""
    path = Path(root) / "bench" / f"{BENCH.get(profile, BENCH['cpu'])}.json"
    return {r["method"]: r for r in load_json(path)["rows"]} if path.exists() else {}


def zo_steps(rows: dict[str, dict], first_order_steps: int = 200, zo: str = "mezo") -> int:
    """The zeroth-order budget: first_order_steps x the first-order arms' median step time / the ZO step time (the
    bench's medians on the same batch), rounded to 10 steps: equal training wall-clock."""
    fo = statistics.median(rows[ARMS[a]]["step_s_median"] for a in FIRST_ORDER)
    return int(round(first_order_steps * fo / rows[zo]["step_s_median"], -1))


@functools.cache
def arm_configs(profile: str = "cpu") -> dict:
    """{arm: its run config} (the first seed's; seeds differ only in the seed)."""
    from core.training.experiment_file import load_experiment

    out = {}
    for c in load_experiment(CONFIG, profile):
        out.setdefault(c.name, c)
    return out


@functools.cache
def shared_items(profile: str = "cpu") -> int:
    """The test items every arm was scored on: the split's first min(test_limit) items. The arms reused from MISA's
    accuracy_math were scored on 256 items, the atlas's own on 64; all are compared on the first 64."""
    return min(c.test_limit for c in arm_configs(profile).values())


def correct_on(run: Run, items: int) -> list:
    """The run's per-item correctness on the split's first `items` test items."""
    correct = run.result["test_correct"]
    if len(correct) < items:
        raise ValueError(f"{run.path}: scored {len(correct)} test items, the atlas compares {items}")
    return correct[:items]


def accuracy_on(run: Run, items: int) -> float:
    return float(np.mean(correct_on(run, items)))


def metric_value(run: Run, metric: str, items: int):
    """What the claims engine compares: per-item correctness for accuracy (crossed seeds × items), else the loss."""
    return correct_on(run, items) if METRICS[metric] == "test_correct" else run.result[METRICS[metric]]


def trains(arm: str, profile: str = "cpu") -> bool:
    """Whether the arm's method trains (the registry's ``trains``; zero-shot does not)."""
    from core.training import methods

    return methods.method_of(arm_configs(profile)[arm]).trains


def predicted_gib(arm: str, scale: str, profile: str = "cpu") -> float:
    """The analytic peak (GiB) of the arm's method at `scale` (7B / 70B) in the papers' memory setting: the arm's own
    settings (`MemorySetting.of` its run config: LoRA rank, LISA's γ, MISA's δ, GaLore's rank for a method building
    GaLore's optimizer) at batch 1 x 1024 in bf16 with eager attention."""
    from core.costs.memory import PAPER_MODELS, predict_memory
    from core.costs.memory_setting import MemorySetting

    setting = MemorySetting.of(
        arm_configs(profile)[arm],
        method=ARMS[arm],
        batch=SCALE_BATCH,
        seq=SCALE_SEQ,
        attention_scores=True,
        **BF16,
    )
    return predict_memory(PAPER_MODELS[SCALES[scale]], setting)["total"] / GIB


def planned_steps(profile: str = "cpu") -> dict[str, int]:
    """{arm: the steps its config trains}, finished or not."""
    return {arm: c.max_steps if trains(arm, profile) else 0 for arm, c in arm_configs(profile).items()}


def load_arms(profile: str = "cpu", root: Path | str = RESULTS) -> dict[str, tuple[list[Run], list[Path]]]:
    """{arm: (its finished runs, its expected run folders)}; reused arms read their source experiment's folders."""
    return {name: (load_run_dirs(dirs), dirs) for name, dirs in arm_dirs(CONFIG, profile, Path(root)).items()}


def seed_stat(values: list[float]) -> dict:
    """Mean and the t interval over seeds (None bounds with fewer than 2 seeds)."""
    if len(values) < 2:
        return {"mean": float(values[0]) if values else None, "lo": None, "hi": None}
    iv = t_interval(values)
    return {"mean": iv.estimate, "lo": iv.lo, "hi": iv.hi}


def status(runs: list[Run], expected: list[Path]) -> str:
    if not runs:
        return PENDING
    if any(r.status != "done" for r in runs):
        return "diverged (" + ", ".join(f"seed {r.seed}" for r in runs if r.status != "done") + ")"
    return (
        "done"
        if len(runs) == len(expected)
        else f"{len(runs)} of {len(expected)} seeds ({PENDING} for the rest)"
    )


def arm_row(
    arm: str,
    runs: list[Run],
    expected: list[Path],
    bench: dict[str, dict],
    planned: int,
    items: int,
    profile: str = "cpu",
) -> dict:
    """One arm of the atlas: quality over seeds (accuracy on the first `items` test items), measured memory/time,
    budget (`planned` steps), prediction at scale (from the arm's run config in `profile`)."""
    done = [r for r in runs if r.status == "done"]
    b = bench.get(ARMS[arm], {})
    row = {
        "arm": arm,
        "label": name(arm),
        "status": status(runs, expected),
        "seeds": [r.seed for r in done],
        "expected_runs": [str(Path(d).relative_to(d.parents[3])) for d in expected],
        "test_items": items,
        "test_accuracy": seed_stat([accuracy_on(r, items) for r in done]),
        "validation_loss": seed_stat([r.result["eval_loss"] for r in done]),
        "per_seed_accuracy": {r.seed: accuracy_on(r, items) for r in done},
        "per_seed_loss": {r.seed: r.result["eval_loss"] for r in done},
        "steps": planned,
        "lr": done[0].config["lr"] if done and trains(arm, profile) else None,
        "threads": sorted({r.read("manifest.json")["machine"]["torch_threads"] for r in done}),
        "wall_s": statistics.median(r.result["wall_s"] for r in done) if done else None,
        "train_s": statistics.median(r.result["mean_step_s"] * r.result["steps"] for r in done)
        if done and trains(arm, profile)
        else None,
        "peak_mb": b.get("peak_mb"),
        "step_s": b.get("step_s_median"),
    }
    row.update({f"predicted_gib_{s}": predicted_gib(arm, s, profile) for s in SCALES})
    return row


def rows(profile: str = "cpu", root: Path | str = RESULTS) -> list[dict]:
    bench, steps, items = bench_rows(root, profile), planned_steps(profile), shared_items(profile)
    return [
        arm_row(arm, runs, dirs, bench, steps[arm], items, profile)
        for arm, (runs, dirs) in load_arms(profile, root).items()
    ]


def difference(runs: list[Run], reference: list[Run], metric: str, items: int) -> dict:
    """arm − reference paired by seed on `metric` (accuracy on the first `items` test items), with the claims
    engine's interval and MDE (no verdict)."""
    from core.analysis.verdicts import (
        compare,  # the claims engine's interval and MDE; its verdict is not read
    )

    a = {r.seed: metric_value(r, metric, items) for r in runs if r.status == "done"}
    b = {r.seed: metric_value(r, metric, items) for r in reference if r.status == "done"}
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return {"metric": metric, "seeds": seeds, "estimate": None, "lo": None, "hi": None, "mde": None}
    c = compare([a[s] for s in seeds], [b[s] for s in seeds])
    iv = c.interval
    return {
        "metric": metric,
        "seeds": seeds,
        "estimate": iv.estimate,
        "lo": iv.lo,
        "hi": iv.hi,
        "mde": c.mde,
        "design": iv.kind,
        "per_seed": [float(np.mean(a[s]) - np.mean(b[s])) for s in seeds],
    }


def differences(profile: str = "cpu", root: Path | str = RESULTS) -> list[dict]:
    """Every arm − LoRA on both metrics (zero-shot has one seed: no interval)."""
    arms, items = load_arms(profile, root), shared_items(profile)
    ref = arms[REFERENCE][0]
    return [
        {"arm": arm, "label": name(arm), **difference(runs, ref, metric, items)}
        for arm, (runs, _) in arms.items()
        if arm != REFERENCE
        for metric in METRICS
    ]


def pareto(points: list[tuple[float, float]], higher: bool = True) -> list[int]:
    """Indices of the points no other point beats on both axes (x: memory, lower is better; y: quality, higher
    is better when `higher`), sorted by x."""
    sign = 1 if higher else -1
    front = []
    for i, (x, y) in enumerate(points):
        beaten = any(
            (xo <= x and sign * yo >= sign * y) and (xo < x or sign * yo > sign * y)
            for j, (xo, yo) in enumerate(points)
            if j != i
        )
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])

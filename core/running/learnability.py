"""Learnability gate: a task enters a method comparison only if the best baseline learns it at the profile's budget.

A comparison of methods on a task that none of them learns (full FT no better than the untrained model, or than
always answering the most frequent class) can only show noise, and would report a method's "failure" that is the
task's. So before a claims table compares methods on a metric, the baseline (full FT: every parameter trained) has
to beat both references by an interval that excludes 0:

- zero-shot: the untrained model (the ``zero_shot`` run: evaluation only, i.e. the step-0 validation loss, or its
  accuracy);
- majority class (accuracy metrics with a fixed answer set): always predicting the training split's most frequent
  label, scored on the same evaluation examples.

Intervals come from ``core.analysis.stats``: per-seed values give a paired t interval over the seeds; per-example
correctness (when stored) gives the crossed seeds × items interval of ``core.analysis.item_stats.accuracy_diff``, paired
over the same examples. The references are deterministic (one value, or one correctness vector, for every seed).
The gate's numbers are written, with a manifest, to ``data/results/<paper>/learnability/<profile>/<experiment>.json``;
a task that fails is given more steps or replaced, and its comparisons are reported as not testable at this
budget, never as a method's loss.

    python -m core.running.learnability lisa loss_curves --profile cpu [--baseline full] [--zero-shot zero_shot] \
        [--metric eval_loss --metric lm_eval.sft_math_mc.acc_norm]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

from core.analysis.item_stats import accuracy_diff, mde_accuracy
from core.analysis.stats import Interval, mde_of, paired_interval
from core.infra.io import RESULTS, RunExistsError, atomic_write_json, read_json
from core.infra.paths import gate_path
from core.infra.provenance import manifest

LOWER_IS_BETTER = ("eval_loss", "final_train_loss")


def improvement(baseline, reference) -> tuple[Interval, float]:
    """(interval, MDE) of baseline − reference over seeds, in the metric's units.

    baseline: one value per seed, or one per-example correctness vector per seed; reference: one value (or one
    correctness vector) shared by every seed (a deterministic zero-shot / majority answer)."""
    n = len(baseline)
    if np.ndim(baseline[0]) == 1:
        refs = [np.asarray(reference, dtype=float)] * n
        return accuracy_diff(baseline, refs), design_mde(mde_accuracy, baseline, refs)
    ref = [float(np.mean(reference))] * n  # a correctness vector against per-seed scalars: its accuracy
    return paired_interval(baseline, ref), design_mde(mde_of, baseline, ref)


def design_mde(fn, *args) -> float:
    """The MDE from `fn`, or NaN where scipy's noncentral t returns NaN power (small df: 2 seeds, or the crossed
    design's fractional df ~1.5): the gate's pass/fail does not use the MDE."""
    try:
        return fn(*args)
    except ValueError:
        return float("nan")


def check_gate(baseline, zero_shot, majority=None, lower_is_better: bool = False) -> dict:
    """Pass/fail with the numbers: the baseline must beat zero-shot (and the majority class, when given) by an
    interval that excludes 0 on the better side.

    Values are per seed (floats, or per-example 0/1 correctness vectors); zero_shot / majority are one value or
    one correctness vector. Returns ``{"passes", "references": {name: {"diff", "lo", "hi", "n", "mde", "beats"}}}``
    with diff = baseline − reference (negative is better for a loss)."""
    sign = -1.0 if lower_is_better else 1.0
    refs = {"zero_shot": zero_shot} if majority is None else {"zero_shot": zero_shot, "majority": majority}
    out = {}
    for name, ref in refs.items():
        iv, mde = improvement(baseline, ref)
        beats = bool(min(sign * iv.lo, sign * iv.hi) > 0)
        out[name] = {
            "diff": iv.estimate,
            "lo": iv.lo,
            "hi": iv.hi,
            "n": iv.n,
            "kind": iv.kind,
            "mde": mde,
            "beats": beats,
            "reference": float(np.mean(ref)),
        }
    return {
        "passes": all(r["beats"] for r in out.values()),
        "lower_is_better": lower_is_better,
        "references": out,
    }


def majority_correct(train_labels, eval_labels) -> list[int]:
    """Per-example correctness of always answering the training split's most frequent label (ties: the smaller)."""
    counts = collections.Counter(train_labels)
    label = min(counts, key=lambda k: (-counts[k], k))
    return [int(y == label) for y in eval_labels]


def metric_value(result: dict, metric: str):
    """`eval_loss`, `test_accuracy` (its per-example `test_correct` when stored) or `lm_eval.<task>.<metric>`."""
    if metric == "test_accuracy" and isinstance(result.get("test_correct"), list):
        return result["test_correct"]
    node = result
    for part in metric.split("."):
        node = node[part]
    return node


def majority_reference(metric: str, cfg: dict):
    """Majority-class correctness on the metric's evaluation examples, or None (no fixed answer set)."""
    from core.sources.data import load_task
    from core.sources.evaluate import LOCAL_TASKS

    if metric == "test_accuracy":
        task, split, limit = cfg["task"], "test", cfg.get("test_examples") or cfg["eval_examples"]
    elif (
        metric.startswith("lm_eval.")
        and LOCAL_TASKS[metric.split(".")[1]]["output_type"] == "multiple_choice"
    ):
        (task, split), limit = LOCAL_TASKS[metric.split(".")[1]]["source"], cfg["lm_eval_limit"]
    else:
        return None
    train = load_task(task, "train")["label"]
    return majority_correct(train, load_task(task, split, limit)["label"])


def runs_of(
    paper: str, experiment: str, profile: str, name: str, root: Path
) -> list[tuple[Path, dict, dict]]:
    """(directory, config, result) of every finished seed of run `name`."""
    base = Path(root) / paper / experiment / profile
    found = [
        (d, read_json(d / "manifest.json")["config"], read_json(d / "result.json"))
        for d in sorted(base.glob(f"{name}-s*"))
        if (d / "result.json").exists()
    ]
    if not found:
        raise FileNotFoundError(f"no finished '{name}' runs under {base}")
    return found


def gate_record(
    paper: str,
    experiment: str,
    profile: str,
    metrics: list[str],
    baseline: str = "full",
    zero_shot: str = "zero_shot",
    root: Path = RESULTS,
) -> dict:
    """The gate of every metric of an experiment, from its finished baseline and zero-shot runs."""
    base_runs = runs_of(paper, experiment, profile, baseline, root)
    zs_dir, zs_cfg, zs_result = runs_of(paper, experiment, profile, zero_shot, root)[0]
    gates = {}
    for metric in metrics:
        values = [metric_value(r, metric) for _, _, r in base_runs]
        gate = check_gate(
            values,
            metric_value(zs_result, metric),
            majority_reference(metric, base_runs[0][1]),
            lower_is_better=metric in LOWER_IS_BETTER,
        )
        gate["baseline_per_seed"] = [float(np.mean(v)) for v in values]
        gates[metric] = gate
    inputs = [str(d.relative_to(root)) for d, _, _ in base_runs] + [str(zs_dir.relative_to(root))]
    return {
        "paper": paper,
        "experiment": experiment,
        "profile": profile,
        "baseline": baseline,
        "zero_shot": zero_shot,
        "inputs": inputs,
        "metrics": gates,
        "passes": {m: g["passes"] for m, g in gates.items()},
    }


def write_gate(record: dict, root: Path = RESULTS) -> Path:
    """Write the record with a manifest; an existing file with other numbers is refused, never overwritten."""
    path = gate_path(record["paper"], record["experiment"], record["profile"], root)
    if path.exists():
        old = read_json(path)
        if as_json({k: old.get(k) for k in record}) != as_json(record):  # as text: NaN equals NaN
            raise RunExistsError(
                f"{path} holds a different gate (its runs changed); move it away to recompute"
            )
        return path
    atomic_write_json(
        path,
        {
            **record,
            "manifest": manifest(
                {k: record[k] for k in ("paper", "experiment", "profile", "baseline", "zero_shot")}
            ),
        },
    )
    return path


def as_json(obj) -> str:
    """`obj` as canonical JSON text (numpy floats as plain floats), for comparing a record with a stored one."""
    return json.dumps(obj, sort_keys=True, default=float)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paper")
    parser.add_argument("experiment")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--baseline", default="full")
    parser.add_argument("--zero-shot", default="zero_shot")
    parser.add_argument(
        "--metric", action="append", help="eval_loss (default), test_accuracy, lm_eval.<task>.<metric>"
    )
    args = parser.parse_args(argv)
    try:
        record = gate_record(
            args.paper,
            args.experiment,
            args.profile,
            args.metric or ["eval_loss"],
            args.baseline,
            args.zero_shot,
        )
    except FileNotFoundError as err:
        print(
            f"error: learnability gate of {args.paper}/{args.experiment} ({args.profile}): {err}; run the "
            f"profile's '{args.baseline}' and '{args.zero_shot}' runs first (core.running.experiment)",
            file=sys.stderr,
        )
        return 2
    path = write_gate(record)
    for metric, gate in record["metrics"].items():
        refs = "; ".join(
            f"vs {k} {r['reference']:.4g}: {r['diff']:+.4g} [{r['lo']:+.4g}, {r['hi']:+.4g}] "
            f"(MDE {r['mde']:.2g})"
            for k, r in gate["references"].items()
        )
        print(f"{args.experiment} {metric}: {'passes' if gate['passes'] else 'FAILS'}  ({refs})")
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall-time budget of a MISA profile: measured cost per arm × the profile's plan = predicted minutes.

`measure` runs every distinct arm of the profile's experiments for a few steps (seed 0, its lr as configured or
the grid's first value, in a scratch results folder) and records, per arm, the median step time after the first
step, the run's fixed cost (model load, tokenisation, evaluation, lm-eval: the run's wall time minus its steps)
and the cost of one convergence probe (‖∇f‖² of all parameters on the probe batch,
`core.training.metric_callbacks.FullGradNormCallback`), with ``os.getloadavg()`` before and after: on the shared 2-core
machine the absolute times carry the other tenants' load, so the file keeps both. `predict` is the arithmetic: for every
(run, seed) of the plan, steps × step time + fixed cost + probes × probe cost, plus every lr-probe run (grid × probe
steps), plus the fixed stages (install, model conversion, studies, notebooks) passed in with their sources.

    python -m papers.misa.budget --profile cpu --steps 4   # -> data/results/misa/budget/<profile>-<time>.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from core.infra.io import REPO, RESULTS, read_json, read_jsonl, write_new_json
from core.infra.provenance import manifest
from core.running.lr_probe import parse_grid
from core.training.config import LrProbeSettings, RunConfig
from core.training.experiment_file import load_experiment
from core.training.methods import method_of

CONFIGS = REPO / "papers" / "misa" / "configs"


def arm_key(cfg: RunConfig) -> str:
    return f"{cfg.experiment}.{cfg.name}"


EXPERIMENTS = (
    "accuracy_math",
    "pretrain",
)  # what `make misa-runs` runs outside PROFILE=paper (Makefile MISA_ONLY)


def plan(profile: str, configs_dir: Path = CONFIGS, experiments=EXPERIMENTS) -> list[RunConfig]:
    """Every (run, seed) of the profile, lr as configured (the probe's choice does not change the cost)."""
    return [c for name in experiments for c in load_experiment(Path(configs_dir) / f"{name}.yaml", profile)]


def n_probes(cfg: RunConfig) -> int:
    """Convergence probes of one run: step 0 and every `probe_every` steps."""
    return 0 if not cfg.probe_every or not method_of(cfg).trains else cfg.max_steps // cfg.probe_every + 1


def lr_probe_runs(configs: list[RunConfig]) -> list[tuple[str, int]]:
    """(arm, steps) of every lr-probe run the plan triggers: one per grid value of each run that owns a grid
    (runs with `source` reuse another run's selection and cost nothing)."""
    owners = {arm_key(c): c for c in configs if c.lr_probe.grid}
    return [(key, c.lr_probe.steps) for key, c in owners.items() for _ in parse_grid(c.lr_probe.grid)]


def predict(configs: list[RunConfig], arms: dict, fixed_s: dict[str, float] | None = None) -> dict:
    """Predicted wall seconds: Σ over (run, seed) of steps·step_s + overhead_s + probes·probe_s, plus the lr-probe
    runs (steps·step_s + overhead_s each), plus `fixed_s` (stage -> seconds). `arms` maps "experiment.name" to
    ``{"step_s", "overhead_s", "probe_s"}``."""
    runs = sum(
        c.max_steps * arms[arm_key(c)]["step_s"] * method_of(c).trains
        + arms[arm_key(c)]["overhead_s"]
        + n_probes(c) * arms[arm_key(c)]["probe_s"]
        for c in configs
    )
    probes = sum(
        steps * arms[key]["step_s"] + arms[key]["overhead_s"] for key, steps in lr_probe_runs(configs)
    )
    fixed = dict(fixed_s or {})
    total = runs + probes + sum(fixed.values())
    return {
        "runs_s": runs,
        "lr_probes_s": probes,
        "fixed_s": fixed,
        "total_s": total,
        "total_min": total / 60,
        "n_runs": len(configs),
        "n_lr_probe_runs": len(lr_probe_runs(configs)),
    }


def _short(cfg: RunConfig, steps: int) -> RunConfig:
    lr = parse_grid(cfg.lr_probe.grid)[0] if cfg.lr_probe.grid else cfg.lr
    return dataclasses.replace(cfg, max_steps=steps, seed=0, lr=lr, probe_every=0, lr_probe=LrProbeSettings())


def probe_seconds(cfg: RunConfig, out: Path, repeats: int = 2) -> float:
    """Median time of one ‖∇f‖² probe on the run's probe batch."""
    from core.training.finetune import build_trainer
    from core.training.metric_callbacks import FullGradNormCallback

    trainer, _, model = build_trainer(dataclasses.replace(cfg, probe_every=0), out)
    evals = trainer.eval_dataset
    batch = trainer.data_collator([evals[i] for i in range(min(cfg.probe_examples, len(evals)))])
    cb = FullGradNormCallback(out / "probe_timing.jsonl", batch, 1)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cb.probe(model, 0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_arm(cfg: RunConfig, steps: int, root: Path) -> dict:
    """Step time, fixed cost and probe cost of one arm (a short run of `steps` steps under `root`)."""
    from core.training.finetune import train

    short = _short(cfg, steps)
    out = root / arm_key(cfg)
    load = os.getloadavg()
    t0 = time.perf_counter()
    train(short, out, "budget")
    total = time.perf_counter() - t0
    times = [r["step_time"] for r in read_jsonl(out / "metrics.jsonl") if "step_time" in r][1:]
    step = statistics.median(times) if times else 0.0
    probe = probe_seconds(short, root / (arm_key(cfg) + ".probe")) if cfg.probe_every else 0.0
    return {
        "step_s": step,
        "step_times": times,
        "overhead_s": total - step * len(times) if times else total,
        "total_s": total,
        "steps": steps if method_of(short).trains else 0,
        "probe_s": probe,
        "loadavg_before": load,
        "loadavg_after": os.getloadavg(),
        "method": cfg.method,
        "batch": [cfg.batch_size, cfg.max_length],
        "model": cfg.model,
    }


def measure(profile: str, steps: int, configs_dir: Path = CONFIGS, only: list[str] | None = None) -> dict:
    """Measure every distinct arm of the profile (first seed), back to back in this process."""
    arms = {}
    for cfg in plan(profile, configs_dir):
        key = arm_key(cfg)
        if key in arms or (only and key not in only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            arms[key] = measure_arm(cfg, steps, Path(tmp))
        print(
            f"{key}: step {arms[key]['step_s']:.3f} s, fixed {arms[key]['overhead_s']:.1f} s, probe "
            f"{arms[key]['probe_s']:.2f} s (load {arms[key]['loadavg_before'][0]:.1f})",
            flush=True,
        )
    return arms


def reference_steps(profile: str = "cpu", root: Path = RESULTS) -> dict:
    """Median step time per arm of MISA's committed 16-step accuracy_math runs (batch 4 x 64, the same batch as the
    cpu profile; measured on the quiet machine of their manifests): {"accuracy_math.<method>": seconds}."""
    out = {}
    for result in sorted((Path(root) / "misa" / "accuracy_math" / profile).glob("*-s*/result.json")):
        data = read_json(result)
        cfg = read_json(result.with_name("manifest.json"))["config"]
        if cfg["max_steps"] == 16 and data.get("mean_step_s"):
            out.setdefault(f"accuracy_math.{cfg['name']}", []).append(data["mean_step_s"])
    return {k: statistics.median(v) for k, v in out.items()}


def load_factor(arms: dict, reference: dict) -> float | None:
    """Median over the arms measured now and in the reference of (measured step / reference step): how much slower
    this machine runs now than when the reference was measured (the other tenants' load)."""
    ratios = [arms[k]["step_s"] / reference[k] for k in arms if k in reference and arms[k]["step_s"] > 0]
    return statistics.median(ratios) if ratios else None


def scaled(arms: dict, factor: float) -> dict:
    """Every time of `arms` divided by `factor` (the measurement brought back to the reference machine's load)."""
    keys = ("step_s", "overhead_s", "probe_s")
    return {k: {**a, **{t: a[t] / factor for t in keys}} for k, a in arms.items()}


def batch_ratio(
    methods=("full", "lora", "lisa", "badam", "misa"), batches=(2, 4), seq: int = 48, steps: int = 3
) -> dict:
    """Step time per method at each batch size on SmolLM2, back to back in this process
    (`core.costs.bench.bench_method`, random tokens of length `seq` ~ the math prompts' 45-49 tokens): the ratio batch 2
    / batch 4 does not depend on the machine's load as much as the absolute times do."""
    from core.costs.bench import PROFILES, bench_method

    rows = {}
    for method in methods:
        for b in batches:
            load = os.getloadavg()
            row = bench_method(method, dict(PROFILES["cpu"], batch=b, seq=seq, gamma=1, steps=steps), "cpu")
            rows[f"{method}@{b}"] = {
                "step_s": row["step_s_median"],
                "step_s_all": row["step_s_all"],
                "loadavg_before": load,
            }
            print(f"{method} batch {b}x{seq}: {row['step_s_median']:.3f} s (load {load[0]:.1f})", flush=True)
    ratios = {m: rows[f"{m}@{batches[0]}"]["step_s"] / rows[f"{m}@{batches[-1]}"]["step_s"] for m in methods}
    return {"rows": rows, "ratio_small_over_large": ratios, "seq": seq, "batches": list(batches)}


def quiet_arms(
    measured: dict, reference: dict, ratios: dict, names: dict[str, str], batch_ratio: float | None = None
) -> dict:
    """Per-arm costs brought to the reference machine's load: steps from the reference step time of the arm's
    method (`names` maps an arm to the reference arm, e.g. misa_uniform -> misa) × the measured batch ratio of its
    method (or one `batch_ratio` for all); fixed and probe costs and unreferenced arms (other models) measured now
    and divided by the load factor."""
    factor = load_factor(measured, reference)
    out = scaled(measured, factor)
    for arm, ref in names.items():
        method = ref.split(".")[1]
        ratio = batch_ratio if batch_ratio is not None else ratios.get(method)
        if ref in reference and ratio is not None:
            out[arm] = {**out.get(arm, {}), "step_s": reference[ref] * ratio}
    fixed = statistics.median(a["overhead_s"] for k, a in out.items() if k.startswith("accuracy_math."))
    probe = statistics.median(
        a["probe_s"] for k, a in out.items() if k.startswith("accuracy_math.") and a["probe_s"]
    )
    for arm in names:
        out[arm] = {**out[arm], "overhead_s": fixed, "probe_s": probe}
    return out


# Stages outside the runs, in seconds, with their source. v002's `make reproduce-misa` from a fresh clone took
# 1864 s, 935 s of it inside training (the committed runs' wall_s); of the other 929 s, install is 180 s
# (papers/lisa/LOG.md 13) and each of v002's 34 runs spent at least 10 s loading and evaluating, so conversion,
# gradient study, memory study and notebooks took at most 929 - 180 - 340 = 409 s.
FIXED_STAGES = {
    "install (papers/lisa/LOG.md 13)": 180.0,
    "SmolLM2 conversion, gradient + memory studies, notebooks (bound from v002's timed run)": 409.0,
}


def predict_main(profile: str, measured_path: str, ratio_path: str) -> int:
    """Prediction of the profile's `make reproduce-misa` wall time at the reference load, per-method batch ratios
    and (conservative) the largest ratio for every method; written next to its inputs."""
    measured, ratio = read_json(Path(measured_path)), read_json(Path(ratio_path))
    configs = plan(profile)
    names = {
        arm_key(c): "accuracy_math." + ("misa" if c.name == "misa_uniform" else c.name)
        for c in configs
        if c.experiment == "accuracy_math" and method_of(c).trains
    }
    ratios = ratio["ratio_small_over_large"]
    reference = measured["reference_step_s"]
    arms = {
        "per_method_ratio": quiet_arms(measured["arms"], reference, ratios, names),
        "largest_ratio": quiet_arms(measured["arms"], reference, ratios, names, max(ratios.values())),
    }
    out = {
        "profile": profile,
        "inputs": [measured_path, ratio_path],
        "fixed_stages_s": FIXED_STAGES,
        "load_factor": load_factor(measured["arms"], reference),
        "arms": arms,
        "predictions": {k: predict(configs, a, FIXED_STAGES) for k, a in arms.items()},
        "manifest": manifest({"profile": profile, "measured": measured_path, "ratio": ratio_path}),
    }
    path = RESULTS / "misa" / "budget" / f"{profile}-prediction.json"
    write_new_json(path, out)
    for k, p in out["predictions"].items():
        print(
            f"{k}: {p['total_min']:.1f} min (runs {p['runs_s'] / 60:.1f}, lr probes {p['lr_probes_s'] / 60:.1f}, "
            f"fixed {sum(p['fixed_s'].values()) / 60:.1f})"
        )
    print(f"-> {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--only", nargs="*", help="arms (experiment.name) to measure")
    parser.add_argument(
        "--batch-ratio", action="store_true", help="only the batch 2 / batch 4 step-time ratios"
    )
    parser.add_argument(
        "--predict",
        nargs=2,
        metavar=("MEASURED", "RATIO"),
        help="predict the profile's wall time from a measurement record and a batch_ratio record",
    )
    args = parser.parse_args(argv)
    if args.predict:
        return predict_main(args.profile, *args.predict)
    if args.batch_ratio:
        path = RESULTS / "misa" / "budget" / f"batch_ratio-{time.strftime('%Y%m%dT%H%M%S')}.json"
        write_new_json(path, {**batch_ratio(), "manifest": manifest({"study": "batch_ratio"})})
        print(f"-> {path}")
        return 0
    arms = measure(args.profile, args.steps, only=args.only)
    configs = [c for c in plan(args.profile) if arm_key(c) in arms]
    reference = reference_steps()
    factor = load_factor(arms, reference)
    record = {
        "profile": args.profile,
        "steps": args.steps,
        "arms": arms,
        "cpus": os.cpu_count(),
        "reference_step_s": reference,
        "load_factor": factor,
        "prediction_at_measured_load": predict(configs, arms),
        "prediction_at_reference_load": predict(configs, scaled(arms, factor)) if factor else None,
        "manifest": manifest({"profile": args.profile, "steps": args.steps, "only": args.only}),
    }
    path = RESULTS / "misa" / "budget" / f"{args.profile}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    write_new_json(path, record)
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run every run of one or more experiment configs, skipping finished runs and resuming unfinished ones.

    python -m core.running.experiment papers/lisa/configs [--profile cpu] [--only loss_curves] [--run lisa] [--jobs 2]
                              [key=value ...]

``key=value`` overrides may come anywhere among the arguments and win over everything in the files (see
`core.training.config.load_experiment`). Every config is validated before any run starts or any folder is made.
Exit status: 0 all runs done; 1 a run failed or diverged; 2 a config or argument error; 3 a finished run would be
overwritten, or one cannot be read back.

With ``--jobs N > 1`` runs go to N worker processes (a fresh process per run), each with
``cpu_count // N`` torch threads and its output in ``<run dir>/train.log``: for machines with many cores.
On the 2-core reference machine it does not pay: two 1-thread SmolLM2 LISA runs side by side took 3.8 s per
step each (1.9 s per step of throughput) vs 1.73 s for one 2-thread run (papers/lisa/LOG.md), so the
Makefile default is ``JOBS=1``. The manifest records ``torch_threads``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys

from core.infra.io import RESULTS, CorruptFileError, RunExistsError
from core.running.lr_probe import check as check_probe
from core.running.lr_probe import pending_probes, probing, with_selected_lr
from core.running.reuse import load as load_experiment
from core.running.runner import experiment_files, run_one
from core.training.config import ConfigError, parse_overrides
from core.training.run import run_dir, run_status


def load_configs(
    targets: list[str],
    profile: str,
    overrides: dict,
    only: list[str] | None = None,
    select: list[str] | None = None,
):
    """Every run's config, in file order, before lr probes are applied (a reused run as its source's config,
    `core.running.reuse`); `only` keeps experiment files by stem, `select` `runs` entries by name. Raises ConfigError
    for an empty selection."""
    files = [path for target in targets for path in experiment_files(target)]
    unknown = sorted(set(only or []) - {p.stem for p in files})
    if unknown:
        raise ConfigError(
            f"--only {' '.join(unknown)}: no such experiment file (have: "
            f"{', '.join(sorted(p.stem for p in files))})"
        )
    configs = [
        cfg
        for path in files
        if not only or path.stem in only
        for cfg in load_experiment(path, profile, overrides, select)
    ]
    if not configs:
        raise ConfigError(
            f"--run {' '.join(select)}: no `runs` entry of that name"
            if select
            else "the selection holds no run"
        )
    for cfg in configs:
        if probing(cfg):
            check_probe(cfg)  # a bad lr_probe setting is a config error before any run starts
    return configs


def plan(configs, profile: str):
    """(config at its selected lr, run directory) for every run; a missing lr selection is made first
    (`core.running.lr_probe.with_selected_lr`, which runs the probes still missing one after another)."""
    return [(cfg, run_dir(cfg, profile, RESULTS)) for cfg in with_selected_lr(configs, profile, RESULTS)]


def check_finished(runs) -> int:
    """Read back every finished run of the plan before the first training job starts (`core.training.run.run_status`): a
    damaged result or manifest, or a finished run under another config, stops the whole plan now with its one-line
    error instead of hours later when its turn comes. Returns how many runs are finished."""
    finished = 0
    for cfg, out in runs:
        if (out / "result.json").exists():
            run_status(out, cfg)
            finished += 1
    return finished


def describe(result: dict) -> str:
    if result.get("error"):
        return f"failed: {result['error']}"
    if result.get("status") == "diverged":
        return (
            f"{'skipped (finished) but ' if result.get('skipped') else ''}diverged at step "
            f"{result['diverged_at']}: {result['reason']}; lower lr"
        )
    if result.get("skipped"):
        return "skipped (finished)"
    return f"done: train loss {result['final_train_loss']:.4f}, eval loss {result['eval_loss']:.4f}"


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_logged(args) -> dict:
    """Worker entry: one run with stdout/stderr in ``<run dir>/train.log``."""
    cfg, out, profile = args
    out.mkdir(parents=True, exist_ok=True)
    with (
        open(out / "train.log", "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        return run_one(cfg, out, profile)


def failure(result: dict) -> bool:
    return bool(result.get("error")) or result.get("status") == "diverged"


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def run_parallel(runs, profile: str, jobs: int) -> int:
    from tqdm.auto import tqdm

    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = multiprocessing.get_context("spawn")
    failed = 0
    with ctx.Pool(jobs, initializer=_set_threads, initargs=(threads,), maxtasksperchild=1) as pool:
        bar = tqdm(total=len(runs), desc=f"runs ({jobs} jobs x {threads} threads)", unit="run")
        for (cfg, out), result in zip(runs, pool.imap(run_logged, [(c, o, profile) for c, o in runs])):
            bar.write(
                f"{cfg.experiment}/{out.name} ({cfg.method}): {describe(result)}  [log: {out / 'train.log'}]"
            )
            failed += failure(result)
            bar.update()
        bar.close()
    return failed


def run_serial(runs, profile: str) -> int:
    failed = 0
    for i, (cfg, out) in enumerate(runs, 1):
        print(
            f"[{i}/{len(runs)}] {cfg.experiment}/{out.name} ({cfg.method}, {cfg.model}, {cfg.max_steps} steps)",
            flush=True,
        )
        result = run_one(cfg, out, profile)
        print("   " + describe(result), flush=True)
        failed += failure(result)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "targets", nargs="+", help="experiment YAMLs or folders (key=value overrides anywhere)"
    )
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--only", nargs="+", help="experiment file stems to run")
    parser.add_argument("--run", nargs="+", help="names of `runs` entries to run (e.g. lisa)")
    parser.add_argument(
        "--jobs", type=positive_int, default=1, help="runs in parallel (each with cpu_count/jobs threads)"
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    is_override = [not a.startswith("-") and "=" in a for a in argv]
    args = parser.parse_args([a for a, o in zip(argv, is_override) if not o])
    try:
        overrides = parse_overrides([a for a, o in zip(argv, is_override) if o])
        configs = load_configs(args.targets, args.profile, overrides, args.only, args.run)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    try:
        failed = 0
        for _ in range(2 if args.jobs > 1 else 0):  # short probes, then any confirmation runs they call for
            probes = pending_probes(configs, args.profile, RESULTS)
            if probes:  # side by side; the selection below then only reads them back
                failed += run_parallel(probes, args.profile, args.jobs)
        runs = plan(configs, args.profile)
        print(f"{check_finished(runs)} of {len(runs)} runs finished and intact", flush=True)
        failed += (
            run_parallel(runs, args.profile, args.jobs) if args.jobs > 1 else run_serial(runs, args.profile)
        )
    except (RunExistsError, CorruptFileError) as err:
        print(f"refusing: {err}", file=sys.stderr)
        return 3
    if failed:
        print(
            f"{failed} run(s) failed or diverged; fix the cause and re-run (finished runs are skipped, the rest "
            "resume)",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

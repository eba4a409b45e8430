"""Run every run of one or more experiment configs, skipping finished runs and resuming unfinished ones.

    python -m core.experiment papers/lisa/configs [--profile cpu] [--only loss_curves] [key=value ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import ConfigError, load_experiment, parse_overrides
from core.run import RESULTS, RunExistsError, run_dir


def experiment_files(target: str) -> list[Path]:
    path = Path(target)
    if path.is_dir():
        return sorted(path.glob("*.yaml"))
    if not path.exists():
        raise ConfigError(f"{path} does not exist; pass an experiment YAML or a folder of them")
    return [path]


def plan(targets: list[str], profile: str, overrides: dict, only: list[str] | None = None):
    """(config, run directory) for every run, in file order."""
    runs = []
    for target in targets:
        for path in experiment_files(target):
            if only and path.stem not in only:
                continue
            runs += [(cfg, run_dir(cfg, profile, RESULTS)) for cfg in load_experiment(path, profile, overrides)]
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+", help="experiment YAMLs or folders, then key=value overrides")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--only", nargs="*", help="experiment file stems to run")
    args = parser.parse_args(argv)
    targets = [t for t in args.targets if "=" not in t]
    overrides = parse_overrides([t for t in args.targets if "=" in t])
    try:
        runs = plan(targets, args.profile, overrides, args.only)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        return 2
    from core.finetune import train  # heavy import after the config is known to be valid
    for i, (cfg, out) in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {cfg.experiment}/{out.name} ({cfg.method}, {cfg.model}, {cfg.max_steps} steps)",
              flush=True)
        try:
            result = train(cfg, out, args.profile)
        except RunExistsError as err:
            print(f"refusing: {err}", file=sys.stderr)
            return 3
        print("   skipped (finished)" if result.get("skipped") else
              f"   done: train loss {result['final_train_loss']:.4f}, eval loss {result['eval_loss']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

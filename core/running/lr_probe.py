"""Per-method learning rates: a short probe run per lr of a documented grid, the lr selected on validation loss.

A run whose config sets ``lr_probe: {grid: "1e-5,5e-5,3e-4", steps: 30}`` does not train at its own ``lr``: first
one probe run per grid value (``steps`` optimizer steps, seed 0, no lm-eval, no weight norms) goes to
``data/results/<paper>/lr_probe/<profile>/<experiment>.<run>-lr<lr>-s0/``; the lr whose probe has the lowest
``select`` (``eval_loss``, the validation loss; a probe that fails or gives a non-finite loss is out, a tie goes to
the smaller lr) is written with every probe's numbers to ``.../lr_probe/<profile>/<experiment>.<run>.json``
(with a manifest), and every seed of the run then trains at that lr (its manifest records the selected ``lr`` and
the rule). With ``confirm: N`` the N best lrs of the short probe are then re-run for the run's full ``max_steps`` on
``confirm_seed`` (outside the comparison's seeds; ``...-lr<lr>-full-s<seed>/``) and the lowest ``select`` among
those decides: a short probe ranks, the deciding horizon chooses. ``source: <experiment>.<run>`` takes another
run's selection (e.g. the γ / K ablations use the
selection of LISA's main run, as LISA's ablations hold one lr fixed, App. A.4 / Table 6); a missing source
selection is made from the source's own config file (CLI overrides of the asking run do not reach it).

The grid is the paper's where it gives one: LISA App. B.1 / B.3 searched lr for FT, LoRA and LISA "in the range
5e-6 to 3e-4", printed as {5e-6, 1e-5, 5e-5, 6e-4, 3e-4} (Pan et al. 2024, arXiv 2403.17919). Short probes favour
large lrs (the loss falls fastest early); the probe length is in the config so the bias is visible.

    python -m core.running.lr_probe papers/lisa/configs [--profile cpu] [key=value ...]   # run the probes, print
    selections

`core.running.experiment` calls :func:`with_selected_lr` when it plans runs, so it runs a missing probe itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from core.infra.io import REPO, RESULTS, RunExistsError, atomic_write_json, read_json
from core.infra.provenance import manifest
from core.running.runner import experiment_files, run_one
from core.training.config import ConfigError, LrProbeSettings, RunConfig, parse_overrides
from core.training.experiment_file import load_experiment
from core.training.run import run_dir

PROBE_SEED = 0
SELECT_KEYS = ("eval_loss",)


def parse_grid(text: str) -> list[float]:
    """``"1e-5, 5e-5"`` -> [1e-05, 5e-05]; every value a positive finite number, no duplicates."""
    try:
        lrs = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"lr_probe.grid={text!r}: expected comma-separated numbers, e.g. '1e-5,5e-5,3e-4'"
        ) from None
    if not lrs or any(not math.isfinite(v) or v <= 0 for v in lrs) or len(set(lrs)) != len(lrs):
        raise ConfigError(f"lr_probe.grid={text!r}: expected distinct positive learning rates")
    return sorted(lrs)


def probing(cfg: RunConfig) -> bool:
    return bool(cfg.lr_probe.grid or cfg.lr_probe.source)


def check(cfg: RunConfig) -> None:
    """The probe settings of `cfg` make sense (raises ConfigError naming the key)."""
    p = cfg.lr_probe
    if p.grid and p.source:
        raise ConfigError(
            f"{cfg.experiment}/{cfg.name}: lr_probe.grid and lr_probe.source exclude each other"
        )
    if p.select not in SELECT_KEYS:
        raise ConfigError(f"lr_probe.select={p.select!r}: expected one of {', '.join(SELECT_KEYS)}")
    if p.source and p.source.count(".") != 1:
        raise ConfigError(
            f"lr_probe.source={p.source!r}: expected <experiment>.<run name>, e.g. loss_curves.lisa"
        )
    if p.grid:
        parse_grid(p.grid)
        if not 0 < p.steps <= cfg.max_steps:
            raise ConfigError(f"lr_probe.steps={p.steps}: expected 1..max_steps ({cfg.max_steps})")
        if not 0 <= p.confirm <= len(parse_grid(p.grid)):
            raise ConfigError(
                f"lr_probe.confirm={p.confirm}: expected 0..{len(parse_grid(p.grid))} (the grid's size)"
            )
        if p.confirm and p.confirm_seed == cfg.seed:
            raise ConfigError(
                f"lr_probe.confirm_seed={p.confirm_seed} is a seed of the comparison; pick one outside `seeds`"
            )


def probe_configs(cfg: RunConfig) -> list[RunConfig]:
    """One short run per grid lr: the run's settings, `steps` long, seed 0, evaluation loss only."""
    base = dataclasses.replace(
        cfg,
        experiment="lr_probe",
        seed=PROBE_SEED,
        max_steps=cfg.lr_probe.steps,
        lm_eval_limit=0,
        log_weight_norms=False,
        eval_every=0,
        probe_every=0,
        save_every=0,
        lr_probe=LrProbeSettings(),
    )
    return [
        dataclasses.replace(base, name=f"{cfg.experiment}.{cfg.name}-lr{lr:g}", lr=lr)
        for lr in parse_grid(cfg.lr_probe.grid)
    ]


def ranked(rows: list[dict], key: str = "eval_loss") -> list[float]:
    """The lrs of the rows with a finite `key`, best first (ties: the smaller lr)."""
    ok = [r for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [r["lr"] for r in sorted(ok, key=lambda r: (r[key], r["lr"]))]


def confirm_configs(cfg: RunConfig, short_rows: list[dict]) -> list[RunConfig]:
    """The confirmation runs: the ``confirm`` best short-probe lrs, each for the full ``max_steps`` on
    ``confirm_seed``, otherwise as the probes (no lm-eval, no weight norms)."""
    p = cfg.lr_probe
    base = dataclasses.replace(probe_configs(cfg)[0], max_steps=cfg.max_steps, seed=p.confirm_seed)
    return [
        dataclasses.replace(base, name=f"{cfg.experiment}.{cfg.name}-lr{lr:g}-full", lr=lr)
        for lr in ranked(short_rows, p.select)[: p.confirm]
    ]


def _finished_rows(configs: list[RunConfig], profile: str, root: Path) -> list[dict] | None:
    """The probe rows of `configs` when every one of them has a result.json, else None."""
    outs = [run_dir(c, profile, root) for c in configs]
    if not all((o / "result.json").exists() for o in outs):
        return None
    return [probe_row(c, o, read_json(o / "result.json"), root) for c, o in zip(configs, outs)]


def pending_probes(
    configs: list[RunConfig], profile: str, root: Path = RESULTS
) -> list[tuple[RunConfig, Path]]:
    """(probe config, run directory) of every probe run still to make for `configs`: those of runs with their own
    grid and no selection yet, without a finished ``result.json``; one entry per directory (the seeds of a run share
    their probes). A run with ``confirm`` gets its confirmation runs once its short probes have all finished (call
    again after running these). `core.running.experiment --jobs N` runs these side by side before it plans, so
    `run_probe`
    then only selects."""
    pending = {}
    for cfg in configs:
        if (
            not cfg.lr_probe.grid
            or selection_path(cfg.paper, cfg.experiment, cfg.name, profile, root).exists()
        ):
            continue
        short = probe_configs(cfg)
        rows = _finished_rows(short, profile, root) if cfg.lr_probe.confirm else None
        for probe in short + (confirm_configs(cfg, rows) if rows is not None else []):
            out = run_dir(probe, profile, root)
            if not (out / "result.json").exists():
                pending.setdefault(out, probe)
    return [(probe, out) for out, probe in pending.items()]


def selection_path(paper: str, experiment: str, name: str, profile: str, root: Path = RESULTS) -> Path:
    return Path(root) / paper / "lr_probe" / profile / f"{experiment}.{name}.json"


def select(rows: list[dict], key: str = "eval_loss") -> float | None:
    """The lr of the row with the lowest finite `key` (ties: the smaller lr); None when every probe failed."""
    best = ranked(rows, key)
    return best[0] if best else None


def probe_row(cfg: RunConfig, out: Path, result: dict, root: Path) -> dict:
    if result.get("skipped"):
        result = read_json(out / "result.json")
    row = {"lr": cfg.lr, "run": str(out.relative_to(root)), "error": result.get("error")}
    row.update({k: result.get(k) for k in ("eval_loss", "final_train_loss", "steps", "status", "reason")})
    return row


def run_probe(cfg: RunConfig, profile: str, root: Path = RESULTS) -> dict:
    """Run the missing probe runs of `cfg`, select, write (or re-read) the selection record."""
    check(cfg)
    rows = []
    for probe in probe_configs(cfg):
        out = run_dir(probe, profile, root)
        print(f"lr probe {cfg.experiment}.{cfg.name}: lr {probe.lr:g}, {probe.max_steps} steps", flush=True)
        rows.append(probe_row(probe, out, run_one(probe, out, profile), root))
    p = cfg.lr_probe
    chosen = select(rows, p.select)
    confirmed = []
    for run in confirm_configs(cfg, rows) if p.confirm else []:
        out = run_dir(run, profile, root)
        print(f"lr confirm {cfg.experiment}.{cfg.name}: lr {run.lr:g}, {run.max_steps} steps", flush=True)
        confirmed.append(probe_row(run, out, run_one(run, out, profile), root))
    short_chosen, chosen = chosen, (select(confirmed, p.select) if p.confirm else chosen)
    record = {
        "experiment": cfg.experiment,
        "run": cfg.name,
        "method": cfg.method,
        "profile": profile,
        "grid": parse_grid(p.grid),
        "steps": p.steps,
        "select": p.select,
        "seed": PROBE_SEED,
        "rule": f"lowest {p.select} after {p.steps} steps; failed or non-finite probes excluded; "
        "ties to the smaller lr",
        "probes": rows,
        "selected_lr": chosen,
        # the best lr may lie beyond the grid (short probes favour large lrs): widen the grid then
        "at_grid_edge": chosen is not None
        and len(rows) > 1
        and chosen in (min(r["lr"] for r in rows), max(r["lr"] for r in rows)),
    }
    if p.confirm:  # only then: records without confirmation stay as they were
        record.update(
            short_selected_lr=short_chosen,
            confirm={"best": p.confirm, "steps": cfg.max_steps, "seed": p.confirm_seed, "runs": confirmed},
            rule=f"the {p.confirm} lowest {p.select} after {p.steps} steps re-run for {cfg.max_steps} steps on "
            f"seed {p.confirm_seed}; the lowest {p.select} there; failed or non-finite runs excluded; ties to the "
            "smaller lr",
        )
    path = selection_path(cfg.paper, cfg.experiment, cfg.name, profile, root)
    if path.exists():
        old = read_json(path)
        if json.dumps({k: old.get(k) for k in record}, sort_keys=True) != json.dumps(record, sort_keys=True):
            raise RunExistsError(
                f"{path} holds a different lr selection (grid, steps or probe results changed); "
                "move it away to re-select"
            )
        return old
    if chosen is None:
        raise RuntimeError(
            f"lr probe {cfg.experiment}.{cfg.name}: every probe failed: "
            + "; ".join(f"{r['lr']:g}: {r['error']}" for r in rows)
        )
    record["manifest"] = manifest(probe_configs(cfg)[0].to_dict(), PROBE_SEED, profile=profile)
    atomic_write_json(path, record)
    return record


def source_config(cfg: RunConfig, profile: str, configs_dir: Path | None) -> RunConfig:
    """The run named by ``lr_probe.source`` (its first seed), from ``papers/<paper>/configs/<experiment>.yaml``."""
    experiment, name = cfg.lr_probe.source.split(".")
    folder = Path(configs_dir) if configs_dir else REPO / "papers" / cfg.paper / "configs"
    found = [c for c in load_experiment(folder / f"{experiment}.yaml", profile) if c.name == name]
    if not found or not found[0].lr_probe.grid:
        raise ConfigError(
            f"lr_probe.source={cfg.lr_probe.source!r}: no run '{name}' with an lr_probe.grid in "
            f"{folder / (experiment + '.yaml')} (profile {profile})"
        )
    return found[0]


def selected_lr(cfg: RunConfig, profile: str, root: Path = RESULTS, configs_dir: Path | None = None) -> float:
    """The probe's lr for `cfg` (running the probe first when its selection is missing)."""
    check(cfg)
    owner = source_config(cfg, profile, configs_dir) if cfg.lr_probe.source else cfg
    path = selection_path(owner.paper, owner.experiment, owner.name, profile, root)
    record = read_json(path) if path.exists() else run_probe(owner, profile, root)
    return float(record["selected_lr"])


def with_selected_lr(
    configs: list[RunConfig], profile: str, root: Path = RESULTS, configs_dir: Path | None = None
) -> list[RunConfig]:
    """`configs` with `lr` replaced by the probe's selection wherever ``lr_probe`` is set."""
    return [
        dataclasses.replace(c, lr=selected_lr(c, profile, root, configs_dir)) if probing(c) else c
        for c in configs
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("targets", nargs="+", help="experiment YAMLs or folders, then key=value overrides")
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args(argv)
    overrides = parse_overrides([t for t in args.targets if "=" in t])
    try:
        configs = [
            c
            for t in args.targets
            if "=" not in t
            for path in experiment_files(t)
            for c in load_experiment(path, args.profile, overrides)
            if c.lr_probe.grid
        ]
        owners = {(c.experiment, c.name): c for c in configs}
        for (experiment, name), cfg in owners.items():
            rec = run_probe(cfg, args.profile)
            losses = ", ".join(
                f"{r['lr']:g}: {r['eval_loss']:.4f}" if r["eval_loss"] is not None else f"{r['lr']:g}: failed"
                for r in rec["probes"]
            )
            edge = "  (at the grid's edge)" if rec.get("at_grid_edge") else ""
            print(
                f"{experiment}.{name} ({cfg.method}): lr {rec['selected_lr']:g}{edge}  [{rec['select']}: {losses}]"
            )
    except (ConfigError, RunExistsError) as err:
        print(f"lr probe: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

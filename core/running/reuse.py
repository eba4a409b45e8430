"""Runs one experiment borrows from another: an experiment file may name, per profile, `runs` entries whose finished
runs are those of another experiment's entry, when the two configs are identical except ``paper``, ``experiment``
and ``name``::

    reuse:                         # profile -> this file's run name -> <paper>/<experiment>.<run>
      cpu: {full: misa/accuracy_math.full, lora: misa/accuracy_math.lora}

Each such config is replaced by the source's config for the same seed (read from
``papers/<paper>/configs/<experiment>.yaml`` with the same ``key=value`` overrides), so the run directory, the lr
selection and a missing run are the source's: nothing is trained twice and nothing is copied. A reused entry whose
config differs in anything else (a setting, the lr probe, a seed the source lacks) is refused with one
``config error:`` line naming the first differing keys.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.infra.io import REPO, RESULTS
from core.training.config import ConfigError, RunConfig
from core.training.experiment_file import load_experiment, read_spec
from core.training.run import run_dir

IGNORED = ("paper", "experiment", "name")
REF = re.compile(r"^([A-Za-z0-9_]+)/([A-Za-z0-9_-]+)\.([A-Za-z0-9_.-]+)$")


def reuse_table(path: str | Path, profile: str) -> dict[str, str]:
    """The file's ``reuse`` entries for `profile`: {run name: '<paper>/<experiment>.<run>'} ({} when none)."""
    spec = read_spec(Path(path))
    table = spec.get("reuse") or {}
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(f"{path}: 'reuse' must map a profile to {{run: <paper>/<experiment>.<run>}}")
    entries = table.get(profile) or {}
    for name, ref in entries.items():
        if not isinstance(ref, str) or not REF.match(ref):
            raise ConfigError(
                f"{path}: reuse.{profile}.{name}={ref!r}: expected <paper>/<experiment>.<run>, "
                "e.g. misa/accuracy_math.full"
            )
    return dict(entries)


def flat(d: dict, prefix: str = "") -> dict:
    """Nested dict -> {'a.b': value}."""
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differences(a: RunConfig, b: RunConfig) -> list[str]:
    """'key (a vs b)' for every setting in which `a` and `b` differ, ``paper``/``experiment``/``name`` aside."""
    fa, fb = flat(a.to_dict()), flat(b.to_dict())
    keys = sorted(k for k in set(fa) | set(fb) if k not in IGNORED and fa.get(k) != fb.get(k))
    return [f"{k} ({fa.get(k)!r} vs {fb.get(k)!r})" for k in keys]


def source_configs(ref: str, profile: str, overrides: dict, papers_dir: Path) -> list[RunConfig]:
    paper, experiment, run = REF.match(ref).groups()
    over = {k: v for k, v in (overrides or {}).items() if k != "name"}
    found = load_experiment(Path(papers_dir) / paper / "configs" / f"{experiment}.yaml", profile, over, [run])
    if not found:
        raise ConfigError(f"reuse {ref}: the {experiment} experiment of {paper} has no run '{run}'")
    return found


def substitute(
    configs: list[RunConfig],
    path: str | Path,
    profile: str,
    overrides: dict | None = None,
    papers_dir: Path | None = None,
) -> list[RunConfig]:
    """`configs` (from `path`) with every reused run replaced by its source's config of the same seed; raises
    ConfigError when a reused run's config differs from the source's or the source lacks its seed."""
    table = reuse_table(path, profile)
    papers_dir = Path(papers_dir) if papers_dir else REPO / "papers"
    sources: dict[str, dict[int, RunConfig]] = {}
    out = []
    for cfg in configs:
        ref = table.get(cfg.name)
        if ref is None:
            out.append(cfg)
            continue
        if ref not in sources:
            sources[ref] = {c.seed: c for c in source_configs(ref, profile, overrides, papers_dir)}
        src = sources[ref].get(cfg.seed)
        if src is None:
            raise ConfigError(
                f"reuse {cfg.name}: {ref} has no seed {cfg.seed} (seeds {sorted(sources[ref])}); "
                "run the arm here instead or drop the seed"
            )
        diff = differences(cfg, src)
        if diff:
            raise ConfigError(
                f"reuse {cfg.name}: {ref} (seed {cfg.seed}) differs in {'; '.join(diff[:3])}"
                f"{f' and {len(diff) - 3} more' if len(diff) > 3 else ''}; make the configs identical or drop the reuse"
            )
        out.append(src)
    return out


def load(
    path: str | Path,
    profile: str = "cpu",
    overrides: dict | None = None,
    select: list[str] | None = None,
    papers_dir: Path | None = None,
) -> list[RunConfig]:
    """`core.training.experiment_file.load_experiment` with the file's reused runs replaced by their sources'
    configs."""
    return substitute(load_experiment(path, profile, overrides, select), path, profile, overrides, papers_dir)


def arm_dirs(
    path: str | Path, profile: str = "cpu", root: Path = RESULTS, papers_dir: Path | None = None
) -> dict[str, list[Path]]:
    """{this file's run name: the run directories of its seeds}, reused runs pointing at their sources' folders."""
    own = load_experiment(path, profile)
    used = substitute(own, path, profile, None, papers_dir)
    arms: dict[str, list[Path]] = {}
    for mine, cfg in zip(own, used):
        arms.setdefault(mine.name, []).append(run_dir(cfg, profile, root))
    return arms

"""Experiment YAML files: one file expands into one validated RunConfig per (run, seed) of a profile.

An experiment file (``papers/<p>/configs/<artifact>.yaml``) holds::

    paper: lisa
    experiment: loss_curves          # names the paper artifact it reproduces
    base: {<RunConfig keys>}         # shared by every run
    profiles: {cpu: {...}, paper: {...}}   # overrides per profile; may also set `runs`/`seeds`
    runs: [{name: lisa, method: lisa}, ...]   # a run may set its own `seeds` (e.g. a deterministic zero-shot)
    seeds: [0, 1, 2]
    reuse: {cpu: {full: misa/accuracy_math.full}}   # another experiment's runs (`core.running.reuse`)

Every config is checked when it is built (`core.training.checks.run_config`: type, range, finiteness, choice,
cross-field rules); CLI overrides (``key=value``, `core.training.config.parse_overrides`) are applied last: they win
over ``base``, the profile, a ``runs`` entry and ``seeds`` (``seed=N`` runs that one seed).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from core.training.checks import run_config
from core.training.config import ConfigError, RunConfig, close_names, merge

EXPERIMENT_KEYS = (
    "paper",
    "experiment",
    "base",
    "profiles",
    "runs",
    "seeds",
    "description",
    "artifact",
    "reuse",
)


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML SafeLoader that refuses a key written twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"line {key_node.start_mark.line + 1}: key '{key}' appears twice in one mapping; keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_spec(path: Path) -> dict:
    """The experiment file as a mapping, with every way of being unreadable turned into a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8") from None
    try:
        spec = yaml.load(text, Loader=UniqueKeyLoader)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}:{where} malformed YAML ({getattr(err, 'problem', None) or err}); "
            "check the indentation and brackets there"
        ) from None
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping with keys {', '.join(EXPERIMENT_KEYS)}, "
            f"not a {type(spec).__name__}"
        )
    for key in spec:
        if key not in EXPERIMENT_KEYS:
            raise ConfigError(
                f"{path}: unknown top-level key '{key}'{close_names(str(key), EXPERIMENT_KEYS)}"
            )
    for key in ("base", "profiles"):
        if not isinstance(spec.get(key) or {}, dict):
            raise ConfigError(f"{path}: '{key}' must be a mapping, got {spec[key]!r}")
    return spec


def _runs(runs, where: str) -> list[dict]:
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ConfigError(
            f"{where}: 'runs' must be a non-empty list of mappings (e.g. [{{name: a, method: lisa}}]), "
            f"got {runs!r}"
        )
    return runs


def _seeds(seeds, where: str) -> list:
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError(f"{where}: 'seeds' must be a non-empty list (e.g. [0, 1, 2]), got {seeds!r}")
    return seeds


def load_experiment(
    path: str | Path, profile: str = "cpu", overrides: dict | None = None, select: list[str] | None = None
) -> list[RunConfig]:
    """Expand an experiment YAML into one RunConfig per (run, seed) for `profile`, keeping only the `runs` entries
    named in `select` if given; `overrides` (from `parse_overrides`) win over everything in the file. ``seed=N``
    replaces every seed list by [N]; ``name=X`` names a single run X and each run r of several ``X-r``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {path} does not exist (see papers/*/configs/)")
    spec = read_spec(path)
    profiles = spec.get("profiles") or {}
    if profile not in profiles:
        raise ConfigError(f"{path}: no profile '{profile}'{close_names(profile, profiles)}")
    prof = profiles[profile] or {}
    if not isinstance(prof, dict):
        raise ConfigError(f"{path}: profile '{profile}' must be a mapping, got {prof!r}")
    prof = dict(prof)
    runs = _runs(prof.pop("runs", spec.get("runs", [{}])), f"{path} ({profile})")
    seeds = _seeds(prof.pop("seeds", spec.get("seeds", [0])), f"{path} ({profile})")
    if select:
        runs = [r for r in runs if r.get("name", "run") in select]
        if not runs:
            return []
    over = dict(overrides or {})
    name = over.pop("name", None)
    if "seed" in over:
        seeds, runs = [over["seed"]], [{k: v for k, v in r.items() if k != "seeds"} for r in runs]
    base = merge(
        merge(
            {"paper": spec.get("paper", "foundation"), "experiment": spec.get("experiment", path.stem)},
            spec.get("base") or {},
        ),
        prof,
    )
    configs = []
    for run in runs:
        entry = merge(merge(base, {k: v for k, v in run.items() if k != "seeds"}), over)
        if name is not None:
            entry["name"] = name if len(runs) == 1 else f"{name}-{entry.get('name', 'run')}"
        for seed in _seeds(run.get("seeds", seeds), f"{path}: run {run.get('name', '?')}"):
            configs.append(run_config(merge(entry, {"seed": seed})))
    names = [f"{c.name}-s{c.seed}" for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: two runs share a name; give each entry of `runs` a distinct `name`")
    return configs

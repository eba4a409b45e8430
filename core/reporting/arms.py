"""The arms of an experiment, read from its config (``papers/<paper>/configs/<experiment>.yaml``), so that figures and
claims draw what the experiment runs instead of a tuple written in a notebook: each ``runs`` entry of a profile is
an arm (its name, its method and that method's module, whether it trains, its display name). A method of your own
named in the config (``method`` + ``method_module``) is loaded by name here, as by every other entry point.

    from core.reporting.arms import arms, trained
    arms("lisa", "loss_curves", "cpu")             # [Arm(name='full', method='full', ...), ...] in file order
    trained(runs)                                  # the trained arms among an experiment's finished runs, in order
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.infra.io import REPO
from core.training import methods
from core.training.config import ConfigError
from core.training.experiment_file import read_spec


@dataclass(frozen=True)
class Arm:
    """One ``runs`` entry of an experiment profile."""

    name: str  # the entry's name: its runs are <name>-s<seed>
    method: str
    method_module: str = ""
    trains: bool = True
    label: str = ""  # the method's display name in the registry (core.training.methods.Method.display)


def config_path(paper: str, experiment: str, root: Path = REPO) -> Path:
    """The experiment file of `experiment`: ``papers/<paper>/configs/<experiment>.yaml``, or the one there that
    declares ``experiment: <experiment>``."""
    folder = Path(root) / "papers" / paper / "configs"
    path = folder / f"{experiment}.yaml"
    if path.is_file():
        return path
    for other in sorted(folder.glob("*.yaml")):
        if read_spec(other).get("experiment") == experiment:
            return other
    raise ConfigError(f"no experiment file for {paper}/{experiment} in {folder}")


def entries(spec: dict, profile: str) -> list[dict]:
    """The profile's ``runs`` entries, each with the method and module the profile and ``base`` give it."""
    base = spec.get("base") or {}
    prof = (spec.get("profiles") or {}).get(profile) or {}
    runs = prof.get("runs", spec.get("runs", [{}]))
    defaults = {k: prof.get(k, base.get(k, d)) for k, d in (("method", "full"), ("method_module", ""))}
    return [{"name": "run", **defaults, **run} for run in runs]


def arms(paper: str, experiment: str, profile: str = "cpu", root: Path = REPO) -> list[Arm]:
    """Every arm of the experiment's profile, in file order (the method modules imported)."""
    out = []
    for run in entries(read_spec(config_path(paper, experiment, root)), profile):
        method = methods.get(run["method"], run["method_module"])
        out.append(Arm(run["name"], method.name, run["method_module"], method.trains, method.display))
    return out


def every_arm(paper: str, experiment: str, root: Path = REPO) -> list[Arm]:
    """Every arm over every profile of the experiment, one per name (the first seen), profiles in file order."""
    spec = read_spec(config_path(paper, experiment, root))
    seen: dict[str, Arm] = {}
    for profile in spec.get("profiles") or {}:
        for arm in arms(paper, experiment, profile, root):
            seen.setdefault(arm.name, arm)
    return list(seen.values())


def every_method(paper: str, experiment: str, root: Path = REPO) -> list[Arm]:
    """One arm per distinct method over every profile of the experiment (the first seen, in file order)."""
    seen: dict[str, Arm] = {}
    for arm in every_arm(paper, experiment, root):
        seen.setdefault(arm.method, arm)
    return list(seen.values())


def bench_name(method: str) -> str:
    """The name a bench row gives `method`: the alias naming it with nothing fixed (``zero_shot`` is measured as
    ``inference``), else the method's own."""
    return next((a.name for a in methods.ALIASES.values() if a.method == method and not a.settings), method)


def trained(runs, root: Path = REPO) -> list[str]:
    """Names of the trained arms among finished `runs` (`core.infra.results.Run`) of one experiment, in the order of its
    config's arms over every profile (`every_arm`; arms it no longer lists follow by name): the arms a figure of
    the experiment draws. Whether an arm trains is its run's own method (``zero_shot`` does not)."""
    if not runs:
        return []
    first = {r.name: r for r in reversed(runs)}
    try:
        order = [a.name for a in every_arm(runs[0].config["paper"], runs[0].config["experiment"], root)]
    except ConfigError:  # an experiment without a config file here: by name
        order = []
    names = [n for n in order if n in first] + sorted(n for n in first if n not in order)
    return [n for n in names if runs_train(first[n])]


def runs_train(run) -> bool:
    """Whether a finished run's method trains (its manifest's method, its module loaded by name)."""
    return methods.get(run.config["method"], run.config.get("method_module", "")).trains

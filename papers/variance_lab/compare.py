"""The lab's comparisons, computed once from `data/results/variance_lab/lab/<profile>.json` (`lab.py`): what
`papers.variance_lab.claims` (and `papers.misa.claims`) turn into claims rows and what the estimators notebook draws.

Every Monte-Carlo mean of the lab carries a 95 % Student-t interval over its 20 batch means of consecutive draws
(`core.analysis.estimators.mc_interval`: se, dof = 19). From those:

- a closed-form check is MC ÷ closed form with the lab's half-width of MC − closed form (which includes the closed
  form's own SE where π̂ is estimated), judged as an equality at ±10 % (`core.analysis.verdicts.decide_within`);
- a ratio of two independent arms (MISA ÷ LISA, S-MeZO ÷ MeZO) is exp(Δ log mean ± t·se) with
  se = √(se_a²/a² + se_b²/b²) (delta method on the log scale), its p that of "log ratio = 0";
- a difference of two arms (IST − random) is Δ ± t·√(se_a² + se_b²);
- captured energy ÷ uniform's (1 = uniform, the closed form of uniform p) is the MC mean with its own t interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats as sps

from core.analysis.stats import Interval
from core.infra.io import REPO
from core.infra.paths import study_path
from core.infra.results import load_json

POINTS = ("pretrained", "finetuned")
PRIMARY_POINT = "pretrained"  # the lab's verdicts are read at the pre-trained point (LOG.md 10)
IST_POINT = "finetuned"  # IST's scores cannot move at the LoRA initialisation (B = 0; LOG.md 9)
POINT_WORDS = {"pretrained": "pre-trained", "finetuned": "after FT"}
IST_POINT_WORDS = {"pretrained": "LoRA init", "finetuned": "after 5 LoRA steps"}
MARGIN = 0.1  # equality claims: MC ÷ closed form = 1 within ±10 %
DESIGN = "95 % t over 20 batch means of MC draws"


def load(profile: str = "cpu", root: Path | str | None = None) -> dict:
    """The lab's result file of `profile`."""
    return load_json(study_path("variance_lab", "lab", profile, root))


def lab_file(profile: str = "cpu") -> str:
    """The result file, relative to the repository (a claims row's input)."""
    return str(study_path("variance_lab", "lab", profile).relative_to(REPO))


def _t(dof: float) -> float:
    return float(sps.t.ppf(0.975, dof))


def _p(z: float, dof: float) -> float:
    return float(2 * sps.t.sf(abs(z), dof))


def closed_form_ratio(check: dict, mc: dict) -> Interval:
    """MC ÷ closed form with the interval of the lab's check (its half-width includes the closed form's SE)."""
    r, half = check["mc_over_theory"], check["diff_half_width"] / check["theory"]
    n = mc["dof"] + 1
    return Interval(r, r - half, r + half, n, "t", half / _t(mc["dof"]), float(mc["dof"]))


def ratio_of(a: dict, b: dict) -> Interval:
    """a ÷ b of two independent MC means: 95 % t interval of the log ratio (delta method), p of log ratio = 0."""
    dof = min(a["dof"], b["dof"])
    se = float(np.hypot(a["se"] / a["mean"], b["se"] / b["mean"]))
    est = a["mean"] / b["mean"]
    half = _t(dof) * se
    return Interval(
        est,
        est * np.exp(-half),
        est * np.exp(half),
        dof + 1,
        "ratio",
        se,
        float(dof),
        _p(np.log(est) / se, dof),
    )


def diff_of(a: dict, b: dict) -> Interval:
    """a − b of two independent MC means with its 95 % t interval and p of a − b = 0."""
    dof = min(a["dof"], b["dof"])
    se = float(np.hypot(a["se"], b["se"]))
    d = a["mean"] - b["mean"]
    half = _t(dof) * se
    return Interval(d, d - half, d + half, dof + 1, "t", se, float(dof), _p(d / se, dof))


def relative_to_one(mc: dict) -> Interval:
    """An MC mean of a quantity whose value 1 means 'no difference' (captured energy ÷ uniform's), its t
    interval and p of mean = 1."""
    se, dof = mc["se"], mc["dof"]
    return Interval(
        mc["mean"], mc["lo"], mc["hi"], dof + 1, "t", se, float(dof), _p((mc["mean"] - 1) / se, dof)
    )


# ---- the lab's named comparisons ----------------------------------------------------------------------------------


def err(lab: dict, point: str, arm: str, weighting: str = "reweighted") -> dict:
    """The MC interval of an arm's E‖ĝ − g_B‖²/E‖g_B‖²."""
    return lab["points"][point]["arms"][arm][weighting]["mc"]["err"]


def misa_over_lisa(lab: dict, point: str, gamma: int) -> Interval:
    """MISA (η = 1, its EMA scores, emb./head on) ÷ LISA, 1/π-reweighted error at equal memory (γ layers)."""
    return ratio_of(err(lab, point, f"misa_eh_g{gamma}"), err(lab, point, f"lisa_g{gamma}"))


def uniform_over_lisa(lab: dict, point: str, gamma: int) -> Interval:
    """Module-uniform packing (η = 0, emb./head on) ÷ LISA at equal memory."""
    return ratio_of(err(lab, point, f"uniform_eh_g{gamma}"), err(lab, point, f"lisa_g{gamma}"))


def captured_energy(lab: dict, point: str, eta: str = "eta1") -> Interval:
    """Captured energy Σ_b p_b‖g_b‖² of MISA's one-block p ∝ exp(min(5, η G_b²)) ÷ uniform p's (MC draws)."""
    return relative_to_one(lab["points"][point]["misa_one_block"][eta]["mc"])


def ist_minus_random(lab: dict, point: str) -> Interval:
    """IST − random layers, 1/π-reweighted error of the LoRA gradient."""
    arm = lab["ist"][point]
    return diff_of(arm["ist"]["reweighted"]["mc"]["err"], arm["ist_random"]["reweighted"]["mc"]["err"])


def smezo_over_mezo(lab: dict, point: str) -> Interval:
    """Sparse MeZO (80 % masked) ÷ MeZO, error E‖ĝ − g‖² on the ZO subset."""
    return ratio_of(lab["zo"][f"smezo/{point}"]["mc"]["err"], lab["zo"][f"mezo/{point}"]["mc"]["err"])


def lisa_closed_form(lab: dict, point: str, gamma: int) -> Interval:
    """LISA's 1/π-reweighted error: MC ÷ Σ_b(1/π_b − 1)‖g_b‖²."""
    side = lab["points"][point]["arms"][f"lisa_g{gamma}"]["reweighted"]
    return closed_form_ratio(side["check"]["err"], side["mc"]["err"])


def mezo_closed_form(lab: dict, point: str) -> Interval:
    """MeZO's error: MC ÷ (d + 1)‖g‖²."""
    side = lab["zo"][f"mezo/{point}"]
    return closed_form_ratio(side["check"]["err"], side["mc"]["err"])

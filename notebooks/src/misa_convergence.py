# %% [markdown]
# # MISA convergence: gradient norm vs number of block updates K
# MISA's theorem (abstract: "an O(1/√K) convergence rate under non-convex and stochastic conditions, where K is
# the total number of block updates") bounds min_{k≤K} E‖∇f(θ_k)‖² (and the average over k) by C/√K with an
# unknown constant C. The accuracy runs (`accuracy_math`, 5 seeds per arm, full FT 3) log ‖∇f(θ_K)‖² of all
# parameters on a fixed batch of validation examples every `probe_every` steps (`FullGradNormCallback`). Per seed, the exponent b
# of the running mean (the average-iterate form of the bound) is the OLS slope of log y on log K; the seeds are the
# independent units, so b gets a t interval over seeds, valid whatever the dependence between the points of one run
# (`papers/misa/convergence_fit.py`). A bound with an unknown constant cannot be contradicted by a finite run: the
# theorem is "not testable"; the measured rate is compared with K^−1/2 over the measured horizon, and the horizon
# is the run length at which the seed-level test would detect the gap between b and −1/2 (80 % power).

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/misa_convergence.png"

# %%
import numpy as np

from core.analysis.stats import Interval
from core.infra.paths import study_path
from core.infra.results import load_json, load_runs
from core.reporting.claims import from_file, paper_claim, verdict_cell
from core.reporting.plotting import color, figure, finish, name

fit = load_json(study_path("misa", "convergence_fit", profile, results_root))
runs = load_runs("misa", fit["experiment"], profile, results_root)
claim = paper_claim("misa", "convergence")
table = {"fit_from": fit["fit_from"], "arms": {}}
for arm, rep in fit["arms"].items():
    m = rep["mean"]
    iv = Interval(m["estimate"], m["interval"][0], m["interval"][1], m["n_seeds"], "t")
    table["arms"][arm] = {
        "exponent": iv,
        "per_seed": m["per_seed"],
        "horizon_K": m["horizon"]["K"],
        "mde_now": m["horizon"]["mde_now"],
        "raw": rep["raw"]["estimate"],
        "min": rep["min"]["estimate"],
    }
misa = table["arms"]["misa"]
K_max = max(max(p["step"] for p in r.read("probes.jsonl")) for r in runs if r.name == "misa")
verdicts = from_file(
    "misa", ["convergence"], profile
)  # MISA's b − (−1/2), t over seeds (papers/misa/claims.py)

# %%
fig, (ax_g, ax_b) = figure(2, 1, width=5.4, height=4.6)
for arm in ("misa", "misa_uniform", "full"):
    if arm not in fit["arms"]:
        continue
    for r in runs:
        if r.name == arm:
            rows = r.read("probes.jsonl")
            k = np.array([p["step"] for p in rows], float)
            g = np.array([p["full_grad_sq"] for p in rows], float)
            mean = np.cumsum(g) / np.arange(1, g.size + 1)
            ax_g.plot(k[k >= 1], mean[k >= 1], "o", ms=3, alpha=0.6, color=color(arm))
    c = fit["arms"][arm]["mean"]["curves"]
    ax_g.plot(
        c["K"],
        c["fit"],
        "-",
        color=color(arm),
        lw=1.5,
        label=f"{name(arm)}: b = {c['exponent']:.2f} [{c['interval'][0]:.2f}, {c['interval'][1]:.2f}]",
    )
    ax_g.fill_between(c["K"], c["lo"], c["hi"], color=color(arm), alpha=0.15, lw=0)
c = fit["arms"]["misa"]["mean"]["curves"]
ax_g.plot(c["K"], c["reference"], "k--", lw=1.2, label="K^−1/2 through MISA's fit (constant unknown)")
ax_g.set_xscale("log")
ax_g.set_yscale("log")
ax_g.set_xlabel("block updates K (optimizer steps)")
ax_g.set_ylabel("running mean of ‖∇f(θ_k)‖², k ≤ K")
ax_g.set_title("points: seeds; line + band: fit with its t interval over seeds")
ax_g.legend(fontsize=9)
arms = list(table["arms"])
for i, arm in enumerate(arms):
    iv = table["arms"][arm]["exponent"]
    ax_b.plot(
        [i] * len(table["arms"][arm]["per_seed"]),
        table["arms"][arm]["per_seed"],
        "o",
        ms=4,
        color=color(arm),
        alpha=0.7,
    )
    ax_b.errorbar(
        i, iv.estimate, yerr=[[iv.estimate - iv.lo], [iv.hi - iv.estimate]], fmt="D", capsize=5, color="black"
    )
ax_b.axhline(claim["paper_value"], color="black", ls="--", label="K^−1/2 (the theorem's rate)")
ax_b.axhline(0, color="0.4", lw=0.8)
ax_b.set_xticks(range(len(arms)), [name(a) for a in arms], rotation=30, ha="right")
ax_b.set_ylabel("exponent b of the running mean")
ax_b.set_title("per-seed exponents, mean with 95 % t interval over seeds")
ax_b.legend(fontsize=9)
finish(
    fig,
    figure_path,
    table,
    verdicts,
    f"MISA convergence: ‖∇f‖² over {K_max} steps, {misa['exponent'].n} seeds",
)

# %%
verdict_cell(verdicts)

# %% [markdown]
# # Variance lab: every paper's gradient-estimator claim, theory vs a true Monte Carlo on real gradients
# Input: `papers/variance_lab/lab.py` (`make variance-lab`). SmolLM2-135M-Instruct, M minibatches of the
# instruction task at two points, the pre-trained weights and after a few seeded full-FT AdamW steps (IST: LoRA
# at its initialisation and after a few LoRA steps). f is the mean loss over the M batches, so ∇f = mean_B g_B
# exactly. Each estimator draws with the `core` object its method trains with, builds the update ĝ from the
# drawn blocks (or the drawn z) and the lab accumulates ‖ĝ − g_B‖², ‖ĝ − ∇f‖² and ⟨ĝ, g_B⟩ (the mean of ĝ along
# g). All errors are summed over batches and divided by Σ_B ‖g_B‖². MC intervals: 95 % Student-t over 20 batch
# means of consecutive draws (valid for MISA's Markov-chain sampler too).
#
# ## Closed forms (what the Monte Carlo is checked against)
# **Block sampling.** Blocks b are disjoint coordinates; a draw S gives ĝ = Σ_b c_b g_b with c_b = w_b 1[b ∈ S]
# (w_b = 1/π_b reweighted, 1 as the methods apply it; c_b = 1 for blocks always trained). Per draw
# ‖ĝ − g‖² = Σ_b (c_b − 1)²‖g_b‖², so for any joint law of S with inclusion probabilities π_b
# E‖ĝ − g‖² = Σ_b (E c_b² − 2 E c_b + 1)‖g_b‖².
# - reweighted (Horvitz-Thompson): E c = 1, E c² = 1/π, so E ĝ = g and E‖ĝ − g‖² = Σ_b (1/π_b − 1)‖g_b‖²;
# - applied (no 1/π): E c = E c² = π, so E‖ĝ − g‖² = Σ_b (1 − π_b)‖g_b‖² = Σ_b (1 − π_b)²‖g_b‖² (bias²)
#   + Σ_b π_b(1 − π_b)‖g_b‖² (variance), and E⟨ĝ, g⟩ = Σ_b π_b‖g_b‖² (the captured energy).
# - blocks a method never trains (MISA: all norms; the paper's MISA: embeddings/head) have c = 0: pure bias ‖g_b‖².
#
# **SPSA (MeZO), ε → 0.** ĝ = z zᵀg, z ~ N(0, I_d). E ĝ = E[z zᵀ] g = g. By Isserlis,
# E[(zᵀg)² z zᵀ] = ‖g‖² I + 2 g gᵀ, so E‖ĝ‖² = E[(zᵀg)²‖z‖²] = (d + 2)‖g‖² and
# E‖ĝ − g‖² = (d + 2)‖g‖² − 2‖g‖² + ‖g‖² = **(d + 1)‖g‖²**. The finite-ε two-point estimate
# (f(θ + εz) − f(θ − εz))/2ε = zᵀg + O(ε²‖z‖³) is checked separately with real forwards.
#
# **Masked SPSA (Sparse MeZO).** z ← m ⊙ z for a mask m fixed by the weights (d_m kept coordinates): the same
# algebra on the kept coordinates gives E ĝ = m ⊙ g, variance E‖ĝ − m⊙g‖² = (d_m + 1)‖m ⊙ g‖², and
# bias² ‖(1 − m) ⊙ g‖², so E‖ĝ − g‖² = (d_m + 1)‖m⊙g‖² + ‖(1 − m)⊙g‖². No reweighting can remove that bias: the
# masked coordinates are never perturbed.
#
# **Minibatch vs sampling noise (law of total variance).** With B uniform over the M batches and S independent,
# E‖ĝ − ∇f‖² = E_B E_S‖ĝ − E_S ĝ‖² + E_B‖E_S ĝ − ∇f‖²; for an unbiased ĝ the second term is the minibatch
# noise E_B‖g_B − ∇f‖² (exact here), for a biased one it also holds the bias. The MC measures ‖ĝ − ∇f‖² directly
# ("err_full") against the closed form Σ_b (E c_b²‖g_{B,b}‖² − 2E c_b⟨g_{B,b}, ∇f_b⟩ + ‖∇f_b‖²).
#
# MISA's and IST's π have no closed form (packing with LRU forcing; weighted sampling without replacement):
# π̂ comes from an independent calibration chain of the same sampler, and the closed form's own standard error
# (delta method over the calibration draws) widens the check.

# %% tags=["parameters"]
profile = "cpu"
results_root = "data/results"
figure_path = "/tmp/variance_lab_estimators.png"

# %%
import numpy as np

from core.infra.paths import read_claims, study_path
from core.infra.results import load_json
from core.reporting.claims import fmt_interval, from_file, verdict_cell
from core.reporting.plotting import color, figure, finish, name, tilt
from papers.variance_lab.compare import closed_form_ratio, diff_of, ratio_of

lab = load_json(study_path("variance_lab", "lab", profile, results_root))
info, points, zo, ist = lab["model"], lab["points"], lab["zo"], lab["ist"]
total = info["total_params"]
gammas = lab["setting"]["gammas"]
POINTS = ("pretrained", "finetuned")
# the lab's internal arm names -> keys of core.reporting.plotting's name map ("misa" is the paper's MISA, emb./head frozen)
KEY = {
    "lisa": "lisa_eh",
    "misa_eh": "misa_eh",
    "uniform_eh": "uniform_eh",
    "misa": "misa_no_eh",
    "ist": "ist",
    "ist_random": "ist_random",
    "mezo": "mezo",
    "smezo": f"s-mezo-{lab['setting']['sparsity']}",
}
for pt in POINTS:
    P = points[pt]
    print(
        f"{pt}: loss {np.mean(P['loss']):.3f}; share of Σ‖g_B‖²: "
        + ", ".join(f"{k} {v:.3f}" for k, v in P["share"].items())
        + f"; minibatch noise E‖g_B − ∇f‖²/E‖g_B‖² = {P['minibatch_noise']:.3f}"
    )
    for c in P["vector_checks"]:
        assert (
            abs(c["vector"] / c["blocks"] - 1) < 1e-6 and abs(c["vector_full"] / c["blocks_full"] - 1) < 1e-6
        )
print("vector checks: ‖ĝ − g‖² of the built update = block formula (rel < 1e-6) on every checked draw")

# %% [markdown]
# ## Theory vs Monte Carlo, every estimator and quantity


# %%
def rows():
    """(estimator, point, weighting, quantity, mc interval, check) for every comparison in the lab."""
    for pt in POINTS:
        for arm_name, arm in points[pt]["arms"].items():
            for w in ("reweighted", "applied"):
                for q, chk in arm[w]["check"].items():
                    yield arm_name, pt, w, q, arm[w]["mc"][q], chk
        for est in ("ist", "ist_random"):
            for w in ("reweighted", "applied"):
                for q, chk in ist[pt][est][w]["check"].items():
                    yield est, pt, w, q, ist[pt][est][w]["mc"][q], chk
        for est in ("mezo", "smezo"):
            for q, chk in zo[f"{est}/{pt}"]["check"].items():
                yield est, pt, "applied", q, zo[f"{est}/{pt}"]["mc"][q], chk


table = list(rows())
n_inside = sum(r[5]["inside"] for r in table)
n_caught = sum(r[5]["wrong_caught"] for r in table)
widths = np.array([r[4]["rel_half_width"] for r in table])
print(
    f"{len(table)} comparisons: closed form inside the interval {n_inside}; a 10 % error caught {n_caught}; "
    f"relative half-width median {np.median(widths):.3f}, max {widths.max():.3f}"
)
print(
    f"{'estimator':16s} {'point':10s} {'weights':10s} {'quantity':9s} {'theory':>12s} {'MC':>12s} {'95% interval':>26s}  in  10%"
)
for est, pt, w, q, mc, chk in table:
    if q in ("err", "proj", "err_kept"):
        print(
            f"{est:16s} {pt:10s} {w:10s} {q:9s} {chk['theory']:12.4g} {mc['mean']:12.4g} "
            f"[{mc['lo']:11.4g}, {mc['hi']:11.4g}]  {'y' if chk['inside'] else 'N'}   {'y' if chk['wrong_caught'] else 'n'}"
        )
outside = [
    (r[0], r[1], r[2], r[3], round(r[4]["mean"] / r[5]["theory"], 4)) for r in table if not r[5]["inside"]
]
print("outside:", outside)

# %% [markdown]
# ## Intervals the verdicts use
# Every MC interval is a 95 % Student-t over 20 batch means (df 19). A closed-form check is MC / closed form with
# the lab's half-width of MC − closed form (which includes the closed form's own SE); a ratio of two independent
# arms is exp(Δ log mean ± t·√(se_a²/a² + se_b²/b²)) (delta method); a difference is Δ ± t·√(se_a² + se_b²)
# (`papers/variance_lab/compare.py`, the same functions the claims rows use).

# %%
OVER = "batch means"
err = lambda pt, arm, w="reweighted": points[pt]["arms"][arm][w]["mc"]["err"]  # noqa: E731
misa_over_lisa = {
    pt: {g: ratio_of(err(pt, f"misa_eh_g{g}"), err(pt, f"lisa_g{g}")) for g in gammas} for pt in POINTS
}
uniform_over_lisa = {
    pt: {g: ratio_of(err(pt, f"uniform_eh_g{g}"), err(pt, f"lisa_g{g}")) for g in gammas} for pt in POINTS
}
for pt in POINTS:
    for g in gammas:
        a = {f: points[pt]["arms"][f"{f}_g{g}"] for f in ("lisa", "misa_eh", "uniform_eh", "misa")}
        print(
            f"{pt} γ={g} (trainable {a['lisa']['trainable_mean'] / total:.3f} of all): "
            + "; ".join(
                f"{f} rw {v['reweighted']['mc']['err']['mean']:.3f} / applied {v['applied']['mc']['err']['mean']:.3f}"
                f" (bias² {v['applied']['theory']['bias_sq']:.3f}, var {v['applied']['theory']['variance']:.3f})"
                for f, v in a.items()
            )
            + f"; MISA/LISA reweighted {fmt_interval(misa_over_lisa[pt][g], 'x', OVER)}"
        )

# %% [markdown]
# ## MISA claim 3 on the paper's criterion: captured energy Σ_b p_b‖g_b‖², and IST, MeZO, Sparse MeZO

# %%
claim3 = {}
for pt in POINTS:
    one = points[pt]["misa_one_block"]
    diff = {
        g: diff_of(
            points[pt]["arms"][f"misa_eh_g{g}"]["applied"]["mc"]["proj"],
            points[pt]["arms"][f"uniform_eh_g{g}"]["applied"]["mc"]["proj"],
        )
        for g in gammas
    }
    claim3[pt] = {"one_block": one, "packing_captured_diff": diff}
    print(
        pt,
        "one block, energy vs uniform (closed form, MC):",
        {k: (round(v["theory"], 3), round(v["mc"]["mean"], 3)) for k, v in one.items()},
    )
    print(
        pt,
        "packing, captured fraction MISA − uniform:",
        {g: fmt_interval(d, over=OVER) for g, d in diff.items()},
    )
ist_summary = {}
for pt in POINTS:
    arm = ist[pt]
    ist_summary[pt] = {
        "score_range": float(np.ptp(arm["scores"])),
        "pi_range": [min(arm["pi_ist"]), max(arm["pi_ist"])],
        "ist_minus_random": diff_of(
            arm["ist"]["reweighted"]["mc"]["err"], arm["ist_random"]["reweighted"]["mc"]["err"]
        ),
        **{n: {w: arm[n][w]["mc"]["err"] for w in ("reweighted", "applied")} for n in ("ist", "ist_random")},
    }
    print(
        pt,
        f"IST scores span {ist_summary[pt]['score_range']:.2e}; π̂ {ist_summary[pt]['pi_range']}; "
        f"IST − random (1/π error) {fmt_interval(ist_summary[pt]['ist_minus_random'], over=OVER)}",
    )
smezo_over_mezo = {
    pt: ratio_of(zo[f"smezo/{pt}"]["mc"]["err"], zo[f"mezo/{pt}"]["mc"]["err"]) for pt in POINTS
}
fd = {k: [r["rel_diff"] for r in v] for k, v in zo["finite_eps"].items()}
print(
    "finite-ε vs directional derivative, relative difference:",
    {k: np.round(v, 4).tolist() for k, v in fd.items()},
)
print("ZO subset:", zo["tensors"], "d =", zo["d"], "kept by the mask:", zo["kept"])
print("S-MeZO / MeZO error:", {pt: fmt_interval(iv, "x", OVER) for pt, iv in smezo_over_mezo.items()})

# %% [markdown]
# ## Verdicts (from the claims file: `papers/variance_lab/claims.py` → `data/results/variance_lab/claims/<profile>.json`)
# Primary rows at the pre-trained point (IST: after 5 LoRA steps); the other point's rows are shown in the claims
# table as secondary rows.

# %%
pt = "pretrained"
verdicts = from_file(
    "variance_lab",
    [
        "estimators",
        "misa_variance",
        "misa_captured_energy",
        "ist_vs_random",
        "mezo_spsa",
        "sparse_mezo_error",
    ],
    profile,
)
for v in verdicts:
    print(f"{v.claim['id']}: {v.line()}")

# %%
fig, axes = figure(3, 2, width=4.9, height=4.4)
ax = axes[0, 0]
for fam in ("lisa", "misa_eh", "uniform_eh", "misa"):
    sel = [points[pt]["arms"][f"{fam}_g{g}"] for g in gammas]
    x = [a["trainable_mean"] / total for a in sel]
    m = [a["reweighted"]["mc"]["err"] for a in sel]
    ax.errorbar(
        x,
        [e["mean"] for e in m],
        yerr=[[e["mean"] - e["lo"] for e in m], [e["hi"] - e["mean"] for e in m]],
        fmt="o",
        color=color(KEY[fam]),
        label=name(KEY[fam]),
    )
    ax.plot(x, [a["reweighted"]["theory"]["err"] for a in sel], "-", color=color(KEY[fam]), lw=1)
for est in ("mezo", "smezo"):
    r = zo[f"{est}/{pt}"]
    ax.errorbar(
        [r["theory"]["d"] / total],
        [r["mc"]["err"]["mean"]],
        fmt="D",
        color=color(KEY[est]),
        yerr=[
            [r["mc"]["err"]["mean"] - r["mc"]["err"]["lo"]],
            [r["mc"]["err"]["hi"] - r["mc"]["err"]["mean"]],
        ],
        label=name(KEY[est]),
    )
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("parameters updated per step / all")
ax.set_ylabel("E‖ĝ − g_B‖² / E‖g_B‖²")
ax.set_title("(a) error vs budget (1/π; lines: closed form)")
ax.legend(loc="center right", fontsize=9)

ax = axes[0, 1]
groups = {}
for est, _, _, _, mc, chk in table:
    groups.setdefault(KEY[est.split("_g")[0]], []).append(closed_form_ratio(chk, mc))
for i, (key, ivs) in enumerate(groups.items()):
    jitter = i + np.linspace(-0.3, 0.3, len(ivs))
    ax.errorbar(
        jitter,
        [v.estimate for v in ivs],
        yerr=[[v.estimate - v.lo for v in ivs], [v.hi - v.estimate for v in ivs]],
        fmt=".",
        ms=3,
        lw=0.6,
        color=color(key),
    )
ax.axhspan(0.9, 1.1, color="0.9", zorder=0, label="±10 % (equivalence margin)")
ax.axhline(1, color="k", lw=0.8)
ax.set_xticks(range(len(groups)), [name(k) for k in groups])
tilt(ax, 35)
ax.set_ylabel("MC ÷ closed form (95 % t)")
ax.set_title(f"(b) {n_inside} of {len(table)} closed forms inside")
ax.legend(loc="upper right")

ax = axes[0, 2]
for j, (ptn, ls) in enumerate((("pretrained", "-"), ("finetuned", "--"))):
    for fam, rat in (("misa_eh", misa_over_lisa), ("uniform_eh", uniform_over_lisa)):
        ivs = [rat[ptn][g] for g in gammas]
        xs = np.array(gammas, float) * (1 + 0.06 * j)
        ax.errorbar(
            xs,
            [v.estimate for v in ivs],
            yerr=[[v.estimate - v.lo for v in ivs], [v.hi - v.estimate for v in ivs]],
            fmt="o" + ls,
            color=color(fam),
            mfc="none" if j else color(fam),
            label=f"{name(fam)}, {'after FT' if j else 'pre-trained'}",
        )
ax.axhline(1, color="k", lw=0.8)
ax.set_xscale("log", base=2)
ax.set_xticks(gammas, [str(g) for g in gammas])
ax.set_xlabel("budget: γ layers (+ emb./head in every arm)")
ax.set_ylabel("1/π error ÷ LISA's (95 % t)")
ax.set_title("(c) MISA vs LISA at equal memory")
ax.legend(loc="upper left", fontsize=9)

ax = axes[1, 0]
comp = [
    ("LISA γ = 2", points[pt]["arms"]["lisa_g2"]),
    ("MISA γ = 2", points[pt]["arms"]["misa_eh_g2"]),
    (name("ist"), ist[pt]["ist"]),
]
labels = [c[0] for c in comp] + [name("mezo"), name(KEY["smezo"])]
var_rw = [a["reweighted"]["theory"]["variance"] for _, a in comp] + [np.nan, np.nan]
var_ap = [a["applied"]["theory"]["variance"] for _, a in comp] + [
    zo[f"{e}/{pt}"]["theory"]["variance"] for e in ("mezo", "smezo")
]
bias_ap = [a["applied"]["theory"]["bias_sq"] for _, a in comp] + [
    zo[f"{e}/{pt}"]["theory"]["bias_sq"] or np.nan for e in ("mezo", "smezo")
]
x = np.arange(len(labels))
ax.bar(x - 0.27, var_rw, 0.27, color="0.35", label="variance, 1/π (unbiased)")
ax.bar(x, var_ap, 0.27, color="0.65", label="variance, as applied")
ax.bar(x + 0.27, bias_ap, 0.27, color=color("lisa"), label="bias², as applied")
ax.axhline(points[pt]["minibatch_noise"], color="k", ls=":", label="minibatch noise")
ax.set_yscale("log")
ax.set_xticks(x, labels)
tilt(ax, 25)
ax.set_ylabel("closed form / E‖g_B‖²")
ax.set_title("(d) bias² and variance apart")
ax.legend(loc="upper left", fontsize=9)

ax = axes[1, 1]
for j, ptn in enumerate(POINTS):
    one = claim3[ptn]["one_block"]
    etas = list(one)
    xs = np.arange(len(etas)) + 0.15 * j
    ax.errorbar(
        xs,
        [one[e]["mc"]["mean"] for e in etas],
        yerr=[
            [one[e]["mc"]["mean"] - one[e]["mc"]["lo"] for e in etas],
            [one[e]["mc"]["hi"] - one[e]["mc"]["mean"] for e in etas],
        ],
        fmt="o",
        color=color("misa"),
        mfc="none" if j else color("misa"),
        label=f"MC, {'after FT' if j else 'pre-trained'}",
    )
    ax.plot(xs, [one[e]["theory"] for e in etas], "_", ms=14, color="k", label="closed form" if j else None)
ax.set_xticks(range(len(etas)), [e.replace("eta", "η = ") for e in etas])
ax.axhline(1, color="0.5", ls=":")
ax.set_ylabel("captured energy ÷ uniform's")
ax.set_title("(e) MISA's p ∝ exp(η‖g_b‖²), one block")
ax.legend(loc="upper right")

ax = axes[1, 2]
ist_rows = [r for r in read_claims("variance_lab", profile)["rows"] if r["claim"] == "ist_vs_random"]
for i, r in enumerate(ist_rows):  # the claims rows: IST − random with the verdict's interval and ± MDE
    ax.fill_between(
        [i - 0.3, i + 0.3],
        -r["mde"],
        r["mde"],
        color="0.88",
        lw=0,
        zorder=0,
        label="± MDE (80 % power)" if i == 0 else None,
    )
    ax.errorbar(
        i,
        r["estimate"],
        yerr=[[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]],
        fmt="D",
        capsize=5,
        color=color("ist") if r["primary"] else "0.55",
        ms=6,
        lw=1.6,
    )
ax.axhline(0, color="0.3", lw=0.9)
ax.set_xticks(
    range(len(ist_rows)),
    [r["metric"].split(", ")[1] + ("" if r["primary"] else " (shown only)") for r in ist_rows],
)
ax.set_xlim(-0.6, len(ist_rows) - 0.4)
ax.set_ylim(-0.15, 0.15)  # ±5 % of the error (≈ 3.3): the gap is drawn at the scale of the error itself
ax.set_ylabel("IST − random: 1/π error / E‖g_B‖²")
ax.set_title("(f) IST vs random layers (error ≈ 3.3 for both)")
ax.legend(loc="upper right")

out = {
    "checks": {
        "n": len(table),
        "inside": n_inside,
        "wrong_caught": n_caught,
        "outside": outside,
        "median_rel_half_width": float(np.median(widths)),
        "max_rel_half_width": float(widths.max()),
    },
    "share": {p: points[p]["share"] for p in POINTS},
    "minibatch_noise": {p: points[p]["minibatch_noise"] for p in POINTS},
    "misa_over_lisa": misa_over_lisa,
    "uniform_over_lisa": uniform_over_lisa,
    "claim3": claim3,
    "ist": ist_summary,
    "smezo_over_mezo": smezo_over_mezo,
    "zo": {
        k: {"mc": v["mc"], "theory": v["theory"]} for k, v in zo.items() if isinstance(v, dict) and "mc" in v
    },
    "finite_eps_rel_diff": fd,
}
s = lab["setting"]
finish(
    fig,
    figure_path,
    out,
    verdicts,
    f"Gradient estimators on real SmolLM2-135M gradients ({s['batches']} batches of {s['batch_size']} × "
    f"{s['max_length']} tokens; ZO on {zo['d']:,} coordinates; panels a, d: pre-trained point)",
)

# %%
verdict_cell(verdicts)

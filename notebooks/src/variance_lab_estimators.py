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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from core.results import load_json, save_figure

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8})
lab = load_json(Path(results_root) / "variance_lab" / profile / "lab.json")
info, points, zo, ist = lab["model"], lab["points"], lab["zo"], lab["ist"]
total = info["total_params"]
POINTS = ("pretrained", "finetuned")
for pt in POINTS:
    P = points[pt]
    print(f"{pt}: loss {np.mean(P['loss']):.3f}; share of Σ‖g_B‖²: " +
          ", ".join(f"{k} {v:.3f}" for k, v in P["share"].items()) +
          f"; minibatch noise E‖g_B − ∇f‖²/E‖g_B‖² = {P['minibatch_noise']:.3f}")
    for c in P["vector_checks"]:
        assert abs(c["vector"] / c["blocks"] - 1) < 1e-6 and abs(c["vector_full"] / c["blocks_full"] - 1) < 1e-6
print("vector checks: ‖ĝ − g‖² of the built update = block formula (rel < 1e-6) on every checked draw")

# %% [markdown]
# ## Theory vs Monte Carlo, every estimator and quantity

# %%
LABEL = {"lisa": "LISA (E+H)", "misa_eh": "MISA η=1 (E+H)", "uniform_eh": "module-uniform (E+H)",
         "misa": "MISA η=1 (paper: no E+H)"}


def rows():
    """(estimator, point, weighting, quantity, mc interval, check) for every comparison in the lab."""
    for pt in POINTS:
        for name, arm in points[pt]["arms"].items():
            for w in ("reweighted", "applied"):
                for q, chk in arm[w]["check"].items():
                    yield f"{name}", pt, w, q, arm[w]["mc"][q], chk
        for name in ("ist", "ist_random"):
            for w in ("reweighted", "applied"):
                for q, chk in ist[pt][name][w]["check"].items():
                    yield name, pt, w, q, ist[pt][name][w]["mc"][q], chk
        for name in ("mezo", "smezo"):
            for q, chk in zo[f"{name}/{pt}"]["check"].items():
                yield name, pt, "applied", q, zo[f"{name}/{pt}"]["mc"][q], chk


table = list(rows())
n_inside = sum(r[5]["inside"] for r in table)
n_caught = sum(r[5]["wrong_caught"] for r in table)
widths = np.array([r[4]["rel_half_width"] for r in table])
print(f"{len(table)} comparisons: closed form inside the interval {n_inside}; a 10 % error caught {n_caught}; "
      f"relative half-width median {np.median(widths):.3f}, max {widths.max():.3f}")
print(f"{'estimator':16s} {'point':10s} {'weights':10s} {'quantity':9s} {'theory':>12s} {'MC':>12s} {'95% interval':>26s}  in  10%")
for name, pt, w, q, mc, chk in table:
    if q in ("err", "proj", "err_kept"):
        print(f"{name:16s} {pt:10s} {w:10s} {q:9s} {chk['theory']:12.4g} {mc['mean']:12.4g} "
              f"[{mc['lo']:11.4g}, {mc['hi']:11.4g}]  {'y' if chk['inside'] else 'N'}   {'y' if chk['wrong_caught'] else 'n'}")
outside = [(r[0], r[1], r[2], r[3], round(r[4]["mean"] / r[5]["theory"], 4)) for r in table if not r[5]["inside"]]
print("outside:", outside)

# %% [markdown]
# ## Equal memory (block samplers) and bias vs variance

# %%
gammas = lab["setting"]["gammas"]
fixed = {}
for pt in POINTS:
    arms = points[pt]["arms"]
    fixed[pt] = {}
    for fam in ("lisa", "misa_eh", "uniform_eh", "misa"):
        sel = [arms[f"{fam}_g{g}"] for g in gammas]
        fixed[pt][fam] = {"x": [a["trainable_mean"] / total for a in sel],
                          **{w: {"mc": [a[w]["mc"]["err"] for a in sel], "theory": [a[w]["theory"] for a in sel]}
                             for w in ("reweighted", "applied")}}
ratio = {pt: {g: {w: points[pt]["arms"][f"misa_eh_g{g}"][w]["mc"]["err"]["mean"] /
                  points[pt]["arms"][f"lisa_g{g}"][w]["mc"]["err"]["mean"] for w in ("reweighted", "applied")}
              for g in gammas} for pt in POINTS}
for pt in POINTS:
    for g in gammas:
        a = {f: points[pt]["arms"][f"{f}_g{g}"] for f in ("lisa", "misa_eh", "uniform_eh", "misa")}
        print(f"{pt} γ={g} (trainable {a['lisa']['trainable_mean'] / total:.3f} of all): " + "; ".join(
            f"{LABEL[f]} rw {v['reweighted']['mc']['err']['mean']:.3f} / applied {v['applied']['mc']['err']['mean']:.3f}"
            f" (bias² {v['applied']['theory']['bias_sq']:.3f}, var {v['applied']['theory']['variance']:.3f})"
            for f, v in a.items()) + f"; MISA/LISA reweighted {ratio[pt][g]['reweighted']:.3f}")

# %% [markdown]
# ## MISA claim 3 on the paper's criterion: captured energy Σ_b p_b‖g_b‖²

# %%
claim3 = {}
for pt in POINTS:
    one = points[pt]["misa_one_block"]
    pack = {g: {f: points[pt]["arms"][f"{f}_g{g}"]["applied"]["mc"]["proj"] for f in ("misa_eh", "uniform_eh")}
            for g in gammas}
    diff = {g: {"diff": pack[g]["misa_eh"]["mean"] - pack[g]["uniform_eh"]["mean"],
                "half": float(np.hypot(pack[g]["misa_eh"]["hi"] - pack[g]["misa_eh"]["mean"],
                                       pack[g]["uniform_eh"]["hi"] - pack[g]["uniform_eh"]["mean"]))} for g in gammas}
    claim3[pt] = {"one_block": one, "packing_captured": pack, "packing_diff": diff}
    print(pt, "one block, energy vs uniform:", {k: (round(v["theory"], 3), round(v["mc"]["mean"], 3)) for k, v in one.items()})
    print(pt, "packing, captured fraction MISA − uniform:", {g: (round(d["diff"], 4), round(d["half"], 4)) for g, d in diff.items()})

# %% [markdown]
# ## IST (LoRA) and the zeroth-order estimators

# %%
ist_summary = {}
for pt in POINTS:
    I = ist[pt]
    ist_summary[pt] = {"score_range": float(np.ptp(I["scores"])), "pi_range": [min(I["pi_ist"]), max(I["pi_ist"])],
                       **{n: {w: I[n][w]["mc"]["err"] for w in ("reweighted", "applied")} for n in ("ist", "ist_random")}}
    print(pt, f"IST scores span {ist_summary[pt]['score_range']:.2e}; π̂ {ist_summary[pt]['pi_range']}; "
          f"IST rw {I['ist']['reweighted']['mc']['err']['mean']:.3f} vs random {I['ist_random']['reweighted']['mc']['err']['mean']:.3f}")
fd = {k: [r["rel_diff"] for r in v] for k, v in zo["finite_eps"].items()}
print("finite-ε vs directional derivative, relative difference:", {k: np.round(v, 4).tolist() for k, v in fd.items()})
print("ZO subset:", zo["tensors"], "d =", zo["d"], "kept by the mask:", zo["kept"])

# %%
fig, axes = plt.subplots(2, 3, figsize=(14.0, 9.4))
colors = {"lisa": "C0", "misa_eh": "C3", "uniform_eh": "C2", "misa": "C1", "ist": "C4", "mezo": "C5", "smezo": "C6"}
ax = axes[0, 0]
pt = "pretrained"
for fam in ("lisa", "misa_eh", "uniform_eh", "misa"):
    d = fixed[pt][fam]
    for w, mk in (("reweighted", "o"), ("applied", "s")):
        mc = d[w]["mc"]
        ax.errorbar(d["x"], [m["mean"] for m in mc], yerr=[[m["mean"] - m["lo"] for m in mc], [m["hi"] - m["mean"] for m in mc]],
                    fmt=mk, color=colors[fam], mfc="none" if w == "applied" else colors[fam], ms=5,
                    label=f"{LABEL[fam]}" if w == "reweighted" else None)
        ax.plot(d["x"], [t["err"] for t in d[w]["theory"]], "-" if w == "reweighted" else ":", color=colors[fam], lw=1)
x_ist = ist[pt]["ist"]["trainable_mean"] / total
for w, mk in (("reweighted", "o"), ("applied", "s")):
    m = ist[pt]["ist"][w]["mc"]["err"]
    ax.errorbar([x_ist], [m["mean"]], yerr=[[m["mean"] - m["lo"]], [m["hi"] - m["mean"]]], fmt=mk, color=colors["ist"],
                mfc="none" if w == "applied" else colors["ist"], label="IST (vs LoRA gradient)" if w == "reweighted" else None)
d_grid = np.logspace(np.log10(zo["d"]), np.log10(total), 20)
for name, dm in (("mezo", 1.0), ("smezo", 1 - lab["setting"]["sparsity"])):
    r = zo[f"{name}/{pt}"]
    ax.errorbar([r["theory"]["d"] / total], [r["mc"]["err"]["mean"]], fmt="D", color=colors[name],
                yerr=[[r["mc"]["err"]["mean"] - r["mc"]["err"]["lo"]], [r["mc"]["err"]["hi"] - r["mc"]["err"]["mean"]]],
                label={"mezo": "MeZO (ZO subset)", "smezo": "Sparse MeZO 0.8 (ZO subset)"}[name])
    kept = r["theory"]["proj"]
    ax.plot(d_grid * dm / total, (d_grid * dm + 1) * kept + (1 - kept), "--", color=colors[name], lw=1)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("parameters updated per step / all parameters")
ax.set_ylabel("E‖ĝ − g_B‖² / E‖g_B‖²")
ax.set_title("(a) error vs budget, pre-trained (filled: 1/π, hollow: as applied;\nlines: closed forms; ZO lines: (d+1) extrapolated to all d)")
ax.legend(loc="upper right", fontsize=7)

ax = axes[0, 1]
groups = {}
for name, ptn, w, q, mc, chk in table:
    key = name.split("_g")[0]
    groups.setdefault(key, []).append((mc["mean"] / chk["theory"], (mc["lo"]) / chk["theory"], mc["hi"] / chk["theory"], chk["inside"]))
for i, (key, vals) in enumerate(groups.items()):
    v = np.array([x[:3] for x in vals])
    jitter = i + np.linspace(-0.3, 0.3, len(v))
    ax.errorbar(jitter, v[:, 0], yerr=[v[:, 0] - v[:, 1], v[:, 2] - v[:, 0]], fmt=".", ms=3, lw=0.6,
                color=colors.get(key.replace("ist_random", "ist"), "k"))
ax.axhspan(0.9, 1.1, color="0.9", zorder=0, label="±10 %")
ax.axhline(1, color="k", lw=0.8)
ax.set_xticks(range(len(groups)))
ax.set_xticklabels([k.replace("_", "\n") for k in groups], fontsize=8)
ax.set_ylabel("Monte Carlo / closed form (95 % interval)")
ax.set_title(f"(b) all {len(table)} checks: closed form inside the interval in {n_inside}")
ax.legend(fontsize=8)

ax = axes[0, 2]
for pt, ls in (("pretrained", "-"), ("finetuned", "--")):
    for fam in ("misa_eh", "uniform_eh"):
        ax.plot(gammas, [points[pt]["arms"][f"{fam}_g{g}"]["reweighted"]["mc"]["err"]["mean"] /
                         points[pt]["arms"][f"lisa_g{g}"]["reweighted"]["mc"]["err"]["mean"] for g in gammas],
                "o" + ls, color=colors[fam], label=f"{LABEL[fam]} / LISA, {pt}")
ax.axhline(1, color="k", lw=0.8)
ax.set_xscale("log", base=2)
ax.set_xlabel("budget = parameters of γ layers (+ embeddings/head in every arm)")
ax.set_ylabel("reweighted error ratio to LISA")
ax.set_title("(c) MISA vs LISA at equal memory (1/π estimators)")
ax.legend(fontsize=7)

ax = axes[1, 0]
comp = [("LISA γ=2", points["pretrained"]["arms"]["lisa_g2"]), ("MISA γ=2 (E+H)", points["pretrained"]["arms"]["misa_eh_g2"]),
        ("IST", ist["pretrained"]["ist"])]
labels, mb, var_rw, var_ap, bias_ap = [], [], [], [], []
for lab_name, arm in comp:
    labels.append(lab_name)
    var_rw.append(arm["reweighted"]["theory"]["variance"])
    var_ap.append(arm["applied"]["theory"]["variance"])
    bias_ap.append(arm["applied"]["theory"]["bias_sq"])
for name in ("mezo", "smezo"):
    r = zo[f"{name}/pretrained"]["theory"]
    labels.append({"mezo": "MeZO", "smezo": "S-MeZO"}[name])
    var_rw.append(np.nan)
    var_ap.append(r["variance"])
    bias_ap.append(r["bias_sq"] if r["bias_sq"] > 0 else np.nan)
x = np.arange(len(labels))
ax.bar(x - 0.27, var_rw, 0.27, color="C0", label="variance, 1/π (unbiased)")
ax.bar(x, var_ap, 0.27, color="C1", label="variance, as applied")
ax.bar(x + 0.27, bias_ap, 0.27, color="C3", label="bias², as applied")
ax.axhline(points["pretrained"]["minibatch_noise"], color="k", ls=":", label="minibatch noise E‖g_B − ∇f‖² (full model)")
ax.set_yscale("log")
ax.set_xticks(x)
ax.set_xticklabels(labels, rotation=12)
ax.set_ylabel("/ E‖g_B‖²")
ax.set_title("(d) bias² and variance apart (pre-trained; IST vs its LoRA\ngradient, ZO vs the subset's gradient)")
ax.legend(fontsize=7)

ax = axes[1, 1]
for j, pt in enumerate(POINTS):
    one = claim3[pt]["one_block"]
    etas = list(one)
    ax.errorbar(np.arange(len(etas)) + 0.15 * j, [one[e]["mc"]["mean"] for e in etas],
                yerr=[[one[e]["mc"]["mean"] - one[e]["mc"]["lo"] for e in etas], [one[e]["mc"]["hi"] - one[e]["mc"]["mean"] for e in etas]],
                fmt="o", color=f"C{j}", label=f"one block ~ p, MC ({pt})")
    ax.plot(np.arange(len(etas)) + 0.15 * j, [one[e]["theory"] for e in etas], "_", ms=14, color="k")
ax.set_xticks(range(len(etas)))
ax.set_xticklabels([e.replace("eta", "η = ") for e in etas])
ax.axhline(1, color="0.5", ls=":")
ax.set_ylabel("captured energy Σ p_b‖g_b‖² / uniform's")
ax.set_ylim(0.8, 4.4)
ax2 = ax.twinx()
for j, pt in enumerate(POINTS):
    dd = claim3[pt]["packing_diff"]
    ax2.errorbar(np.array(gammas, float) * 0 + len(etas) + 0.3 * np.arange(len(gammas)) + 0.1 * j,
                 [dd[g]["diff"] for g in gammas], yerr=[dd[g]["half"] for g in gammas], fmt="s", mfc="none", color=f"C{j}")
ax2.axhline(0, color="0.7", lw=0.6)
ax2.set_ylabel("packing: captured fraction, MISA − uniform (squares)")
ax.set_xlim(-0.5, len(etas) + 0.3 * len(gammas) + 0.2)
ax.set_title("(e) MISA claim 3 on the paper's criterion (black: closed form)\nsquares: packing sampler at γ = " + ", ".join(map(str, gammas)))
ax.legend(fontsize=7, loc="upper right")

ax = axes[1, 2]
for j, pt in enumerate(POINTS):
    for k, name in enumerate(("ist", "ist_random")):
        for w, mk in (("reweighted", "o"), ("applied", "s")):
            m = ist[pt][name][w]["mc"]["err"]
            t = ist[pt][name][w]["theory"]["err"]
            xx = j * 2.5 + k + (0.2 if w == "applied" else 0)
            ax.errorbar([xx], [m["mean"]], yerr=[[m["mean"] - m["lo"]], [m["hi"] - m["mean"]]], fmt=mk,
                        color=colors["ist"] if name == "ist" else "0.4", mfc="none" if w == "applied" else None)
            ax.plot([xx], [t], "_", ms=14, color="k")
ax.set_xticks([0, 1, 2.5, 3.5])
ax.set_xticklabels(["IST\nLoRA init", "random\nLoRA init", "IST\nafter LoRA", "random\nafter LoRA"])
ax.set_ylabel("E‖ĝ − g_B‖² / E‖g_B‖² (LoRA gradient)")
ax.set_title("(f) IST vs random layers (circles 1/π, squares as applied;\nblack: closed form); score spans " +
             ", ".join(f"{ist_summary[pt]['score_range']:.1e}" for pt in POINTS))
fig.suptitle(f"Variance lab, SmolLM2-135M ({lab['setting']['batches']} batches of {lab['setting']['batch_size']} x "
             f"{lab['setting']['max_length']} tokens); ZO on {zo['d']:,} coordinates ({', '.join(lab['setting']['zo_modules'])} of layers "
             f"{lab['setting']['zo_layers']});\nequal memory: embeddings/head trained in every block arm except 'MISA (paper)'",
             fontsize=10)
fig.tight_layout()

out = {"checks": {"n": len(table), "inside": n_inside, "wrong_caught": n_caught, "outside": outside,
                  "median_rel_half_width": float(np.median(widths)), "max_rel_half_width": float(widths.max())},
       "share": {pt: points[pt]["share"] for pt in POINTS},
       "minibatch_noise": {pt: points[pt]["minibatch_noise"] for pt in POINTS},
       "equal_memory": {pt: {f"g{g}": {f: {w: {"mc": points[pt]["arms"][f"{f}_g{g}"][w]["mc"]["err"],
                                                "theory": points[pt]["arms"][f"{f}_g{g}"][w]["theory"]}
                                            for w in ("reweighted", "applied")}
                                       for f in ("lisa", "misa_eh", "uniform_eh", "misa")} for g in gammas} for pt in POINTS},
       "misa_over_lisa": ratio, "claim3": claim3, "ist": ist_summary,
       "zo": {k: {"mc": v["mc"], "theory": v["theory"]} for k, v in zo.items() if isinstance(v, dict) and "mc" in v},
       "finite_eps_rel_diff": fd}
save_figure(fig, figure_path, out)

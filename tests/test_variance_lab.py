"""Variance lab (core.analysis.estimators, papers.variance_lab): Monte Carlo against exact values on toy problems."""

from itertools import combinations

import numpy as np
import pytest
import torch

from core.analysis.estimators import (
    block_closed_forms,
    block_monte_carlo,
    spsa_monte_carlo,
    spsa_theory,
    verdict_vs_theory,
    weights,
)
from core.training.sampling import ModuleImportanceSampler, UniformLayerSampler

# toy model: blocks 0 (always trained, like embeddings/head) and 1..8 = 4 layers x 2 blocks; 3 "batches"
LAYER = np.array([-1, 0, 0, 1, 1, 2, 2, 3, 3])
SIZES = [5, 3, 4, 2, 6, 3, 3, 4, 2]


def toy_gradients(seed=0):
    gen = torch.Generator().manual_seed(seed)
    batches = [
        [torch.randn(n, generator=gen, dtype=torch.float64) * (1 + b) for b, n in enumerate(SIZES)]
        for _ in range(3)
    ]
    mean = [sum(bt[b] for bt in batches) / len(batches) for b in range(len(SIZES))]
    sq = np.array([[float(v @ v) for v in bt] for bt in batches])
    dots = np.array([[float(v @ m) for v, m in zip(bt, mean)] for bt in batches])
    return batches, mean, sq, dots, np.array([float(m @ m) for m in mean])


def lisa_draw(gamma, seed=0):
    sampler = UniformLayerSampler(4, gamma, seed)
    return lambda: np.flatnonzero(np.isin(LAYER, sampler.sample()))


def exact_by_enumeration(batches, mean, gamma, reweighted):
    """E over all equally likely γ-subsets of ‖ĝ − g_B‖² and ‖ĝ − ∇f‖², from the built vectors."""
    pi = gamma / 4
    err, err_full, norm = 0.0, 0.0, sum(float(torch.cat(bt) @ torch.cat(bt)) for bt in batches)
    subsets = list(combinations(range(4), gamma))
    for layers in subsets:
        for bt in batches:
            c = [
                1.0 if LAYER[b] < 0 else (1 / pi if reweighted else 1.0) * (LAYER[b] in layers)
                for b in range(9)
            ]
            g_hat = torch.cat([cb * v for cb, v in zip(c, bt)])
            err += float((g_hat - torch.cat(bt)).pow(2).sum())
            err_full += float((g_hat - torch.cat(mean)).pow(2).sum())
    return err / len(subsets) / norm, err_full / len(subsets) / norm


@pytest.mark.parametrize("reweighted", [True, False])
def test_closed_form_equals_enumeration_over_every_subset(reweighted):
    batches, mean, sq, dots, sq_full = toy_gradients()
    pi = np.where(LAYER < 0, 1.0, 2 / 4)
    forms = block_closed_forms(sq, dots, sq_full, pi, weights(pi, reweighted))
    err, err_full = exact_by_enumeration(batches, mean, 2, reweighted)
    assert forms["err"].sum() == pytest.approx(err, rel=1e-12)
    assert forms["err_full"].sum() == pytest.approx(err_full, rel=1e-12)
    assert (forms["bias_sq"] + forms["variance"]).sum() == pytest.approx(err, rel=1e-12)


def test_monte_carlo_with_lisa_sampler_agrees_and_catches_a_10_percent_error():
    batches, mean, sq, dots, sq_full = toy_gradients()
    pi = np.where(LAYER < 0, 1.0, 1 / 4)
    out = block_monte_carlo(lisa_draw(1), pi, sq, dots, sq_full, n=20000, sizes=SIZES)
    for w in ("reweighted", "applied"):
        err, err_full = exact_by_enumeration(batches, mean, 1, w == "reweighted")
        mc = out[w]["mc"]
        assert (
            mc["err"]["lo"] <= err <= mc["err"]["hi"]
            and mc["err_full"]["lo"] <= err_full <= mc["err_full"]["hi"]
        )
        assert mc["err"]["rel_half_width"] < 0.05
        assert out[w]["check"]["err"]["inside"] and out[w]["check"]["err"]["wrong_caught"]
    # the reweighted update is unbiased: its mean projection on g is ‖g‖² (1 inside the interval), bias² ~ 0
    assert out["reweighted"]["mc"]["proj"]["lo"] <= 1 <= out["reweighted"]["mc"]["proj"]["hi"]
    assert abs(out["reweighted"]["bias_sq_mc"]) < 0.01
    # as applied (no 1/π) it captures Σ π_b‖g_b‖²: bias, measured from the mean of ĝ
    assert out["applied"]["bias_sq_mc"] == pytest.approx(out["applied"]["theory"]["bias_sq"], rel=0.05)
    assert out["trainable_mean"] == pytest.approx(5 + np.mean([7, 8, 6, 6]), rel=0.02)


def test_a_wrong_closed_form_is_caught():
    """E‖ĝ‖² = Σ sq/π is the second moment, not the error Σ(1/π − 1)sq: the check must reject it."""
    _, _, sq, dots, sq_full = toy_gradients()
    pi = np.where(LAYER < 0, 1.0, 2 / 4)
    out = block_monte_carlo(lisa_draw(2), pi, sq, dots, sq_full, n=20000)
    wrong = float((sq @ np.where(LAYER < 0, 0.0, 1 / pi)).sum() / sq.sum())  # forgets the −1 (and the head)
    assert out["reweighted"]["check"]["err"]["inside"]
    assert not verdict_vs_theory(out["reweighted"]["mc"]["err"], wrong)["inside"]


def gaussian_z(d, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return lambda: torch.randn(d, generator=gen)


def test_spsa_error_is_d_plus_1_not_d_plus_2():
    d = 5
    G = torch.randn(3, d, generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([1, 1, 0, 1, 0], dtype=torch.bool)
    out = spsa_monte_carlo(
        gaussian_z(d),
        {"mezo": {"G": G, "mean": G.mean(0)}, "smezo": {"G": G, "mean": G.mean(0), "mask": mask}},
        n=40000,
    )
    assert out["mezo"]["theory"]["err"] == pytest.approx(d + 1)
    assert out["mezo"]["check"]["err"]["inside"] and out["mezo"]["check"]["err_full"]["inside"]
    assert not verdict_vs_theory(out["mezo"]["mc"]["err"], d + 2)["inside"]  # E‖ĝ‖²/‖g‖², not the error
    assert out["mezo"]["mc"]["proj"]["lo"] <= 1 <= out["mezo"]["mc"]["proj"]["hi"]  # unbiased
    kept = float((G * mask).pow(2).sum() / G.pow(2).sum())
    assert out["smezo"]["theory"]["proj"] == pytest.approx(kept)  # E ĝ = m ⊙ g
    assert out["smezo"]["theory"]["bias_sq"] == pytest.approx(1 - kept)
    assert out["smezo"]["theory"]["err_kept"] == pytest.approx(4 * kept)  # (d_m + 1)‖m⊙g‖²
    assert all(out["smezo"]["check"][k]["inside"] for k in ("err", "err_kept", "err_full", "proj"))


def test_spsa_theory_of_a_full_mask_is_mezo():
    G = torch.randn(2, 7, generator=torch.Generator().manual_seed(2))
    a, b = spsa_theory(G, G.mean(0)), spsa_theory(G, G.mean(0), torch.ones(7, dtype=torch.bool))
    assert a == pytest.approx(b) and a["bias_sq"] == 0


def test_misa_sampler_with_estimated_inclusion():
    """MISA's packing sampler has no closed-form π: π̂ from a calibration chain, its SE enters the check."""
    from papers.variance_lab.lab import warm_misa

    _, _, sq, dots, sq_full = toy_gradients()
    blocks = np.arange(1, 9)
    sizes = [SIZES[b] for b in blocks]

    def chain(seed):
        s = ModuleImportanceSampler(sizes, budget=0.3, eta=1.0, seed=seed, total=sum(SIZES), period=2)
        warm_misa(s, np.sqrt(sq[:, blocks]), 2, 5)
        return lambda: blocks[s.sample()]

    cal = chain(1)
    calibration = [cal() for _ in range(3000)]
    pi = np.bincount(np.concatenate(calibration), minlength=9) / len(calibration)
    pi[0] = 1.0
    out = block_monte_carlo(chain(2), pi, sq, dots, sq_full, n=3000, calibration=calibration)
    assert out["applied"]["theory_se"]["err"] > 0
    assert out["applied"]["check"]["err"]["inside"] and out["reweighted"]["check"]["proj"]["inside"]


def test_partition_and_vector_check_on_tiny_llama():
    """Blocks cover every parameter once, and the block formula equals ‖ĝ − g‖² of the built update vector."""
    from core.sources.models import load_model
    from papers.variance_lab import gradients as grads

    model, _ = load_model("tiny-llama")
    part = grads.partition(model)
    assert sum(part["sizes"]) == sum(p.numel() for p in model.parameters())
    assert {"always", "matrix", "norm", "other"} == set(part["kind"])
    tied = grads.partition(load_model("tiny-gpt2")[0])  # head tied to the embedding: one block, counted once
    assert sum(tied["sizes"]) == tied["total"]
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(0))
    batches = [{"input_ids": ids, "labels": ids}, {"input_ids": ids.flip(1), "labels": ids.flip(1)}]
    g = grads.minibatch_gradients(model, part["params"], batches)
    c = np.random.default_rng(0).choice([0.0, 1.0, 3.0], size=len(part["sizes"]))
    check = grads.vector_check(g, c, batch=1)
    assert check["vector"] == pytest.approx(check["blocks"], rel=1e-6)
    assert check["vector_full"] == pytest.approx(check["blocks_full"], rel=1e-6)


def test_zo_directions_come_from_core_zo():
    """The lab's z is the direction a real MeZO step applies (same seed: θ_1 − θ_0 = −lr·g·z); Sparse MeZO's is
    the same z times its mask."""
    from core.training.zo import SPSA, MagnitudeMask
    from papers.variance_lab.lab import magnitude_mask, next_direction

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Linear(4, 3))
    plain, masked = SPSA(model, seed=3), SPSA(model, seed=3, mask=MagnitudeMask(0.5))
    z, zm = next_direction(plain), next_direction(masked)
    assert torch.equal(zm, z * magnitude_mask(masked))
    before = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])
    x = torch.randn(5, 6)
    step = SPSA(model, seed=3)
    grad, _ = step.estimate(lambda: model(x).pow(2).sum())
    step.update(grad, lr=1.0)
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert torch.allclose((before - after) / grad, z, atol=1e-5)


def test_lab_runs_end_to_end_on_tiny_llama():
    """The whole lab on a random tiny model: every arm present, vector checks exact, ZO z shared with S-MeZO."""
    from papers.variance_lab.lab import PROFILES, run_lab

    lab = run_lab(PROFILES["tiny"])
    for pt in ("pretrained", "finetuned"):
        arms = lab["points"][pt]["arms"]
        assert {a.rsplit("_g", 1)[0] for a in arms} == {"lisa", "misa_eh", "uniform_eh", "misa"}
        for c in lab["points"][pt]["vector_checks"]:
            assert c["vector"] == pytest.approx(c["blocks"], rel=1e-6)
        assert lab["ist"][pt]["ist"]["reweighted"]["theory"]["proj"] == pytest.approx(1.0)
    assert lab["zo"]["masked_z_equals_z_times_mask"]
    assert lab["zo"]["mezo/pretrained"]["theory"]["err"] == pytest.approx(lab["zo"]["d"] + 1)

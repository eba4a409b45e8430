"""core.zo: SPSA on a quadratic (unbiased, known variance), exact mask fractions, determinism, exact restore."""
import numpy as np
import pytest
import torch
from torch import nn

from core.zo import SPSA, MagnitudeMask, RandomMask


class Quadratic(nn.Module):
    """f(θ) = ½ θᵀAθ with θ split over two sub-modules (so per-module hooks are exercised)."""

    def __init__(self, d=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.a = nn.Linear(d // 2, 1, bias=False)
        self.b = nn.Linear(d // 2, 1, bias=False)
        with torch.no_grad():
            self.a.weight.copy_(torch.randn(1, d // 2, generator=g))
            self.b.weight.copy_(torch.randn(1, d // 2, generator=g))
        m = torch.randn(d, d, generator=g, dtype=torch.float64)
        self.A = m @ m.T / d + torch.eye(d, dtype=torch.float64)
        self.eye = torch.eye(d // 2)

    def forward(self):
        theta = torch.cat([self.a(self.eye).flatten(), self.b(self.eye).flatten()]).double()
        return 0.5 * theta @ self.A @ theta

    def grad(self):
        theta = torch.cat([self.a.weight.flatten(), self.b.weight.flatten()]).double()
        return self.A @ theta


def spsa_vector(model, est):
    """The full SPSA gradient estimate g·z as a vector (z regenerated for the step)."""
    g, _ = est.estimate(model)
    return torch.cat([(g * est.z(i, p)).flatten().double() for i, (_, p) in enumerate(est.params)])


def test_spsa_on_a_quadratic_is_unbiased_with_the_gaussian_variance():
    """For a quadratic, ĝ = (zᵀ∇f) z exactly, so E ĝ = ∇f and E‖ĝ − ∇f‖² = (d + 1)‖∇f‖² (Gaussian z)."""
    model = Quadratic(d=6)
    est = SPSA(model, eps=1e-3, seed=0)
    true = model.grad()
    draws = torch.stack([spsa_vector(model, est) for _ in range(6000)])
    se = draws.std(dim=0) / np.sqrt(len(draws))
    assert torch.all((draws.mean(dim=0) - true).abs() < 4 * se)
    var = ((draws - true) ** 2).sum(dim=1)
    expected = (6 + 1) * float(true @ true)
    assert abs(float(var.mean()) - expected) < 4 * float(var.std()) / np.sqrt(len(var))


def test_parameters_are_untouched_by_probing_and_restored_after_an_error():
    model = Quadratic()
    before = [p.detach().clone() for p in model.parameters()]
    est = SPSA(model, eps=0.1, seed=1)
    est.estimate(model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    with pytest.raises(ZeroDivisionError):
        with est.perturbed(1.0):
            model()
            raise ZeroDivisionError
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_same_seed_gives_identical_trajectories_and_resume_continues():
    runs = []
    for _ in range(2):
        model = Quadratic(seed=3)
        est = SPSA(model, eps=1e-3, seed=7)
        runs.append([est.step(model, lr=0.05) for _ in range(10)])
    assert runs[0] == runs[1]
    model = Quadratic(seed=3)
    est = SPSA(model, eps=1e-3, seed=7)
    first = [est.step(model, lr=0.05) for _ in range(5)]
    state = est.state_dict()
    est2 = SPSA(model, eps=1e-3, seed=123)
    est2.load_state_dict(state)
    assert first + [est2.step(model, lr=0.05) for _ in range(5)] == runs[0]
    assert runs[0][-1] < runs[0][0]                                   # it descends


@pytest.mark.parametrize("make", [MagnitudeMask, lambda s: RandomMask(s, seed=4)], ids=["magnitude", "random"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8])
def test_masks_keep_exactly_the_requested_fraction(make, sparsity):
    w = torch.randn(37, 11)
    keep = make(sparsity)("layer.weight", w)
    assert int(keep.sum()) == int(np.ceil((1 - sparsity) * w.numel()))
    if make is MagnitudeMask:
        assert w[keep].abs().max() <= w[~keep].abs().min() if (~keep).any() else True


@pytest.mark.parametrize("make", [MagnitudeMask, lambda s: RandomMask(s, seed=4)], ids=["magnitude", "random"])
def test_in_place_chunked_mask_equals_the_whole_tensor_mask(make):
    w, z = torch.randn(37, 11), torch.randn(37, 11)
    chunked, whole = make(0.7), make(0.7)
    chunked.chunk = 50                                                # 407 entries: 9 chunks, the last partial
    first = chunked.mask_("layer.weight", w, z.clone())               # thresholds set from the full tensor here
    assert torch.equal(first, z * whole("layer.weight", w))
    assert chunked.thresholds == whole.thresholds
    w2 = w * torch.linspace(0.5, 2.0, w.numel()).view_as(w)           # the weights move; thresholds stay fixed
    assert torch.equal(chunked.mask_("layer.weight", w2, z.clone()), z * whole("layer.weight", w2))


def test_masked_spsa_moves_only_small_weights():
    model = Quadratic(d=8, seed=5)
    big = {n: p.detach().abs() > p.detach().abs().median() for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    est = SPSA(model, eps=1e-3, mask=MagnitudeMask(0.5), seed=0)
    for _ in range(3):
        est.step(model, lr=0.01)
    for n, p in model.named_parameters():
        assert torch.equal(p[big[n]], before[n][big[n]])              # large-magnitude half never moves
        assert not torch.equal(p[~big[n]], before[n][~big[n]])


def test_nonfinite_loss_is_a_clear_error():
    model = Quadratic()
    est = SPSA(model)
    with pytest.raises(FloatingPointError, match="non-finite ZO loss"):
        est.estimate(lambda: float("nan"))


def test_spsa_on_a_tiny_llama_probes_every_module_and_leaves_weights_intact():
    from core.models import load_model
    model, _ = load_model("tiny-llama")
    model.eval()
    ids = torch.randint(0, 200, (2, 16))
    loss = lambda: model(input_ids=ids, labels=ids).loss  # noqa: E731
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    est = SPSA(model, eps=1e-2, seed=0)
    with torch.no_grad():
        base = float(loss())
        with est.perturbed(1.0):
            plus = float(loss())
    g, _ = est.estimate(loss)
    assert plus != base and np.isfinite(g)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    est.update(g, lr=1e-3)
    moved = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert len(moved) == len(before)                                  # every trainable tensor was updated

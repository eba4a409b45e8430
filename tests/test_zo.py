"""core.training.zo: SPSA on a quadratic (unbiased, known variance), exact mask fractions, determinism, exact
restore."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import core.training.zo as zo
from core.training.zo import SPSA, MagnitudeMask, RandomMask
from core.training.zo_stream import BLOCK, STREAM, block_range, permuted_index


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
    sq = (draws**2).sum(dim=1)  # E‖ĝ‖² = (d + 2)‖∇f‖²
    assert abs(float(sq.mean()) - (6 + 2) * float(true @ true)) < 4 * float(sq.std()) / np.sqrt(len(sq))


def test_projected_gradient_on_a_quadratic_is_the_directional_derivative():
    """(f(θ+εz) − f(θ−εz)) / 2ε = zᵀ∇f exactly for a quadratic (the ε² terms cancel), up to rounding."""
    model = Quadratic(d=6, seed=2)
    est = SPSA(model, eps=1e-2, seed=3)
    for _ in range(5):
        g, _ = est.estimate(model)
        z = torch.cat([est.z(i, p).flatten().double() for i, (_, p) in enumerate(est.params)])
        assert g == pytest.approx(float(z @ model.grad()), rel=1e-3, abs=1e-4)


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
    assert runs[0][-1] < runs[0][0]  # it descends
    with pytest.raises(ValueError, match="z stream 'v1'"):  # a state made with the old stream
        est2.load_state_dict({k: v for k, v in state.items() if k != "zo_stream"})


def test_z_is_the_same_for_any_thread_count_block_schedule_and_after_resume():
    model = nn.Sequential(
        nn.Linear(300, 700), nn.LayerNorm(700)
    )  # 210,000 weights: 4 blocks, the last partial
    w = model[0].weight
    ests = [SPSA(model, seed=5, threads=t) for t in (1, 2, 3)]
    for est in ests:
        est.estimate(lambda: model(torch.ones(2, 300)).sum())
    ref = ests[0].z(0, w)
    assert all(torch.equal(est.z(0, w), ref) for est in ests[1:])
    n = w.numel()
    flat = torch.cat([ests[2].perturbed_range(w, a, min(a + 50_000, n), 1.0) for a in range(0, n, 50_000)])
    assert torch.equal(flat, ests[1].perturbed_range(w, 0, n, 1.0))  # any split of the range into pieces
    alone = ests[1].perturbed_range(w, BLOCK, 2 * BLOCK, 1.0, blocks=[1])  # one block regenerated alone
    assert torch.equal(alone, flat[BLOCK : 2 * BLOCK])
    assert torch.equal(flat.view_as(w), torch.add(w.detach(), ref, alpha=ests[0].eps))
    resumed = SPSA(model, seed=99, threads=2)
    resumed.load_state_dict(json.loads(json.dumps(ests[0].state_dict())))
    assert resumed.state_dict()["zo_stream"] == STREAM and torch.equal(resumed.z(0, w), ref)


def test_chunked_linear_and_embedding_forwards_match_a_perturbed_copy(monkeypatch):
    """Row-group forwards (here 3 × 11 rows per group, forced by a small GROUP) see exactly θ + s·ε·m⊙z."""
    monkeypatch.setattr(zo, "GROUP", 400)
    torch.manual_seed(0)
    emb, lin = nn.Embedding(100, 36), nn.Linear(36, 100)
    lin.weight = emb.weight  # tied, like an LM head
    model = nn.Sequential(emb, lin)
    ids = torch.tensor([[3, 3, 97, 50], [0, 99, 12, 50]])
    for mask in (None, MagnitudeMask(0.5), RandomMask(0.5, seed=1)):
        est = SPSA(model, eps=1e-2, mask=mask, seed=1, threads=2)
        est.step_seed = 11
        before = [p.detach().clone() for p in model.parameters()]
        with torch.no_grad(), est.perturbed(-1.0):
            got_emb, got = emb(ids), model(ids)
        w = torch.add(emb.weight.detach(), est.z(0, emb.weight), alpha=-1e-2)
        b = torch.add(lin.bias.detach(), est.z(1, lin.bias), alpha=-1e-2)
        assert torch.equal(got_emb, w[ids])
        torch.testing.assert_close(got, w[ids] @ w.T + b, rtol=1e-5, atol=1e-5)
        assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


@pytest.mark.parametrize(
    "make", [MagnitudeMask, lambda s: RandomMask(s, seed=4)], ids=["magnitude", "random"]
)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8])
def test_masks_keep_exactly_the_requested_fraction(make, sparsity):
    w = torch.randn(37, 11)
    keep = make(sparsity)("layer.weight", w)
    assert int(keep.sum()) == int(np.ceil((1 - sparsity) * w.numel()))
    if make is MagnitudeMask:
        assert w[keep].abs().max() <= w[~keep].abs().min() if (~keep).any() else True


@pytest.mark.parametrize(
    "make", [MagnitudeMask, lambda s: RandomMask(s, seed=4)], ids=["magnitude", "random"]
)
def test_block_mask_equals_the_whole_tensor_mask(make):
    w = torch.randn(3 * BLOCK + 777)  # 4 blocks, the last partial
    blockwise, whole = make(0.7), make(0.7)
    blockwise.prepare("w", w)  # thresholds / bits from the full tensor
    pieces = [blockwise.keep("w", w[a:e], a) for a, e in (block_range(b, w.numel()) for b in range(4))]
    assert torch.equal(torch.cat(pieces) > 0, whole("w", w))
    assert set(torch.cat(pieces).unique().tolist()) <= {0.0, 1.0}
    if isinstance(whole, MagnitudeMask):
        w2 = w * torch.linspace(0.5, 2.0, w.numel())  # the weights move; thresholds stay fixed
        assert torch.equal(blockwise.keep("w", w2, 0) > 0, whole("w", w2))


@pytest.mark.parametrize("n", [1, 2, 5, 8, 1000, 4099])
def test_the_random_mask_stream_is_a_permutation(n):
    """R-MeZO's keys: a keyed bijection of [0, n), so 'key < k' keeps exactly k entries for every k."""
    for salt in (0, 12345):
        perm = permuted_index(torch.arange(n), n, salt)
        assert torch.equal(perm.sort().values, torch.arange(n))
    assert not torch.equal(
        permuted_index(torch.arange(4099), 4099, 1), permuted_index(torch.arange(4099), 4099, 2)
    )


def test_masked_spsa_moves_only_small_weights():
    model = Quadratic(d=8, seed=5)
    big = {n: p.detach().abs() > p.detach().abs().median() for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    est = SPSA(model, eps=1e-3, mask=MagnitudeMask(0.5), seed=0)
    for _ in range(3):
        est.step(model, lr=0.01)
    for n, p in model.named_parameters():
        assert torch.equal(p[big[n]], before[n][big[n]])  # large-magnitude half never moves
        assert not torch.equal(p[~big[n]], before[n][~big[n]])


def test_nonfinite_loss_is_a_clear_error():
    model = Quadratic()
    est = SPSA(model)
    with pytest.raises(FloatingPointError, match="non-finite ZO loss"):
        est.estimate(lambda: float("nan"))


def test_spsa_on_a_tiny_llama_probes_every_module_and_leaves_weights_intact():
    from core.sources.models import load_model

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
    assert len(moved) == len(before)  # every trainable tensor was updated

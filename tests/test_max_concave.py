"""The upper envelope of concave quadratics (refefl.energies.MaxConcaveEnergy), its exact maximizer
(refefl.maximizers.ComponentwiseMaximizer) and the head network that predicts its parameters
(refefl.energies.HeadNetwork)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import refefl
from refefl import energies, nn
from refefl.energies import HeadNetwork, MaxConcaveEnergy
from refefl.maximizers import ComponentwiseMaximizer
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)
FD_SCALE = 1e4  # central differences agree with exact derivatives to ~1e-8 relative


# -- the max-of-concave energy and its maximizer --------------------------------------------------------------------
def make_max_concave(rng, n=3, k=3, d=2, r=2, temperature=0.0):
    energy = MaxConcaveEnergy(k, d, r, temperature=temperature)
    params = (rng.normal(0, 3, (n, k, d)), rng.normal(0, 1, (n, k, d, r)), rng.normal(0, 0.5, (n, k)))
    return energy, params, rng.uniform(0.05, 0.95, (n, d))


def top_gap(energy, params, y):
    values = np.sort(energy.piece_values(energy.check_params(params), y), axis=1)
    return float((values[:, -1] - values[:, -2]).min())


@given(seed=SEEDS, temperature=st.sampled_from([0.0, 0.01, 0.5]))
def test_max_concave_energy_is_the_soft_max_of_its_pieces(seed, temperature):
    """max_k Φ_k ≤ Φ ≤ max_k Φ_k + τ log K, with equality at τ = 0."""
    energy, params, y = make_max_concave(np.random.default_rng(seed), temperature=temperature)
    piece = energies.LowRankConcave()
    top = np.max([piece.value((params[0][:, j], params[1][:, j]), y) + params[2][:, j] for j in range(3)], axis=0)
    value = energy.value(params, y)
    assert np.all(value >= top - 1e-12) and np.all(value <= top + temperature * np.log(3) + 1e-12)
    if temperature == 0:
        assert_close(value, top)


@given(seed=SEEDS, temperature=st.sampled_from([0.0, 0.3]))
def test_max_concave_energy_gradients_match_finite_differences(seed, temperature):
    rng = np.random.default_rng(seed)
    energy, params, y = make_max_concave(rng, temperature=temperature)
    assume(temperature > 0 or top_gap(energy, params, y) > 1e-3)  # at τ = 0, exact where the top is unique
    v = rng.normal(size=y.shape)
    fd_y = directional_derivative(lambda t: energy.value(params, y + t * v).sum(), 0.0, 1.0)
    assert_close(np.vdot(energy.grad_y(params, y), v), fd_y, scale=FD_SCALE * (1 + abs(fd_y)))
    direction = nn.tree_map(lambda p: rng.normal(size=p.shape), params)
    fd_p = directional_derivative(
        lambda t: energy.value(nn.tree_map(lambda p, w: p + t * w, params, direction), y).sum(), 0.0, 1.0)
    assert_close(nn.tree_vdot(energy.grad_params(params, y), direction), fd_p, scale=FD_SCALE * (1 + abs(fd_p)))


@pytest.mark.parametrize("omega_name", ["binary_entropy", "box_squared"])
@settings(max_examples=50)
@given(seed=SEEDS, temperature=st.sampled_from([0.0, 0.05]))
def test_componentwise_maximizer_is_global(omega_name, seed, temperature):
    """F(ŷ) is at least the best value on a 101 × 101 grid of the box (minus τ log K, the gap between the soft
    and the hard maximum, when τ > 0), and the loss of ŷ itself is 0."""
    energy, params, _ = make_max_concave(np.random.default_rng(seed), n=2, temperature=temperature)
    loss = refefl.GeneralizedFenchelYoungLoss(energy, refefl.regularizer(omega_name),
                                              ComponentwiseMaximizer(polish_iter=200))
    y_hat, info = loss.predict(params)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 101)] * 2), axis=-1).reshape(-1, 2)
    for i in range(2):
        row = tuple(p[i:i + 1].repeat(len(grid), axis=0) for p in params)
        best_on_grid = (energy.value(row, grid) - loss.regularizer.value(grid)).max()
        assert info.objective[i] >= best_on_grid - temperature * np.log(3) - 1e-9
    assert np.all(info.stationarity <= 1e-6)
    assert np.all(loss.value(params, y_hat) == 0)


@settings(max_examples=30)
@given(seed=SEEDS)
def test_policy_gradient_through_the_head_network_matches_finite_differences(seed):
    """With an exact maximizer the loss is differentiable a.e. in the network weights and its gradient is
    Danskin's, backpropagated through the heads (docs/fenchel_young.md §2.3): checked against the re-solved loss."""
    rng = np.random.default_rng(seed)
    energy = MaxConcaveEnergy(3, 2, rank=2)
    heads = HeadNetwork(energy, 2, hidden=(5,))
    loss = refefl.GeneralizedFenchelYoungLoss(energy, refefl.regularizer("binary_entropy"),
                                              ComponentwiseMaximizer(tol=1e-13))
    weights, states, targets = heads.init(rng), rng.normal(size=(4, 2)), rng.uniform(0.1, 0.9, (4, 2))
    params, cache = heads.forward(weights, states)
    _, grad = loss.value_and_grad(params, targets)
    direction = nn.tree_map(lambda w: rng.normal(size=w.shape), weights)

    def along(t):
        return loss.value(heads.forward(nn.tree_map(lambda w, v: w + t * v, weights, direction), states)[0],
                          targets).sum()

    fd = directional_derivative(along, 0.0, 1.0)
    assert_close(nn.tree_vdot(heads.backward(cache, grad), direction), fd, scale=FD_SCALE * (1 + abs(fd)))


def test_componentwise_maximizer_needs_a_max_concave_energy():
    with pytest.raises(ValueError, match="needs a MaxConcaveEnergy"):
        refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), refefl.regularizer("box_squared"),
                                           ComponentwiseMaximizer())


def test_head_network_needs_a_max_concave_energy():
    with pytest.raises(TypeError, match="MaxConcaveEnergy"):
        HeadNetwork(energies.Bilinear(), 2, hidden=(4,))

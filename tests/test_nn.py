"""refefl.nn: every layer's and every network's backward pass against central finite differences (float64),
seeded initialization, dtype preservation, the optimizers' update rules, and input validation."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import refefl
from refefl import nn
from refefl.testing import assert_close, directional_derivative

ACTIVATION_NAMES = sorted(nn.ACTIVATIONS)
FD_SCALE = 1e4  # central differences agree with exact derivatives to ~1e-8 relative (refefl.testing)


def _away_from_zero(rng, shape):
    """Inputs bounded away from the ReLU kink, where central differences would straddle it."""
    z = rng.normal(size=shape)
    return np.sign(z) * (0.05 + np.abs(z))


def _check_layer_gradients(layer, params, x, rng):
    """⟨∇_x, v⟩ and ⟨∇_params, dp⟩ of the scalar ⟨forward(x), G⟩ against central differences."""
    out, cache = layer.forward(params, x)
    cotangent = rng.normal(size=out.shape)
    grad_x, grad_p = layer.backward(cache, cotangent)

    def scalar(p, z):
        return np.vdot(layer.forward(p, z)[0], cotangent)

    v = rng.normal(size=x.shape)
    fd_x = directional_derivative(lambda z: scalar(params, z), x, v)
    assert_close(np.vdot(grad_x, v), fd_x, scale=FD_SCALE * (1 + abs(fd_x)))
    if nn.tree_leaves(params):
        dp = nn.tree_map(lambda w: rng.normal(size=np.shape(w)), params)
        along = lambda t: scalar(nn.tree_map(lambda w, d: w + t * d, params, dp), x)  # noqa: E731
        fd_p = directional_derivative(lambda t: along(float(t)), np.array(0.0), np.array(1.0))
        assert_close(nn.tree_vdot(grad_p, dp), fd_p, scale=FD_SCALE * (1 + abs(fd_p)))
    else:
        assert grad_p == {}


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@given(seed=st.integers(0, 2**32 - 1))
def test_activation_gradients(name, seed):
    rng = np.random.default_rng(seed)
    _check_layer_gradients(nn.activation(name), {}, 3 * _away_from_zero(rng, (4, 5)), rng)


@given(seed=st.integers(0, 2**32 - 1), n_in=st.integers(1, 6), n_out=st.integers(1, 6))
def test_linear_gradients(seed, n_in, n_out):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(n_in, n_out)
    params = layer.init(rng)
    params["b"] = rng.normal(size=n_out)
    _check_layer_gradients(layer, params, rng.normal(size=(3, n_in)), rng)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("output_activation", [None, "sigmoid", "softplus"])
@given(seed=st.integers(0, 2**32 - 1))
def test_network_gradients(activation, output_activation, seed):
    rng = np.random.default_rng(seed)
    net = nn.MLP([4, 6, 5, 3], activation=activation, output_activation=output_activation)
    params = net.init(rng)
    x = rng.normal(size=(5, 4))
    _, cache = net.forward(params, x)
    # ReLU caches hold the pre-activations: skip draws where a finite difference would straddle the kink
    kinks = [c for layer, c in zip(net._layers, cache) if isinstance(layer, nn.ReLU)]
    assume(all(np.abs(c).min() > 1e-3 for c in kinks))
    _check_layer_gradients(net, params, x, rng)


@pytest.mark.parametrize("sizes", [[4, 3], [4, 6, 5, 3]])
def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients(sizes):
    rng = np.random.default_rng(0)
    net = nn.MLP(sizes, activation="tanh", output_activation="softplus")
    params = net.init(rng)
    _, cache = net.forward(params, rng.normal(size=(5, 4)))
    grad_out = rng.normal(size=(5, 3))
    grad_x, grads = net.backward(cache, grad_out)
    none, same = net.backward(cache, grad_out, input_grad=False)
    assert none is None and grad_x.shape == (5, 4)
    for a, b in zip(nn.tree_leaves(grads), nn.tree_leaves(same)):
        np.testing.assert_array_equal(a, b)


def test_activation_values():
    x = np.array([-800.0, -1.0, 0.0, 2.0, 800.0])
    assert_close(nn.Softplus().forward({}, x)[0], [0.0, np.log1p(np.exp(-1)), np.log(2), 2 + np.log1p(np.exp(-2)), 800])
    assert_close(nn.Sigmoid().forward({}, x)[0], [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2)), 1.0])
    assert_close(nn.LogSigmoid().forward({}, x)[0], [-800.0, -np.log1p(np.e), -np.log(2), -np.log1p(np.exp(-2)), 0])
    assert_close(nn.ReLU().forward({}, x)[0], [0, 0, 0, 2, 800])
    assert_close(nn.Tanh().forward({}, x)[0], np.tanh(x))


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_float32_is_kept(activation):
    rng = np.random.default_rng(0)
    net = nn.MLP([3, 4, 2], activation=activation, output_activation="sigmoid")
    params = net.init(rng, dtype=np.float32)
    out, cache = net.forward(params, rng.normal(size=(5, 3)).astype(np.float32))
    grad_x, grad_p = net.backward(cache, np.ones_like(out))
    assert out.dtype == grad_x.dtype == np.float32
    assert all(leaf.dtype == np.float32 for leaf in nn.tree_leaves(grad_p))


def test_initialization_is_seeded():
    net = nn.MLP([3, 8, 2])
    a, b = net.init(np.random.default_rng(7)), net.init(np.random.default_rng(7))
    c = net.init(np.random.default_rng(8))
    assert all(np.array_equal(u, v) for u, v in zip(nn.tree_leaves(a), nn.tree_leaves(b)))
    assert not np.array_equal(a[0]["W"], c[0]["W"])
    # He initialization before a ReLU: Var W = 2 / n_in
    big = nn.MLP([400, 400, 1]).init(np.random.default_rng(0))
    assert abs(big[0]["W"].var() * 400 / 2 - 1) < 0.02


def test_forward_does_not_modify_inputs():
    rng = np.random.default_rng(1)
    net = nn.MLP([3, 4, 2], activation="relu")
    params = net.init(rng)
    x = rng.normal(size=(5, 3))
    x.setflags(write=False)
    snapshot = [leaf.copy() for leaf in nn.tree_leaves(params)]
    out, cache = net.forward(params, np.asfortranarray(x))
    net.backward(cache, np.ones_like(out))
    assert all(np.array_equal(u, v) for u, v in zip(snapshot, nn.tree_leaves(params)))


def test_bad_input_raises():
    net = nn.MLP([3, 4, 2])
    params = net.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match="x must have shape"):
        net.forward(params, np.ones((2, 4)))
    with pytest.raises(ValueError, match="finite"):
        net.forward(params, np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="x must hold real"):
        net.forward(params, np.ones((2, 3), dtype=complex))
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.MLP([3, 2], activation="swish")
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="shape"):
        net.check_params([{"W": np.ones((3, 3)), "b": np.ones(4)}, params[1]])
    with pytest.raises(ValueError, match="finite"):
        net.check_params([{"W": np.full((3, 4), np.inf), "b": np.ones(4)}, params[1]])
    with pytest.raises(TypeError, match="rng"):
        net.init(0)


def test_tree_map_structure():
    tree = {"a": [np.ones(2), (np.zeros(1), np.ones(3))]}
    doubled = nn.tree_map(lambda u: 2 * u, tree)
    assert isinstance(doubled["a"][1], tuple)
    assert nn.tree_vdot(doubled, tree) == 2 * 5
    with pytest.raises(ValueError, match="structure"):
        nn.tree_map(np.add, tree, {"b": tree["a"]})


def test_sgd_update_rule():
    params, grads = {"w": np.array([1.0, -2.0])}, {"w": np.array([0.5, 1.0])}
    opt = nn.SGD(0.1, momentum=0.9)
    state = opt.init(params)
    params1, state = opt.step(params, grads, state)
    params2, _ = opt.step(params1, grads, state)
    assert_close(params1["w"], [0.95, -2.1])
    assert_close(params2["w"], params1["w"] - 0.1 * (0.9 * 0.5 + 0.5) * np.array([1.0, 2.0]))
    assert_close(params["w"], [1.0, -2.0])  # not modified in place


def test_adam_first_step_is_a_signed_step():
    """After one step m̂ = g and v̂ = g², so the update is −η g / (|g| + ε)."""
    params, grads = [np.array([1.0, -2.0, 3.0])], [np.array([0.3, -4.0, 1e-3])]
    opt = nn.Adam(0.01)
    new, state = opt.step(params, grads, opt.init(params))
    assert_close(new[0], params[0] - 0.01 * grads[0] / (np.abs(grads[0]) + 1e-8))
    assert state["t"] == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_is_its_formula_leaf_by_leaf_bitwise(dtype):
    """The flat update does each element's operations of the docstring's formulas in their order (folded bias
    corrections): equal bitwise to them written out per leaf, float32 kept; nothing passed in is modified."""
    rng = np.random.default_rng(0)
    params = {"a": [rng.normal(size=(3, 2)).astype(dtype)], "b": rng.normal(size=4).astype(dtype)}
    opt = nn.Adam(0.05)
    state = opt.init(params)
    m, v = nn.tree_map(np.zeros_like, params), nn.tree_map(np.zeros_like, params)
    expected = params
    for t in range(1, 4):
        grads = nn.tree_map(lambda w: rng.normal(size=w.shape).astype(dtype), params)
        before = [np.array(leaf) for leaf in nn.tree_leaves((params, grads, state))]
        new, new_state = opt.step(params, grads, state)
        assert all(np.array_equal(a, b) for a, b in zip(before, nn.tree_leaves((params, grads, state))))
        m = nn.tree_map(lambda m_, g: 0.9 * m_ + (1 - 0.9) * g, m, grads)
        v = nn.tree_map(lambda v_, g: 0.999 * v_ + (1 - 0.999) * g * g, v, grads)
        step, eps_hat = 0.05 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t), 1e-8 * np.sqrt(1 - 0.999**t)
        expected = nn.tree_map(lambda w, m_, v_: w - (step * m_ / (np.sqrt(v_) + eps_hat)).astype(w.dtype),
                               params, m, v)
        assert all(a.dtype == dtype and np.array_equal(a, b)
                   for a, b in zip(nn.tree_leaves(new), nn.tree_leaves(expected)))
        assert np.array_equal(new_state["m"], nn.tree_ravel(m)) and new_state["t"] == t
        params, state = new, new_state


def test_adam_refuses_mismatched_trees_and_dtypes():
    opt = nn.Adam()
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    state = opt.init(params)
    with pytest.raises(ValueError, match="structure"):
        opt.step(params, {"W": np.ones((2, 2)), "b": np.zeros(3)}, state)
    with pytest.raises(TypeError, match="dtype"):
        opt.step(params, nn.tree_map(lambda g: g.astype(np.float32), params), state)
    with pytest.raises(TypeError, match="params"):
        opt.init({"W": np.ones(2), "b": np.zeros(2, np.float32)})


@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e160), (np.float32, np.float32(1e22))])
def test_adam_refuses_a_gradient_whose_square_overflows(dtype, huge):
    """g² beyond the dtype's range would make v = inf and stop that coordinate (m/√v = 0) without a word."""
    opt = nn.Adam()
    params = [np.ones(3, dtype)]
    state = opt.init(params)
    grads = [np.array([1.0, huge, -1.0], dtype)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clear error, not a RuntimeWarning
        with pytest.raises(FloatingPointError, match="second moment.*overflows.*diverged"):
            opt.step(params, grads, state)
    assert np.array_equal(grads[0], np.array([1.0, huge, -1.0], dtype)) and np.all(state["v"] == 0)
    big = np.sqrt(np.finfo(dtype).max) / 2  # its square still fits: a finite step
    new, _ = opt.step(params, [np.array([1.0, big, -1.0], dtype)], state)
    assert np.all(np.isfinite(new[0]))
    with pytest.raises(FloatingPointError, match="second moment"):  # an infinite g makes v = inf as well
        opt.step(params, [np.array([1.0, np.inf, -1.0], dtype)], state)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_flat_step_is_the_same_on_either_backend_and_leaves_its_inputs(backend, dtype):
    """flat_step picks the compiled twin of its update when asked (refefl.config_context), with the same result;
    w, g and the state's moments are not modified."""
    rng = np.random.default_rng(0)
    w, g = rng.normal(size=50).astype(dtype), rng.normal(size=50).astype(dtype)
    state = {"t": 3, "m": rng.normal(size=50).astype(dtype), "v": rng.random(50).astype(dtype)}
    copies = [w.copy(), g.copy(), state["m"].copy(), state["v"].copy()]
    with refefl.config_context(backend="numpy"):
        want, want_state = nn.Adam(0.01).flat_step(w, g, state)
    with refefl.config_context(backend=backend):
        got, got_state = nn.Adam(0.01).flat_step(w, g, state)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_state["v"], want_state["v"])
    assert got.dtype == dtype and got_state["t"] == 4
    for before, now in zip(copies, [w, g, state["m"], state["v"]]):
        np.testing.assert_array_equal(before, now)


def test_tree_ravel_and_unravel_are_inverse():
    tree = {"a": [np.arange(6.0).reshape(2, 3), (np.ones(1),)], "b": np.full((2, 1), 7.0)}
    flat = nn.tree_ravel(tree)
    assert flat.shape == (9,)
    back = nn.tree_unravel(tree, flat)
    assert isinstance(back["a"][1], tuple)
    assert all(np.array_equal(a, b) for a, b in zip(nn.tree_leaves(back), nn.tree_leaves(tree)))
    assert all(np.shares_memory(leaf, flat) for leaf in nn.tree_leaves(back))  # views, not copies
    with pytest.raises(ValueError, match="structure"):
        nn.tree_ravel(tree, [(2, 3), (1,), (1, 2)])
    for bad in (flat[:-1], np.append(flat, 0.0), flat.reshape(3, 3)):
        with pytest.raises(ValueError, match="flat"):
            nn.tree_unravel(tree, bad)


@pytest.mark.parametrize("opt", [nn.SGD(0.1, momentum=0.5), nn.Adam(0.05)])
def test_optimizers_minimize_a_quadratic(opt):
    """Full-batch training of a linear least-squares model reaches the normal-equations solution."""
    rng = np.random.default_rng(0)
    x, target = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))
    net = nn.MLP([3, 1])
    params = net.init(rng)
    state = opt.init(params)
    for _ in range(3000):
        out, cache = net.forward(params, x)
        params, state = opt.step(params, net.backward(cache, (out - target) / len(x))[1], state)
    design = np.hstack([x, np.ones((50, 1))])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(np.vstack([params[0]["W"], params[0]["b"][:, None]]), solution, atol=1e-6)


def test_optimizer_arguments_are_checked():
    with pytest.raises(ValueError, match="learning_rate"):
        nn.SGD(0.0)
    with pytest.raises(ValueError, match="momentum"):
        nn.SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta2"):
        nn.Adam(beta2=1.0)

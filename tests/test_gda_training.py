"""refefl.gda training: the loop is the composition of the step functions; the lazy regime's common optimum;
the duality gap; restart schedules; the experiment's command line."""
import json

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given
from hypothesis import strategies as st

from refefl import gda
from refefl.testing import assert_close

SEEDS = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module")
def lazy_problem():
    r"""Three fixed neurons, data from a lazy-class teacher (masses 9, 6, 3): the MLE over the masses is interior
    (all masses > 0, mean(w) = 6.2 < β = 10), so mirror descent converges linearly."""
    rng = np.random.default_rng(0)
    directions, signs = gda.uniform_sphere(rng, 3, 3), np.array([-1.0, -1.0, 1.0])
    data = gda.sample_gibbs(gda.ReLUEnergy(directions, signs, [9.0, 6.0, 3.0]), 1000, rng)
    quadrature = gda.sphere_quadrature(100, 200)
    start = gda.ReLUEnergy(directions, signs, np.ones(3))

    def objective(w):
        return gda.primal_objective(gda.ReLUEnergy(directions, signs, np.maximum(w, 0)), data, quadrature)

    def gradient(w):
        energy = gda.ReLUEnergy(directions, signs, np.maximum(w, 0))
        witness = gda.mle_witness_gradient(energy, data, quadrature)
        return signs / 3 * np.einsum("ij,ij->i", witness, directions)

    best = scipy.optimize.minimize(objective, np.ones(3), jac=gradient, method="SLSQP", bounds=[(0, None)] * 3,
                                   constraints=[{"type": "ineq", "fun": lambda w: 10 - w.mean()}],
                                   options={"ftol": 1e-15, "maxiter": 500})
    return data, quadrature, start, best.x


def averaged_masses(data, start, config, n_iter=10000, burn_in=2000, seed=1):
    """Polyak average of the GDA's masses after burn-in, and its standard error by 10 batch means."""
    kept = []
    gda.train_gda(data, start, n_iter=n_iter, rng=seed, config=config, callback_every=5,
                  callback=lambda t, e: kept.append(e.masses) if t > burn_in else None)
    batches = np.array(kept[: len(kept) // 10 * 10]).reshape(10, -1, 3).mean(axis=1)
    return batches.mean(0), batches.std(0, ddof=1) / np.sqrt(10)


def test_lazy_mle_methods_reach_the_same_optimum(lazy_problem):
    r"""Lazy regime (convex in w): SLSQP, exact mirror descent and persistent GDA reach the same masses.

    Mirror descent on the grid: to 1e-6. GDA: its walkers sample the continuous Gibbs measure with an O(h_x)
    Langevin bias (≈ 13% at h_x = 0.02 here: the energy's slopes reach 3), so its fixed point approaches the
    optimum linearly in h_x: from h_x = 0.02 to 0.005 the error must shrink by ≥ 2.5× (4× for an exactly
    first-order bias) and below 3%, up to 4 standard errors of the averaged iterates.
    """
    data, quadrature, start, best = lazy_problem
    mirror = gda.train_mle(data, start, quadrature, n_iter=600, config=gda.GDAConfig(lazy=True, step_w=2.0))
    assert_close(mirror.masses, best, dtype=np.float32, scale=0.1)
    errors = []
    for step_x in (0.02, 0.005):
        mean, se = averaged_masses(data, start, gda.GDAConfig(lazy=True, step_w=1.0, step_x=step_x))
        errors.append((np.max(np.abs(mean - best) / best), np.max(4 * se / best)))
    (coarse, _), (fine, noise) = errors
    assert fine < min(coarse / 2.5, 0.03) + noise


def test_lazy_score_matching_methods_reach_the_same_optimum(lazy_problem):
    r"""Score matching in the lazy regime: the analytic gradient and the GDA with p_R = 1 (stochastic walkers)
    reach the same masses, up to the O(h_x) difference between the linearized and the exact Langevin step
    (shrinking ≥ 2.5× from h_x = 0.02 to 0.005, below 4% at 0.005)."""
    data, _, start, _ = lazy_problem
    errors = []
    for step_x in (0.02, 0.005):
        config = gda.GDAConfig(lazy=True, restart=1.0, step_x=step_x, step_w=1.0 / step_x)
        analytic = gda.train_score_matching(data, start, n_iter=1000, config=config).masses
        again = gda.train_score_matching(data, start, n_iter=1500, config=config).masses
        assert_close(analytic, again, dtype=np.float32, scale=0.1)  # converged
        mean, se = averaged_masses(data, start, config)
        errors.append((np.max(np.abs(mean - analytic) / analytic), np.max(4 * se / analytic)))
    (coarse, _), (fine, noise) = errors
    assert fine < min(coarse / 2.5, 0.04) + noise


def test_duality_gap_is_nonnegative_and_shrinks_along_exact_mle(lazy_problem):
    data, quadrature, start, best = lazy_problem
    gaps = []
    gda.train_mle(data, start, quadrature, n_iter=300, config=gda.GDAConfig(lazy=True, step_w=2.0),
                  callback=lambda t, e: gaps.append(gda.duality_gap(e, data, 10.0, quadrature, lazy=True)),
                  callback_every=50)
    assert min(gaps) >= 0 and np.all(np.diff(gaps) < 0) and gaps[-1] < 1e-4 * gaps[0]
    optimum = gda.ReLUEnergy(start.directions, start.signs, best)
    assert gda.duality_gap(optimum, data, 10.0, quadrature, lazy=True) < 1e-6


@given(SEEDS, st.booleans())
def test_duality_gap_is_nonnegative(seed, lazy):
    """Weak duality on the grid for any energy with mean(w) ≤ β, in both regimes."""
    rng = np.random.default_rng(seed)
    quadrature = gda.sphere_quadrature(10, 20)
    energy = gda.ReLUEnergy.random(5, 3, rng, mass=1.0)
    energy = gda.ReLUEnergy(energy.directions, energy.signs, 10.0 * rng.dirichlet(np.ones(5)) * 5)
    data = gda.uniform_sphere(rng, 20, 3)
    assert gda.duality_gap(energy, data, 10.0, quadrature, lazy=lazy) >= -1e-12


def test_feature_learning_gap_shrinks_along_gda():
    rng = np.random.default_rng(7)
    teacher = gda.paper_teacher()
    data, quadrature = gda.sample_gibbs(teacher, 300, rng), gda.sphere_quadrature(30, 60)
    start = gda.ReLUEnergy.random(16, 3, rng, sign=-1.0)
    result = gda.train_gda(data, start, n_iter=800, rng=1)
    before, after = (gda.duality_gap(e, data, 10.0, quadrature) for e in (start, result.energy))
    assert 0 <= after < before / 5


def reference_loop(data, energy, n_iter, rng, config, restart_at):
    """The GDA spelled out with the public step functions: restart, Langevin, neurons (docs/gda.md §2 order)."""
    step_x, step_z, step_w = config.steps(energy.dim)
    walkers = gda.restart_walkers(data)
    for t in range(n_iter):
        if t in restart_at:
            walkers = gda.restart_walkers(data)
        walkers = gda.particle_step(walkers, energy, step_x, gda.antithetic_noise(rng, data.shape[0], 3))
        witness = gda.witness_gradient(energy, data, walkers)
        energy = gda.neuron_step(energy, witness, step_z=step_z, step_w=step_w, beta=config.beta)
    return energy, walkers


@pytest.mark.parametrize("config, restart_at", [
    (gda.GDAConfig(), ()),
    (gda.GDAConfig(restart_period=3), (3, 6)),
    (gda.GDAConfig(restart=1.0, step_w=0.5), range(8)),
])
def test_training_loop_is_the_composition_of_the_steps(config, restart_at):
    rng = np.random.default_rng(8)
    data, start = gda.uniform_sphere(rng, 30, 3), gda.ReLUEnergy.random(6, 3, rng)
    result = gda.train_gda(data, start, n_iter=8, rng=9, config=config)
    energy, walkers = reference_loop(data, start, 8, np.random.default_rng(9), config, restart_at)
    assert_close(result.walkers, walkers, scale=1e3)
    assert_close(result.energy.directions, energy.directions, scale=1e3)
    assert_close(result.energy.masses, energy.masses, scale=1e3)


def test_restart_counts_and_seeding():
    rng = np.random.default_rng(10)
    data, start = gda.uniform_sphere(rng, 20, 3), gda.ReLUEnergy.random(4, 3, rng)
    assert gda.train_gda(data, start, n_iter=50, rng=0).n_restarts == 1
    assert gda.train_gda(data, start, n_iter=50, rng=0, config=gda.GDAConfig(restart=1.0)).n_restarts == 50
    assert gda.train_gda(data, start, n_iter=50, rng=0, config=gda.GDAConfig(restart_period=10)).n_restarts == 5
    coins = gda.train_gda(data, start, n_iter=2000, rng=0, config=gda.GDAConfig(restart=0.1)).n_restarts
    assert abs(coins - 1 - 0.1 * 1999) < 4 * np.sqrt(1999 * 0.09)
    a, b = (gda.train_gda(data, start, n_iter=20, rng=3) for _ in range(2))
    np.testing.assert_array_equal(a.energy.masses, b.energy.masses)


def test_config_steps_and_validation():
    assert gda.GDAConfig().steps(3) == pytest.approx((0.02, 0.04, 0.04))
    assert gda.GDAConfig(restart=1.0).steps(3) == pytest.approx((0.02, 0.24, 0.24))  # α = 6
    assert gda.GDAConfig(restart_period=60).steps(15) == pytest.approx((0.02, 0.2 * (1 + 1 / 12), 0.2 * (1 + 1 / 12)))
    assert gda.GDAConfig(lazy=True, time_scale=2.0).steps(3) == pytest.approx((0.02, 0.0, 0.08))
    for bad in (dict(restart=1.5), dict(restart=0.5, restart_period=2), dict(step_x=0.0), dict(beta=-1.0),
                dict(restart_period=0)):
        with pytest.raises(ValueError):
            gda.GDAConfig(**bad)


def test_experiment_command_line(tmp_path, capsys):
    from refefl.experiments import gda as experiment

    path = tmp_path / "curves.json"
    argv = ["--n-data", "100", "--iters", "40", "--log-every", "10", "--n-neurons", "8", "--quadrature", "30",
            "--restart", "0", "1/4", "--json", str(path), "--out-dir", ""]
    assert experiment.main(argv) == 0
    body = json.loads(path.read_text())
    assert [run["restart"] for run in body["runs"]] == ["0", "1/4"]
    for run in body["runs"]:
        assert run["iterations"] == [0, 10, 20, 30, 40]
        assert len(run["kl"]) == len(run["sm"]) == len(run["tv"]) == 5 and run["kl"][-1] < run["kl"][0]
    assert experiment.main(argv[:-7] + ["--restart", "1", "--json", str(path), "--out-dir", ""]) == 0
    assert set(json.loads(path.read_text())) >= {"iterations", "kl", "sm", "tv", "final"}
    assert "KL" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        experiment.main(["--restart", "2"])


def test_experiment_figures(tmp_path):
    pytest.importorskip("matplotlib")
    from refefl.experiments import gda as experiment

    argv = ["--n-data", "50", "--iters", "20", "--n-neurons", "6", "--quadrature", "20", "--snapshots", "0", "20",
            "--out-dir", str(tmp_path)]
    assert experiment.main(argv) == 0
    assert (tmp_path / "gda_curves.png").stat().st_size > 0 and (tmp_path / "gda_sphere_0.png").stat().st_size > 0

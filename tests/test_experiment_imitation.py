"""The imitation-learning experiment: the navigation task and its bimodal expert, the change of variables between
[0, 1]^d and [−1, 1]^d, the policies, and the command (the max-of-concave energy, its maximizer and the head
network it uses are tested in test_max_concave.py)."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refefl
from refefl import energies
from refefl.energies import HeadNetwork, MaxConcaveEnergy
from refefl.experiments import _navigation as nav
from refefl.experiments import imitation
from refefl.experiments._policies import EnergyPolicy, MSEPolicy, to_action, to_unit
from refefl.maximizers import ComponentwiseMaximizer
from refefl.testing import assert_close

from strategies import matrices

SEEDS = st.integers(0, 2**32 - 1)
POINTS = st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 2).map(np.array)


# -- the task ------------------------------------------------------------------------------------------------------
@given(p=POINTS, q=POINTS, c=POINTS)
def test_segment_distance_is_the_minimum_over_the_segment(p, q, c):
    t = np.linspace(0, 1, 2001)[:, None]
    sampled = np.linalg.norm(p + t * (q - p) - c, axis=1).min()
    exact = nav.segment_distance(p[None], q[None], c)[0]
    assert exact <= sampled + 1e-12
    assert sampled - exact <= np.linalg.norm(q - p) / 2000 + 1e-12


@given(seed=SEEDS, n_steps=st.integers(1, 8))
def test_rewards_telescope_to_progress_minus_time(seed, n_steps):
    """Away from the goal and the obstacle, the return is ‖p_0 − g‖ − ‖p_T − g‖ − 0.01 T."""
    rng = np.random.default_rng(seed)
    start = np.array([[-1.0, -1.0]])
    position, total = start, 0.0
    for _ in range(n_steps):
        position, collided, reached, reward = nav.step(position, rng.uniform(-0.3, 0.3, (1, 2)))
        assert not collided[0] and not reached[0]
        total += reward[0]
    expected = np.linalg.norm(start - nav.GOAL) - np.linalg.norm(position - nav.GOAL) - nav.TIME_COST * n_steps
    assert_close(total, expected, scale=100)


def test_crossing_the_obstacle_between_two_positions_is_a_collision():
    p, q = np.array([[-0.35, 0.0]]), np.array([[-0.35 + nav.DT, 0.0]])  # both end points outside the disk
    assert np.linalg.norm(p) > nav.OBSTACLE_RADIUS and np.linalg.norm(q - [0.2, 0]) > nav.OBSTACLE_RADIUS
    _, collided, reached, reward = nav.step(np.array([[-0.35, 0.0]]), np.array([[1.0, 0.0]]))
    assert collided[0] and not reached[0] and reward[0] < -0.9


@settings(max_examples=50)
@given(seed=SEEDS)
def test_expert_succeeds_on_its_hidden_side(seed):
    rng = np.random.default_rng(seed)
    sides = rng.choice([-1.0, 1.0], size=16)
    runs = nav.rollout(nav.expert_policy(sides), nav.sample_starts(rng, 16))
    assert np.all(runs.outcome == nav.SUCCESS)
    assert np.nanmax(np.linalg.norm(runs.actions, axis=2)) <= nav.LAND_REACH / nav.DT + 1e-12
    at_obstacle_height = np.nanargmin(np.abs(runs.paths[:, :, 1]), axis=1)
    assert np.all(np.sign(runs.paths[np.arange(16), at_obstacle_height, 0]) == sides)


def test_demonstrations_are_bimodal_at_the_fork():
    states, actions, runs, sides = nav.demonstrations(np.random.default_rng(0), 40, noise=0.05)
    assert sides.sum() == 0  # the hidden coin is balanced over the demonstrations
    near_fork = np.linalg.norm(states - nav.FORK, axis=1) < 0.05
    modes = np.linalg.norm(actions[near_fork][:, None] - imitation.FORK_MODES[None], axis=2).argmin(axis=1)
    assert 0.3 < modes.mean() < 0.7
    assert np.abs(actions).max() <= 1


# -- change of variables -------------------------------------------------------------------------------------------
@given(theta=matrices(max_cols=4, bound=5.0))
def test_bilinear_energy_in_actions_gives_tanh(theta):
    """Φ(a) = ⟨a, θ⟩ = ⟨u, 2θ⟩ − ⟨1, θ⟩ with the binary negentropy: a* = 2σ(2θ) − 1 = tanh θ."""
    loss = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), refefl.regularizer("binary_entropy"))
    u, _ = loss.predict(2 * theta)
    assert_close(to_action(u), np.tanh(theta), scale=10)
    assert_close(to_unit(to_action(u)), u)


# -- the policies on a single bimodal state ----------------------------------------------------------------------------
def bimodal_data(n=64):
    states = np.zeros((n, 2))
    actions = np.tile(imitation.FORK_MODES, (n // 2, 1))
    return states, actions


def test_mse_averages_the_modes_and_the_max_concave_energy_picks_one():
    states, actions = bimodal_data()
    mse = MSEPolicy(2, 2, hidden=(16,), steps=400, learning_rate=1e-2)
    mse.fit(states, actions, rng=np.random.default_rng(0))
    # Adam with a constant step ends near, not at, the minimizer E[a | s]: 0.02 is 3 % of the modes' distance
    assert np.linalg.norm(mse.act(states[:1])[0] - actions.mean(axis=0)) < 0.02
    energy = MaxConcaveEnergy(2, 2, rank=2)
    policy = EnergyPolicy(energy, HeadNetwork(energy, 2, hidden=(16,)), maximizer=ComponentwiseMaximizer(),
                          temperature_schedule=(1.0, 0.02), steps=400, learning_rate=1e-2)
    policy.fit(states, actions, rng=np.random.default_rng(0))
    assert energy.temperature == 0  # the last fifth of the schedule, and acting, use the exact maximum
    action = policy.act(states[:1])[0]
    assert np.linalg.norm(imitation.FORK_MODES - action, axis=1).min() < 0.05
    # two peaks: both modes stand above the valley between them by more than they differ from each other
    left, right, middle = policy.objective(states[0], np.vstack([imitation.FORK_MODES, actions.mean(axis=0)]))
    assert abs(left - right) < min(left, right) - middle


def test_policies_reject_bad_demonstrations():
    policy = MSEPolicy(2, 2, steps=1)
    with pytest.raises(ValueError, match="actions must lie in"):
        policy.fit(np.zeros((3, 2)), np.full((3, 2), 1.5), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        policy.fit(np.full((3, 2), np.nan), np.zeros((3, 2)), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="one row per sample"):
        policy.fit(np.zeros((3, 2)), np.zeros((4, 2)), rng=np.random.default_rng(0))


# -- the experiment ----------------------------------------------------------------------------------------------------
def test_config_validation():
    with pytest.raises(ValueError, match="seeds"):
        imitation.Config(seeds=0)
    with pytest.raises(ValueError, match="policies"):
        imitation.Config(policies=("nope",))
    with pytest.raises(ValueError, match="unknown policy"):
        imitation.make_policy("nope")


def test_run_reports_every_policy_and_draws_a_small_figure(tmp_path):
    pytest.importorskip("matplotlib")
    config = imitation.Config(seeds=1, episodes=3, demonstrations=6, step_scale=0.01,
                              policies=("mse", "gfy_max_concave"), verbose=False)
    report, artefacts = imitation.run(config)
    assert set(report["results"]) == {"expert", "mse", "gfy_max_concave"}
    assert report["results"]["expert"]["success_rate"]["mean"] == 1.0
    for name in ("mse", "gfy_max_concave"):
        res = report["results"][name]
        assert 0 <= res["success_rate"]["mean"] <= 1 and len(res["fork_action"]["per_seed"][0]) == 2
    json.dumps(report)
    assert "| MSE regression" in imitation.markdown(report, "cmd")
    imitation.plot(report, artefacts, tmp_path / "fig.png")
    assert 10_000 < (tmp_path / "fig.png").stat().st_size < 300_000


def test_command_line_writes_its_outputs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    assert imitation.main(["--seeds", "1", "--episodes", "2", "--policies", "mse", "--out-dir", str(out),
                           "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["config"]["seeds"] == 1 and set(report["results"]) == {"expert", "mse"}
    assert (out / "imitation.md").read_text().startswith("# Imitation learning")
    assert (out / "imitation.png").exists()
    assert "seed 1/1" in capsys.readouterr().out

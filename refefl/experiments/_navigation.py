r"""A 2-D navigation task with a bimodal expert: the behaviour-cloning benchmark of
:mod:`refefl.experiments.imitation` (no simulator to download).

A point agent at position :math:`p_t \in \mathbb R^2` moves with velocity actions :math:`a_t \in [-1, 1]^2`,
queried every Δ = 0.2 time units (a coarse control period):

.. math::

    p_{t+1} = p_t + \Delta\, \operatorname{clip}(a_t, -1, 1),

from a start drawn uniformly in :math:`[-0.3, 0.3] \times [-1.05, -0.95]` to the goal disk
:math:`\|p - g\| \le 0.12`, g = (0, 1), around the obstacle disk :math:`\|p\| < 0.3` that blocks the straight line.
An episode succeeds when a step's segment :math:`[p_t, p_{t+1}]` comes within the goal disk, with no earlier segment
entering the obstacle, within T = 40 steps (the expert needs at most 16); it ends at the goal, at a collision, or
at T. The reward of a step is the progress towards the goal minus a time cost, with terminal bonuses:

.. math::

    r_t = \|p_t - g\| - \|p_{t+1} - g\| - 0.01 \;+\; 1[\text{goal reached}] \;-\; 1[\text{collision}],

so the return is the distance covered towards the goal, minus 0.01 per step, plus 1 for a success or minus 1 for a
crash (about 2.8 for the expert).

The expert is multimodal through a hidden variable: each episode draws a side σ ∈ {−1, +1} by a fair coin (balanced
over a set of demonstrations), not visible in the state. Every expert first flies to the fork point
F = (0, −0.5), 0.2 below the obstacle, landing on it exactly (a last step of length between 0.04 and 0.2); from
within 0.04 below F it sidesteps along 0.8 (0.8σ, 0.6)/‖(0.8, 0.6)‖ until |x| ≥ 0.5, flies straight up beside the
obstacle to y = 0.15, then to the goal; its actions have norm 0.8 except the landing step (at most 1). At F the
two modes :math:`(\pm 0.64, 0.48)` share the state; their average (0, 0.48) flies into the obstacle, the
textbook failure of mean-squared-error behaviour cloning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

DT = 0.2
HORIZON = 40
GOAL = np.array([0.0, 1.0])
GOAL_RADIUS = 0.12
OBSTACLE = np.array([0.0, 0.0])
OBSTACLE_RADIUS = 0.3
START_LOW, START_HIGH = np.array([-0.3, -1.05]), np.array([0.3, -0.95])
EXPERT_SPEED = 0.8
FORK = np.array([0.0, -0.5])
FORK_BAND = 0.04  # the sidestep starts within this distance below F: the expert never commands a shorter step
LAND_REACH = 0.2  # from this close to F, the expert lands on F in one step
SIDESTEP = (0.8, 0.6)  # heading of the sidestep for σ = +1 (σ = −1 mirrors x)
SIDE_X, TOP_Y = 0.5, 0.15  # the sidestep ends at |x| = 0.5; the climb beside the obstacle at y = 0.15
TIME_COST = 0.01

#: outcome codes of :class:`Rollouts`
TIMEOUT, SUCCESS, COLLISION = 0, 1, 2


def sample_starts(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` start positions, uniform in the start box, ndarray of shape (n, 2)."""
    return rng.uniform(START_LOW, START_HIGH, size=(n, 2))


def segment_distance(p: np.ndarray, q: np.ndarray, center: np.ndarray) -> np.ndarray:
    r"""Distance from ``center`` c to each segment :math:`[p_i, q_i]`:
    :math:`\min_{t\in[0,1]} \|p_i + t(q_i - p_i) - c\|`.

    ``p``, ``q`` of shape (n, 2); returns ndarray of shape (n,). A segment of length 0 is its end point.
    """
    d = q - p
    length2 = np.einsum("ij,ij->i", d, d)
    along = np.einsum("ij,ij->i", center - p, d) / np.maximum(length2, np.finfo(float).tiny)
    closest = p + np.clip(along, 0, 1)[:, None] * d
    return np.linalg.norm(closest - center, axis=1)


def expert_action(positions: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """The expert's velocity at ``positions`` (n, 2) for hidden ``sides`` (n,) in {−1, +1}: ndarray of shape (n, 2).

    More than 0.04 below the fork point F: towards F at speed 0.8, or the step landing on F when it is at most
    0.2 away; then the sidestep 0.8 (0.8σ, 0.6)/‖·‖ until σx ≥ 0.5; then towards (0.5σ, 0.15), straight up
    beside the obstacle; then towards the goal. Norm 0.8, except the landing step (at most 1).
    """
    x, y = positions[:, 0], positions[:, 1]
    past = np.stack([sides * SIDE_X - x, TOP_Y - y], axis=1)
    direction = np.where((y < TOP_Y)[:, None], past, GOAL - positions)
    sidestep = (y < TOP_Y) & (sides * x < SIDE_X)
    direction = np.where(sidestep[:, None], np.stack([sides * SIDESTEP[0], np.full_like(x, SIDESTEP[1])], 1), direction)
    action = EXPERT_SPEED * direction / np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    to_fork = FORK - positions
    distance = np.maximum(np.linalg.norm(to_fork, axis=1, keepdims=True), 1e-12)
    landing = np.where(distance <= LAND_REACH, to_fork / DT, EXPERT_SPEED * to_fork / distance)
    return np.where((y < FORK[1] - FORK_BAND)[:, None], landing, action)


def step(positions: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""One transition :math:`p' = p + \Delta\,\mathrm{clip}(a, -1, 1)` for every row.

    Returns the new positions (n, 2), the collision and goal masks (n,) (a collision takes precedence) and the
    rewards (n,) of the module docstring.
    """
    new = positions + DT * np.clip(actions, -1.0, 1.0)
    collided = segment_distance(positions, new, OBSTACLE) < OBSTACLE_RADIUS
    reached = ~collided & (segment_distance(positions, new, GOAL) <= GOAL_RADIUS)
    progress = np.linalg.norm(positions - GOAL, axis=1) - np.linalg.norm(new - GOAL, axis=1)
    return new, collided, reached, progress - TIME_COST + reached - collided


@dataclass(frozen=True)
class Rollouts:
    """Episodes run in parallel.

    Attributes
    ----------
    paths : ndarray of shape (n_episodes, HORIZON + 1, 2)
        Positions; rows are NaN after an episode ended.
    actions : ndarray of shape (n_episodes, HORIZON, 2)
        Actions executed (NaN after the end).
    outcome : ndarray of shape (n_episodes,)
        ``SUCCESS``, ``COLLISION`` or ``TIMEOUT``.
    returns : ndarray of shape (n_episodes,)
        Sum of rewards.
    """

    paths: np.ndarray
    actions: np.ndarray
    outcome: np.ndarray
    returns: np.ndarray


Policy = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def rollout(policy: Policy, starts: np.ndarray) -> Rollouts:
    """Run ``policy(positions, previous_actions, episodes) -> actions`` from ``starts`` (n, 2) for HORIZON steps.

    The policy sees only the running episodes: their positions (m, 2), their previous actions (m, 2; zero at
    t = 0) and their indices (m,) among the ``n`` episodes (which lets the expert look up its hidden side).
    """
    n = len(starts)
    paths = np.full((n, HORIZON + 1, 2), np.nan)
    actions = np.full((n, HORIZON, 2), np.nan)
    paths[:, 0] = starts
    previous = np.zeros((n, 2))
    outcome, returns = np.full(n, TIMEOUT), np.zeros(n)
    running = np.arange(n)
    for t in range(HORIZON):
        act = np.clip(policy(paths[running, t], previous[running], running), -1.0, 1.0)
        new, collided, reached, rewards = step(paths[running, t], act)
        paths[running, t + 1], actions[running, t], previous[running] = new, act, act
        returns[running] += rewards
        outcome[running[collided]], outcome[running[reached]] = COLLISION, SUCCESS
        running = running[~(collided | reached)]
        if running.size == 0:
            break
    return Rollouts(paths, actions, outcome, returns)


def expert_policy(sides: np.ndarray, *, noise: float = 0.0, rng: np.random.Generator | None = None) -> Policy:
    """The expert with hidden ``sides`` (n_episodes,), plus Gaussian action noise of std ``noise`` if given.

    Executing noisy actions while labelling with the clean ones is DART (Laskey, Lee, Fox, Dragan, Goldberg 2017,
    "DART: Noise Injection for Robust Imitation Learning", CoRL): the demonstrations then cover the states a
    slightly-off learner visits.
    """

    def policy(positions, previous, episodes):
        action = expert_action(positions, sides[episodes])
        return action if noise == 0 else action + noise * rng.standard_normal(action.shape)

    return policy


def demonstrations(
    rng: np.random.Generator, n_episodes: int, *, noise: float
) -> tuple[np.ndarray, np.ndarray, Rollouts, np.ndarray]:
    """Expert demonstrations: states (N, 2), clean expert actions (N, 2), the rollouts and the hidden sides.

    Episodes are run with DART noise of std ``noise``; each visited state (before the episode's end) is labelled
    with the expert's noiseless action there.
    """
    sides = rng.permutation(np.resize([-1.0, 1.0], n_episodes))
    runs = rollout(expert_policy(sides, noise=noise, rng=rng), sample_starts(rng, n_episodes))
    visited = ~np.isnan(runs.actions[:, :, 0])
    states = runs.paths[:, :-1][visited]
    labels = expert_action(states, np.broadcast_to(sides[:, None], visited.shape)[visited])
    return states, labels, runs, sides

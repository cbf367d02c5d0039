r"""Imitation learning with energy policies trained by generalized Fenchel-Young losses, against MSE regression.

``python -m refefl.experiments.imitation [--seeds N] [--episodes N] [--quick] [--json PATH] [--out-dir DIR]``

Behaviour cloning on the 2-D navigation task of :mod:`refefl.experiments._navigation`: an expert flies from a start
box to a goal around an obstacle, passing it on the left or on the right by a hidden fair coin, so that at the fork
the demonstrated actions are bimodal given the state. Each policy is fitted to the same demonstrations (state,
action) and rolled out from the same starts. Policies (:mod:`refefl.experiments._policies`):

- MSE regression, :math:`a = \tanh f_W(s)`: it learns E[a | s], the average of the two sidesteps, which points
  at the obstacle;
- energy policies :math:`a(s) = \operatorname{argmax}_{a \in [-1,1]^2} \Phi(a, s) - \Omega(a)` with Ω the binary
  negentropy carried to [−1, 1]^2 by u = (a + 1)/2, trained with the generalized FY loss
  :math:`L = \max_u [\Phi(u) - \Omega(u)] - [\Phi(u_i) - \Omega(u_i)]` and Danskin's gradient:

  * an input-concave network (concave in a: one maximum, so it must choose a compromise between the modes);
  * an unconstrained MLP energy of (s, a) with a multi-start inner solver (it can make F = Φ − Ω flat along the
    directions in which the targets vary, Φ ≈ Ω + c there: the loss is then small whatever the argmax);
  * the (soft) upper envelope of K = 4 concave quadratics whose parameters come from an MLP of s: multimodal,
    each piece strongly concave after subtracting Ω, maximized exactly piece by piece; its temperature is annealed
    from 1 to 0.02 and then set to 0 (the hard maximum) for the last fifth of training and for acting.

Reported over seeds (mean ± std): success rate (the goal reached without collision within the horizon), mean
return, collision rate, the policy's action at the fork point and its distance to the nearest expert mode, the
dip of F between the two expert modes at the fork (positive: bimodal; about 0: a flat ridge, Φ ≈ Ω + c along
it; negative: one peak in between), and training time; a Markdown table, JSON, and a figure of trajectories
written to ``--out-dir``.

References
----------
Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized Fenchel-Young
Losses", NeurIPS, §5. Confirmed from the paper's abstract: it demonstrates the losses on imitation learning. The
setting followed here (energy policies a = argmax over [−1, 1]^d of Φ(a, s) − Ω(a), compared with MSE regression
and implicit behaviour cloning) follows the paper's description of generalized FY losses (docs/fenchel_young.md §2); we could not read §5 and did not
confirm its environments and data, its energy architecture, Ω, inner solver and budget, or its numbers. The task
is ours (no simulator), and implicit behaviour cloning is not implemented.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.energies import HeadNetwork, InputConcaveEnergy, MaxConcaveEnergy, MLPEnergy, StateInput
from refefl.experiments import _navigation as nav
from refefl.experiments._policies import EnergyPolicy, MSEPolicy
from refefl.experiments._protocol import run_units
from refefl.maximizers import ComponentwiseMaximizer, MirrorAscent

#: policy key -> label in the table
POLICIES = {
    "mse": "MSE regression (tanh MLP)",
    "gfy_concave": "GFY, input-concave energy",
    "gfy_mlp": "GFY, MLP energy, multi-start",
    "gfy_max_concave": "GFY, max of 4 concave quadratics",
}
#: the expert's two actions at the fork point (σ = ±1)
FORK_MODES = np.array([[-1.0, 1.0], [1.0, 1.0]]) * np.array(nav.SIDESTEP) * nav.EXPERT_SPEED
DEFAULT_OUT_DIR = Path(".")  # the current folder: results go where the user runs the command


@dataclass(frozen=True)
class Config:
    """What a run does: ``seeds`` × (demonstrations, training, ``episodes`` evaluation rollouts per policy).

    ``step_scale`` multiplies every policy's number of training steps (``--quick`` uses 0.25).
    """

    seeds: int = 5
    episodes: int = 50
    demonstrations: int = 300
    dart_noise: float = 0.05
    step_scale: float = 1.0
    policies: tuple[str, ...] = tuple(POLICIES)
    verbose: bool = True

    def __post_init__(self):
        for name in ("seeds", "episodes", "demonstrations"):
            check_positive_int(getattr(self, name), name)
        check_positive(self.dart_noise, "dart_noise", strict=False)
        check_positive(self.step_scale, "step_scale")
        unknown = set(self.policies) - set(POLICIES)
        if unknown or not self.policies:
            raise ValueError(f"policies must be a non-empty subset of {sorted(POLICIES)}, got {self.policies}")


def make_policy(name: str, step_scale: float = 1.0):
    """A fresh, unfitted policy ``name`` (a key of :data:`POLICIES`) with this experiment's hyperparameters."""
    steps = lambda n: max(1, round(n * step_scale))  # noqa: E731
    if name == "mse":
        return MSEPolicy(2, 2, hidden=(64, 64), steps=steps(3000))
    if name == "gfy_concave":
        energy = InputConcaveEnergy(2, 2, hidden=(32, 32))
        return EnergyPolicy(energy, StateInput(energy), maximizer=MirrorAscent(max_iter=30, tol=1e-4),
                            act_maximizer=MirrorAscent(max_iter=200, tol=1e-6), steps=steps(1000))
    if name == "gfy_mlp":
        energy = MLPEnergy(2, 2, hidden=(32, 32))
        return EnergyPolicy(energy, StateInput(energy), maximizer=MirrorAscent(max_iter=10, tol=1e-4),
                            act_maximizer=MirrorAscent(max_iter=30, tol=1e-4), train_starts=2, act_grid=3,
                            steps=steps(1000))
    if name == "gfy_max_concave":
        energy = MaxConcaveEnergy(4, 2, rank=2)
        return EnergyPolicy(energy, HeadNetwork(energy, 2, hidden=(64, 64)), maximizer=ComponentwiseMaximizer(),
                            temperature_schedule=(1.0, 0.02), steps=steps(2000))
    raise ValueError(f"unknown policy {name!r}; expected one of {sorted(POLICIES)}")


def describe(policy) -> dict:
    """The hyperparameters of a policy, for the report."""
    out = {"steps": policy.steps, "batch_size": policy.batch_size, "learning_rate": policy.learning_rate}
    if isinstance(policy, MSEPolicy):
        return {**out, "network": repr(policy.net)}
    out.update(energy=repr(policy.loss.energy), temperature_schedule=policy.temperature_schedule,
               regularizer=policy.loss.regularizer.name, train_maximizer=repr(policy.loss.maximizer),
               act_maximizer=repr(policy.act_loss.maximizer),
               train_starts=policy.train_starts, act_grid=policy.act_grid)
    if isinstance(policy.parametrization, HeadNetwork):
        out.update(head_network=repr(policy.parametrization.net), head_scales=HeadNetwork.scales)
    return out


def evaluate(act, starts: np.ndarray) -> tuple[dict, nav.Rollouts]:
    """Roll out ``act(positions, previous_actions, episodes)`` from ``starts``; success, collision and timeout
    rates, mean return, and the fraction of successes that pass the obstacle on the left."""
    runs = nav.rollout(act, starts)
    success = runs.outcome == nav.SUCCESS
    below = np.nan_to_num(runs.paths[:, :, 1], nan=np.inf) < nav.OBSTACLE[1]
    x_at_obstacle = runs.paths[np.arange(len(starts)), below.argmin(axis=1), 0]  # where y first reaches 0
    metrics = {"success_rate": success.mean(), "collision_rate": (runs.outcome == nav.COLLISION).mean(),
               "timeout_rate": (runs.outcome == nav.TIMEOUT).mean(), "return": runs.returns.mean(),
               "left_fraction": (x_at_obstacle[success] < 0).mean() if success.any() else float("nan")}
    return {key: float(value) for key, value in metrics.items()}, runs


def run_seed(seed: int, config: Config) -> tuple[dict, dict]:
    """Demonstrations, training and evaluation for one seed: ({policy: metrics}, {policy: (rollouts, policy)}).

    Seeds: demonstrations ``[seed, 0]``, evaluation starts ``[seed, 1]``, the expert's evaluation sides
    ``[seed, 2]``, and policy number j of :data:`POLICIES` ``[seed, 10 + j]`` (whichever policies run)."""
    if config.verbose:
        print(f"seed {seed + 1}/{config.seeds}", flush=True)
    states, actions, _, _ = nav.demonstrations(np.random.default_rng([seed, 0]), config.demonstrations,
                                               noise=config.dart_noise)
    starts = nav.sample_starts(np.random.default_rng([seed, 1]), config.episodes)
    sides = np.random.default_rng([seed, 2]).choice([-1.0, 1.0], size=config.episodes)
    metrics, runs = evaluate(nav.expert_policy(sides), starts)
    results, artefacts = {"expert": metrics}, {"expert": (runs, None)}
    for name in config.policies:
        if config.verbose:
            print(f"  seed {seed}: training {POLICIES[name]} on {len(states)} state-action pairs", flush=True)
        rng = np.random.default_rng([seed, 10 + list(POLICIES).index(name)])
        results[name], artefacts[name] = fit_and_evaluate(name, states, actions, starts, rng, config)
        if config.verbose:
            print(f"  seed {seed}: {POLICIES[name]}: success {results[name]['success_rate']:.2f}, return "
                  f"{results[name]['return']:.2f}, action at the fork {np.round(results[name]['fork_action'], 2)} "
                  f"({results[name]['train_seconds']:.1f} s)", flush=True)
    return results, artefacts


def fit_and_evaluate(name: str, states, actions, starts, rng, config: Config) -> tuple[dict, tuple]:
    """Fit policy ``name`` and roll it out: its metrics (those of :func:`evaluate`, training time, its action at
    the fork and that action's distance to the nearest expert mode; for energy policies also the dip of F between
    the two expert modes at the fork, min(F(a_left), F(a_right)) − F((a_left + a_right)/2), and the fraction of
    training steps whose inner solve used up its budget) and (rollouts, policy)."""
    policy = make_policy(name, config.step_scale)
    tic = time.perf_counter()
    policy.fit(states, actions, rng=rng, verbose=config.verbose)
    seconds = time.perf_counter() - tic
    metrics, runs = evaluate(lambda p, prev, ep: policy.act(p, prev), starts)
    fork_action = policy.act(nav.FORK[None, :])[0]
    metrics.update(train_seconds=seconds, fork_action=fork_action.tolist(),
                   fork_error=float(np.linalg.norm(FORK_MODES - fork_action, axis=1).min()))
    if isinstance(policy, EnergyPolicy):
        left, right, middle = policy.objective(nav.FORK, np.vstack([FORK_MODES, FORK_MODES.mean(axis=0)]))
        metrics.update(fork_dip=float(min(left, right) - middle),
                       unconverged_fraction=policy.unconverged_ / policy.steps)
    return metrics, (runs, policy)


def aggregate(per_seed: list[dict]) -> dict:
    """{policy: {metric: {"mean", "std", "per_seed"}}} over seeds (NaN-aware for ``left_fraction``)."""
    out = {}
    for name in per_seed[0]:
        out[name] = {}
        for key, first in per_seed[0][name].items():
            values = np.array([seed_results[name][key] for seed_results in per_seed], dtype=float)
            summary = {"per_seed": values.tolist()}
            if not isinstance(first, list):
                finite = values[np.isfinite(values)]
                summary.update(mean=float(finite.mean()) if finite.size else None,
                               std=float(finite.std()) if finite.size else None)
            out[name][key] = summary
    return out


def run(config: Config = Config(), n_jobs: int = 1) -> tuple[dict, dict]:
    """All seeds; returns the report (JSON-ready) and, for the figure, {policy: (list of rollouts, one per seed;
    the policy fitted on the first seed)}. The seeds are independent units run through
    :func:`refefl.experiments._protocol.run_units` on ``n_jobs`` workers (one BLAS thread each); the results do
    not depend on ``n_jobs``."""
    tic, artefacts = time.perf_counter(), {}
    outputs = run_units(run_seed, [(seed, config) for seed in range(config.seeds)], n_jobs=n_jobs,
                        desc="imitation: seeds", progress=config.verbose)
    for _, fitted in outputs:
        for name, (runs, policy) in fitted.items():
            artefacts.setdefault(name, ([], policy))[0].append(runs)
    report = {"config": asdict(config), "task": _task_description(),
              "results": aggregate([results for results, _ in outputs]),
              "hyperparameters": {name: describe(make_policy(name, config.step_scale)) for name in config.policies},
              "versions": _versions(), "elapsed_seconds": time.perf_counter() - tic}
    return report, artefacts


def _task_description() -> dict:
    return {"dt": nav.DT, "horizon": nav.HORIZON, "goal": nav.GOAL.tolist(), "goal_radius": nav.GOAL_RADIUS,
            "obstacle": nav.OBSTACLE.tolist(), "obstacle_radius": nav.OBSTACLE_RADIUS,
            "start_box": [nav.START_LOW.tolist(), nav.START_HIGH.tolist()], "fork": nav.FORK.tolist(),
            "expert_modes_at_fork": FORK_MODES.tolist()}


def _versions() -> dict:
    import refefl

    return {"refefl": refefl.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor() or "unknown"}


def _cell(summary: dict, scale: float = 1.0, digits: int = 2) -> str:
    if summary["mean"] is None:
        return "–"
    return f"{summary['mean'] * scale:.{digits}f} ± {summary['std'] * scale:.{digits}f}"


def markdown(report: dict, command: str) -> str:
    """The results table (mean ± std over seeds) with the setting, as Markdown."""
    cfg, results = report["config"], report["results"]
    lines = [
        "# Imitation learning: energy policies (generalized FY loss) vs MSE regression",
        "",
        f"Command: `{command}`. {cfg['seeds']} seeds × {cfg['episodes']} evaluation episodes; "
        f"{cfg['demonstrations']} expert demonstrations per seed (DART noise {cfg['dart_noise']}); "
        f"{report['elapsed_seconds']:.0f} s in total.",
        "",
        "| policy | success % | collision % | return | fork action: distance to nearest mode | train s |",
        "|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        label = "Expert (reference)" if name == "expert" else POLICIES[name]
        extra = ["–", "–"] if name == "expert" else [_cell(res["fork_error"]), _cell(res["train_seconds"], digits=1)]
        lines.append(f"| {label} | {_cell(res['success_rate'], 100, 0)} | {_cell(res['collision_rate'], 100, 0)} | "
                     f"{_cell(res['return'])} | {extra[0]} | {extra[1]} |")
    lines += ["", f"Success: the goal reached without collision within {nav.HORIZON} steps. Return: progress towards "
              "the goal − 0.01 per step, +1 at the goal, −1 at a collision. Fork action: the policy's action at the "
              f"fork point {nav.FORK.tolist()}, where the expert's actions are {np.round(FORK_MODES, 2).tolist()} "
              "(left, right); per seed:", "", *_fork_lines(results)]
    lines += ["", "Dip of F = Φ − Ω at the fork: min(F(a_left), F(a_right)) − F(a_mean), with a_mean = (0, 0.48) "
              "the average of the two expert actions. Positive: two peaks at the modes (a bimodal energy); near 0: a "
              "flat ridge through them (Φ cancels Ω there, so every target is nearly a maximizer and the loss is "
              "small whatever the argmax); negative: one peak between them (what a concave energy must do).",
              "", "Hyperparameters, per-seed values and versions are in the JSON file."]
    return "\n".join(lines) + "\n"


def _fork_lines(results: dict) -> list[str]:
    """Per policy: its action at the fork in each seed and, for energy policies, the dip of F there."""
    lines = []
    for name, res in results.items():
        if "fork_action" in res:
            actions = "; ".join(f"({a:.2f}, {b:.2f})" for a, b in res["fork_action"]["per_seed"])
            flat = f"; dip of F between the modes {_cell(res['fork_dip'])}" if "fork_dip" in res else ""
            lines.append(f"- {POLICIES[name]}: {actions}{flat}")
    return lines


def plot(report: dict, artefacts: dict, path: Path, per_seed: int = 6) -> None:
    """Trajectories (the first ``per_seed`` evaluation episodes of every seed; one panel per policy) and, if
    present, the first seed's max-concave energy policy's F(a) = Φ(a, s) − Ω(a) over the action box at the fork."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    landscape = artefacts.get("gfy_max_concave", (None, None))[1]
    fig, axes = plt.subplots(1, len(artefacts) + (landscape is not None), figsize=(3.1 * (len(artefacts) + 1), 3.4))
    colors = {nav.SUCCESS: "tab:green", nav.COLLISION: "tab:red", nav.TIMEOUT: "tab:gray"}
    for ax, (name, (runs_per_seed, _)) in zip(axes, artefacts.items()):
        for runs in runs_per_seed:
            for path_, outcome in zip(runs.paths[:per_seed], runs.outcome[:per_seed]):
                ax.plot(path_[:, 0], path_[:, 1], color=colors[int(outcome)], lw=0.8, alpha=0.8)
        ax.add_patch(plt.Circle(nav.OBSTACLE, nav.OBSTACLE_RADIUS, color="k", alpha=0.35))
        ax.add_patch(plt.Circle(nav.GOAL, nav.GOAL_RADIUS, color="tab:green", alpha=0.3))
        ax.add_patch(plt.Rectangle(nav.START_LOW, *(nav.START_HIGH - nav.START_LOW), color="tab:blue", alpha=0.2))
        rate = report["results"][name]["success_rate"]["mean"]
        title = "Expert" if name == "expert" else POLICIES[name].replace(", ", ",\n", 1)
        ax.set_title(f"{title}\n(success {rate:.0%}, {len(runs_per_seed)} seeds)", fontsize=8)
        ax.set(xlim=(-1.1, 1.1), ylim=(-1.15, 1.2), aspect="equal", xticks=[], yticks=[])
    if landscape is not None:
        _plot_landscape(axes[-1], landscape)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_landscape(ax, policy) -> None:
    grid = np.linspace(-0.98, 0.98, 81)
    actions = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    values = policy.objective(nav.FORK, actions).reshape(len(grid), len(grid))
    ax.contourf(grid, grid, values, levels=20, cmap="viridis")
    ax.plot(*FORK_MODES.T, "wx", ms=8, mew=2, label="expert modes")
    ax.plot(*policy.act(nav.FORK[None, :])[0], "r+", ms=10, mew=2, label="argmax")
    ax.set_title("F(a) = Φ(a, s) − Ω(a) at the fork\n(max of concave quadratics, seed 0)", fontsize=8)
    ax.set(xlabel="$a_1$", ylabel="$a_2$", aspect="equal")
    ax.legend(fontsize=6, loc="lower left")


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m refefl.experiments.imitation", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; 2 with --quick)")
    parser.add_argument("--episodes", type=int, default=None, help="evaluation episodes per seed (default 50)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 episodes, 1/4 of the training steps")
    parser.add_argument("--policies", nargs="+", choices=sorted(POLICIES), default=list(POLICIES))
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON report")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="default: the current folder")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="worker processes for the seeds; results do not depend on it (default: 1)")
    args = parser.parse_args(argv)
    quick = {"seeds": 2, "episodes": 20, "step_scale": 0.25} if args.quick else {}
    chosen = {key: value for key, value in (("seeds", args.seeds), ("episodes", args.episodes)) if value is not None}
    config = Config(**{**quick, **chosen, "policies": tuple(args.policies)})
    report, artefacts = run(config, n_jobs=args.n_jobs)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    command = "python -m refefl.experiments.imitation " + " ".join(sys.argv[1:] if argv is None else argv)
    table = markdown(report, command.strip())
    (args.out_dir / "imitation.md").write_text(table)
    json_path = args.json or args.out_dir / "imitation.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1))
    try:
        plot(report, artefacts, args.out_dir / "imitation.png")
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'refefl[plot]')")
    print("\n" + table + f"\nwritten to {args.out_dir} (JSON: {json_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

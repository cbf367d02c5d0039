"""Dual training of EBMs by particle GDA: the teacher-student experiment of Domingo-Enrich et al. (2022).

``python -m refefl.experiments.gda --dim 3 --n-data 1000 --iters 4000 --restart 0 1 1/60`` samples N points from
the paper's teacher (two attractive ReLU neurons, β = 10), trains a 64-neuron student by GDA once per restart
setting (same data, same initial student), prints progress, and writes to ``--out-dir``: ``gda_curves.png`` (KL,
score-matching distance and TV against iterations, one line per setting, log scale) and, in d = 3,
``gda_sphere_<label>.png`` (teacher and student densities on S² with the neurons as sticks, at several
iterations). ``--json PATH`` saves the curves: for one setting an object with keys ``iterations``, ``kl``, ``sm``,
``tv`` (lists over logged iterations), ``final``, ``restart`` and ``config``; for several, ``{"config": ...,
"runs": [such objects]}``.

Metrics: KL(teacher‖student) by quadrature on S² (d = 3, 100 × 100 grid) or by Monte Carlo over exact teacher
samples (d > 3); SM = E_teacher |∇_S E_t − ∇_S E_s|²; TV = mean(w).

Choices the paper leaves open (see ``--help``):

- restarts are probabilities p_R per iteration, one coin for all walkers (``--restart-mode period`` reads them as
  a period 1/p_R);
- the student's signs are all −1 by default, like the teacher's. With alternating ±1 signs (``--signs
  balanced``) the repulsive neurons keep ≈ 30% of the TV budget for thousands of iterations: even exact-gradient
  MLE then stalls at KL ≈ 0.004 (N = 1e4, 4000 iterations) against the paper's 0.0006, and the final SM is
  4–6× the paper's; with signs −1 both match the paper's scale;
- masses start at 1 (energy ≈ 0, so the initial KL is KL(teacher‖τ) = 0.63, the paper's 0.62–0.64);
- steps default to :class:`refefl.gda.GDAConfig`'s (h_w = 0.04α in d = 3, see there);
- the final duality gap maximizes the witness over a 30 × 60 grid of directions plus the neurons (cost).

``--seeds K`` repeats the whole experiment (data, initial student, noise) for seeds ``--seed`` … ``--seed`` + K − 1
and writes ``gda_seeds.md`` and ``gda_seeds.json`` to ``--out-dir``: per restart setting, the median and range
over the seeds of KL@500, KL@1000 and the final KL, SM and TV, beside the first seed's values and, in d = 3, the
paper's (Domingo-Enrich et al. 2022, N = 1e3 and 1e4); the figures show the first seed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from refefl import gda
from refefl.experiments._protocol import run_units


#: the paper's d = 3 results after 4000 iterations, (N, p_R) -> KL@500, KL@1000, KL, SM, TV (docs/gda.md §4)
PAPER_D3 = {
    (1000, "0"): (0.11, 0.0077, 0.0044, 0.117, 9.93), (1000, "1"): (0.30, 0.064, 0.0107, 0.258, 10.29),
    (1000, "1/60"): (0.14, 0.0104, 0.0039, 0.127, 9.88), (10000, "0"): (0.11, 0.0066, 0.0006, 0.028, 9.74),
    (10000, "1"): (0.28, 0.053, 0.0008, 0.035, 9.81), (10000, "1/60"): (0.14, 0.0093, 0.0004, 0.026, 9.74),
}
SEED_METRICS = ("kl@500", "kl@1000", "kl", "sm", "tv")


def parse_restart(text: str) -> Fraction:
    """A restart setting such as ``0``, ``1``, ``1/60`` or ``0.25`` as a fraction in [0, 1]."""
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as error:
        raise argparse.ArgumentTypeError(f"restart must be a number such as 0, 1 or 1/60, got {text!r}") from error
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"restart must lie in [0, 1], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m refefl.experiments.gda", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--dim", type=int, default=3, help="ambient dimension d (data on S^{d-1}; default %(default)s)")
    add("--n-data", type=int, default=1000, help="number of training points N (default %(default)s)")
    add("--iters", type=int, default=4000, help="GDA iterations (default %(default)s)")
    add("--restart", type=parse_restart, nargs="+", default=[Fraction(0)],
        help="restart probabilities p_R, e.g. 0 1 1/60 (0: persistent, 1: score matching)")
    add("--restart-mode", choices=("probability", "period"), default="probability",
        help="p_R as a per-iteration coin, or as a deterministic period 1/p_R (default %(default)s)")
    add("--seed", type=int, default=0, help="seed of data, initial student and Langevin noise")
    add("--seeds", type=int, default=1,
        help="repeat for this many seeds from --seed on; writes gda_seeds.md/.json (default %(default)s)")
    add("--n-neurons", type=int, default=64, help="student neurons n (default %(default)s)")
    add("--beta", type=float, default=10.0, help="TV bound β (default %(default)s)")
    add("--step-x", type=float, default=0.02, help="Langevin step h_x (default %(default)s)")
    add("--step-z", type=float, default=None, help="neuron step h_z (default: GDAConfig's, with α)")
    add("--step-w", type=float, default=None, help="mass step h_w (default: GDAConfig's, with α)")
    add("--signs", choices=("negative", "balanced"), default="negative",
        help="student signs: all -1 like the teacher's, or alternating ±1 (default %(default)s)")
    add("--lazy", action="store_true", help="freeze the neuron directions (lazy regime)")
    add("--log-every", type=int, default=20, help="iterations between logged metrics (default %(default)s)")
    add("--quadrature", type=int, default=100, help="grid size per angle on S² for d = 3 (default %(default)s)")
    add("--mc-samples", type=int, default=100000, help="teacher samples for the metrics in d > 3")
    add("--snapshots", type=int, nargs="*", default=[0, 500, 1000, 4000],
        help="iterations drawn in the sphere plots (d = 3; default %(default)s)")
    add("--out-dir", default=".", help="where the figures go (default: the current folder); '' for none")
    add("--json", default=None, help="write curves and final values to this JSON file")
    add("--quiet", action="store_true", help="no progress lines while training")
    add("--n-jobs", type=int, default=1,
        help="worker processes for the (seed, setting) runs; results do not depend on it (default %(default)s)")
    return parser


class Metrics:
    """KL, SM and TV of a student against the teacher: quadrature on S² for d = 3, Monte Carlo otherwise."""

    def __init__(self, teacher: gda.ReLUEnergy, args, rng: np.random.Generator) -> None:
        self.teacher = teacher
        if teacher.dim == 3:
            self.quadrature = gda.sphere_quadrature(args.quadrature, args.quadrature)
            self.points = self.quadrature.points
            self.weights = gda.gibbs_weights(teacher, self.quadrature)
        else:
            self.quadrature, self.weights = None, None
            self.points = gda.sample_gibbs(teacher, args.mc_samples, rng)

    def __call__(self, student: gda.ReLUEnergy) -> tuple[float, float, float]:
        if self.quadrature is not None:
            kl = gda.kl_divergence(self.teacher, student, self.quadrature)
        else:
            kl = gda.kl_divergence_mc(self.teacher, student, self.points)
        sm = gda.score_matching_distance(self.teacher, student, self.points, self.weights)
        return kl, sm, student.total_variation()


def make_config(restart: Fraction, args) -> gda.GDAConfig:
    """The GDA configuration of one restart setting (a probability, or a period with ``--restart-mode period``);
    ``ValueError`` if a period is asked for a p_R that is not 1/integer."""
    schedule = {"restart": float(restart)}
    if args.restart_mode == "period" and restart > 0:
        period = 1 / restart
        if period.denominator != 1:
            raise ValueError(f"--restart-mode period needs p_R = 1/integer, got {restart}")
        schedule = {"restart_period": int(period)}
    return gda.GDAConfig(step_x=args.step_x, step_z=args.step_z, step_w=args.step_w, beta=args.beta,
                         lazy=args.lazy, **schedule)


class Logger:
    """Training callback: metrics every ``--log-every`` iterations, progress lines, energies at the snapshots."""

    def __init__(self, metrics: Metrics, args, label: str) -> None:
        self.metrics, self.args, self.label = metrics, args, label
        self.log = {"iterations": [], "kl": [], "sm": [], "tv": []}
        self.snapshots, self.start, self.every = {}, time.perf_counter(), max(args.iters // 10, 1)

    def __call__(self, t: int, energy: gda.ReLUEnergy) -> None:
        last = t == self.args.iters
        if t in self.args.snapshots or last:
            self.snapshots[t] = energy
        if t % self.args.log_every and not last:
            return
        values = self.metrics(energy)
        for key, value in zip(("kl", "sm", "tv"), values):
            self.log[key].append(value)
        self.log["iterations"].append(t)
        if (t % self.every == 0 or last) and not self.args.quiet:
            print(f"[{self.label}] it {t:6d}  KL {values[0]:.5f}  SM {values[1]:.4f}  TV {values[2]:.3f}  "
                  f"({time.perf_counter() - self.start:.1f} s)", flush=True)


def run_setting(restart: Fraction, data, student, metrics: Metrics, args, label: str, seed: int | None = None) -> dict:
    """Train once with restart setting ``restart`` (noise seeded by ``seed``, default ``--seed``); return the
    logged curves, final values and snapshots."""
    config, logger = make_config(restart, args), Logger(metrics, args, label)
    seed = args.seed if seed is None else seed
    result = gda.train_gda(data, student, n_iter=args.iters, rng=np.random.default_rng([seed, 2]),
                           config=config, callback=logger, callback_every=1)
    log = logger.log
    final = {key: log[key][-1] for key in ("kl", "sm", "tv")}
    final.update({f"kl@{t}": log["kl"][log["iterations"].index(t)] for t in (500, 1000) if t in log["iterations"]})
    if metrics.quadrature is not None:
        coarse = gda.sphere_quadrature(30, 60).points  # candidate directions of the sup: 30×60 keeps it < 1 s
        final["duality_gap"] = gda.duality_gap(result.energy, data, args.beta, metrics.quadrature,
                                               directions=coarse, lazy=args.lazy)
    final.update(seconds=time.perf_counter() - logger.start, restarts=result.n_restarts,
                 steps=config.steps(args.dim))
    return {"restart": label, **log, "final": final, "snapshots": logger.snapshots}


def plot_curves(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for run in runs:
        for ax, key in zip(axes, ("kl", "sm", "tv")):
            ax.plot(run["iterations"], np.maximum(run[key], 1e-8), label=f"$p_R$ = {run['restart']}")
    for ax, title in zip(axes, ("KL(teacher ‖ student)", "score-matching distance", "TV = mean(w)")):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_spheres(teacher: gda.ReLUEnergy, run: dict, path: Path) -> None:
    """Teacher and student log-densities on S² (one color scale), neurons as sticks of length ∝ mass.

    Seen from the bisector of the teacher's directions (both caps in view); only the sticks on the visible
    hemisphere are drawn (red: c = -1, blue: c = +1).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    view = gda.normalize_rows(teacher.directions[:, :3].sum(axis=0, keepdims=True))[0]
    theta, phi = np.meshgrid(np.linspace(0, np.pi, 50), np.linspace(0, 2 * np.pi, 100), indexing="ij")
    xyz = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1)
    panels = [("teacher", teacher)] + [(f"student, it {t}", e) for t, e in sorted(run["snapshots"].items())]
    fig = plt.figure(figsize=(2.4 * len(panels), 2.7))
    for k, (title, energy) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d", computed_zorder=False)
        log_density = -energy.value(xyz.reshape(-1, 3)).reshape(theta.shape)
        shade = np.clip((log_density - log_density.max() + 6.0) / 6.0, 0.0, 1.0)
        ax.plot_surface(*np.moveaxis(xyz, -1, 0), facecolors=plt.cm.viridis(shade), rstride=1, cstride=1,
                        linewidth=0, shade=False, zorder=1)
        top = max(float(np.max(energy.masses)), 1e-12)
        for z, c, w in zip(energy.directions, energy.signs, energy.masses):
            if w > 1e-2 * top and z @ view > 0:
                segment = np.stack([z, z * (1 + 0.5 * w / top)], axis=1)
                ax.plot(*segment, color="red" if c < 0 else "blue", linewidth=1.2, zorder=2)
        ax.view_init(elev=np.degrees(np.arcsin(view[2])), azim=np.degrees(np.arctan2(view[1], view[0])))
        ax.set_box_aspect((1, 1, 1), zoom=1.35)
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"log-density on S$^2$ (same color scale, 6 nats), $p_R$ = {run['restart']}; "
                 "sticks: neurons, length ∝ mass", fontsize=9)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.86, wspace=0)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def _to_json(run: dict) -> dict:
    return {key: value for key, value in run.items() if key != "snapshots"}


def seed_problem(seed: int, teacher: gda.ReLUEnergy, args) -> tuple[np.ndarray, gda.ReLUEnergy, Metrics]:
    """The data, the initial student and the metrics of one seed: all three come from ``seed``."""
    seeds = np.random.SeedSequence(seed).spawn(3)
    data = gda.sample_gibbs(teacher, args.n_data, np.random.default_rng(seeds[0]))
    student = gda.ReLUEnergy.random(args.n_neurons, args.dim, np.random.default_rng(seeds[1]),
                                    sign=-1.0 if args.signs == "negative" else None)
    return data, student, Metrics(teacher, args, np.random.default_rng(seeds[2]))


def run_unit(seed: int, restart: Fraction, teacher: gda.ReLUEnergy, args) -> dict:
    """Unit of work: one training run of restart setting ``restart`` on the problem of ``seed``."""
    data, student, metrics = seed_problem(seed, teacher, args)
    return run_setting(restart, data, student, metrics, args, str(restart), seed)


def run_seeds(seeds: list[int], teacher: gda.ReLUEnergy, args, n_jobs: int = 1) -> list[list[dict]]:
    """Every restart setting for every seed, per seed; the (seed, setting) pairs are independent units run through
    :func:`refefl.experiments._protocol.run_units` on ``n_jobs`` workers (results do not depend on it)."""
    units = [(seed, restart, teacher, args) for seed in seeds for restart in args.restart]
    runs = run_units(run_unit, units, n_jobs=n_jobs, desc="GDA runs")
    per_seed = len(args.restart)
    return [runs[i * per_seed:(i + 1) * per_seed] for i in range(len(seeds))]


def seeds_markdown(finals: dict[str, list[dict]], seeds: list[int], args, command: str) -> str:
    """Median [min, max] over the seeds of each final metric, per restart setting, beside the first seed's
    values and the paper's (d = 3)."""
    names = ("KL@500", "KL@1000", f"KL@{args.iters}", f"SM@{args.iters}", f"TV@{args.iters}")
    lines = [f"# GDA over {len(seeds)} seeds: d = {args.dim}, N = {args.n_data}, {args.iters} iterations", "",
             f"Seeds {seeds} (each draws its own data, initial student and noise); median [min, max] over them, the "
             f"first seed alone, and the paper's values (Domingo-Enrich et al. 2022, one run each).", "",
             "| p_R | values | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, per_seed in finals.items():
        columns = [np.array([final.get(key, np.nan) for final in per_seed]) for key in SEED_METRICS]
        lines.append(f"| {label} | median [min, max] | " + " | ".join(
            f"{np.median(c):.4g} [{c.min():.4g}, {c.max():.4g}]" for c in columns) + " |")
        lines.append(f"| {label} | seed {seeds[0]} | " + " | ".join(f"{c[0]:.4g}" for c in columns) + " |")
        paper = PAPER_D3.get((args.n_data, label)) if args.dim == 3 and args.iters == 4000 else None
        if paper:
            lines.append(f"| {label} | paper | " + " | ".join(f"{v:g}" for v in paper) + " |")
    return "\n".join(lines + ["", f"Command: `{command}`"]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    for restart in args.restart:  # every setting is checked before any training starts
        try:
            make_config(restart, args)
        except ValueError as error:
            parser.error(str(error))
    teacher = gda.paper_teacher(args.dim, args.beta)
    seeds = list(range(args.seed, args.seed + args.seeds))
    print(f"d = {args.dim}, N = {args.n_data}, n = {args.n_neurons}, {args.iters} iterations, seeds {seeds}")
    all_runs = run_seeds(seeds, teacher, args, args.n_jobs)
    runs = all_runs[0]
    print("\nsetting      KL@500    KL@1000   KL final  SM final  TV final  seconds")
    for run in runs:
        f = run["final"]
        print(f"p_R = {run['restart']:<6} {f.get('kl@500', np.nan):9.5f} {f.get('kl@1000', np.nan):9.5f} "
              f"{f['kl']:9.5f} {f['sm']:9.4f} {f['tv']:9.3f} {f['seconds']:8.1f}")
    config = {key: value for key, value in vars(args).items() if key != "restart"}
    if args.json:
        body = ({**_to_json(runs[0]), "config": config} if len(runs) == 1
                else {"config": config, "runs": [_to_json(run) for run in runs]})
        Path(args.json).write_text(json.dumps(body, indent=1))
        print(f"curves saved to {args.json}")
    if args.seeds > 1:
        finals = {run["restart"]: [seed_runs[i]["final"] for seed_runs in all_runs] for i, run in enumerate(runs)}
        command = "python -m refefl.experiments.gda " + " ".join(sys.argv[1:] if argv is None else argv)
        table = seeds_markdown(finals, seeds, args, command)
        print("\n" + table)
        out = Path(args.out_dir or ".")
        out.mkdir(parents=True, exist_ok=True)
        (out / "gda_seeds.md").write_text(table, encoding="utf-8")
        (out / "gda_seeds.json").write_text(json.dumps({"config": config, "seeds": seeds, "finals": finals},
                                                       indent=1), encoding="utf-8")
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        try:
            plot_curves(runs, out / "gda_curves.png")
            if args.dim == 3:
                for run in runs:
                    plot_spheres(teacher, run, out / f"gda_sphere_{run['restart'].replace('/', '_')}.png")
        except ImportError:
            print("matplotlib is not installed: no figures (pip install 'refefl[plot]')")
        else:
            print(f"figures saved to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

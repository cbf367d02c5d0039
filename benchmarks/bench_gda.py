"""One GDA iteration of refefl.gda against the matrix products it cannot avoid: ``python -m benchmarks.bench_gda``.

Per case (d, N data, M = 2N walkers, n = 64 neurons) it first checks that the timed iteration is the GDA (the loop
equals the composition of the public step functions, and the floor's products equal the energy's
pre-activations), then times, interleaved call by call so both see the same machine load:

- the floor: the unavoidable products data·neuronsᵀ (N×d·d×n) and walkers·neuronsᵀ (M×d·d×n);
- every matrix product one iteration performs (3 forward, 3 backward), for reference;
- one iteration: restart check, Langevin step with antithetic noise, witness, neuron and mass steps, with the
  compiled iteration (backend "ext", :mod:`refefl.gda._kernels`) and, for reference, with its NumPy twin;
- the antithetic noise alone (``rng.standard_normal`` of N×d), a part of the iteration no kernel removes.

It writes ``gda_iteration.csv`` and ``.md`` to ``--out-dir`` (default ``benchmarks/results``; median, min–max,
ratio to the floor; target: one iteration ≤ 2× the floor). ``--quick`` runs the smallest case with fewer repeats. On a shared machine run it with
``OPENBLAS_NUM_THREADS=1``: threaded BLAS on busy cores makes the medians swing by 10× (the thread setting is
stamped in the Markdown).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import refefl
from benchmarks._harness import time_interleaved
from benchmarks._report import RESULTS, fmt_time, stamp, table, thread_settings, write_csv
from refefl import gda
# The one private name a benchmark uses, on purpose: the target is one iteration of train_gda as it runs, and
# train_gda's iteration (walkers, restart coin, noise stream, compiled kernel) is internal to it. The public API
# has the same iteration only as separate step functions, which check_case pins the loop to.
from refefl.gda._training import _Iteration

CASES = ((3, 1000), (3, 10000), (15, 10000))
N_NEURONS, TARGET = 64, 2.0
BACKEND = "ext" if refefl.HAVE_EXT else "numpy"  # the timed iteration's kernel
FLOOR, ITERATION = "floor: data·Zᵀ + walkers·Zᵀ", f"one GDA iteration ({BACKEND})"


def make_case(dim: int, n_data: int, seed: int = 0, backend: str = BACKEND):
    """Teacher data, a student, and train_gda's iteration (kernel from ``backend``) after 50 iterations (walkers
    off the data)."""
    rng = np.random.default_rng(seed)
    data = gda.sample_gibbs(gda.paper_teacher(dim), n_data, rng)
    config = gda.GDAConfig()
    result = gda.train_gda(data, gda.ReLUEnergy.random(N_NEURONS, dim, rng, sign=-1.0), n_iter=50, rng=seed,
                           config=config, backend=backend)
    oracle = _Iteration(data, config, np.random.default_rng(seed), backend)
    oracle.walkers = result.walkers
    return data, result.energy, oracle, config


def check_case(data, energy, oracle, config) -> None:
    """Stop unless the floor computes the pre-activations and the loop, with the timed backend's kernel and
    with the NumPy one, is the composition of the public step functions."""
    if not np.allclose(floor_products(data, oracle.walkers, energy)[0], energy.preactivations(data)):
        raise SystemExit("floor products disagree with ReLUEnergy.preactivations")
    rng, (_, step_z, step_w) = np.random.default_rng(1), config.steps(energy.dim)
    reference, walkers = energy, gda.restart_walkers(data)
    for _ in range(2):
        walkers = gda.particle_step(walkers, reference, config.step_x, gda.antithetic_noise(rng, *data.shape))
        reference = gda.neuron_step(reference, gda.witness_gradient(reference, data, walkers), step_z=step_z,
                                    step_w=step_w, beta=config.beta)
    for backend in sorted({BACKEND, "numpy"}):
        result = gda.train_gda(data, energy, n_iter=2, rng=1, config=config, backend=backend)
        if not (np.allclose(result.walkers, walkers) and np.allclose(result.energy.masses, reference.masses)
                and np.allclose(result.energy.directions, reference.directions)):
            raise SystemExit(f"the GDA loop (backend {backend!r}) disagrees with the composition of its public "
                             "step functions")


def floor_products(data, walkers, energy):
    """The unavoidable products: pre-activations of the data and of the walkers."""
    z_t = energy.directions.T
    return data @ z_t, walkers @ z_t


def all_products(data, walkers, energy):
    """Every matrix product of one iteration, patterns precomputed: 3 forward (data, walkers before and after
    the Langevin step) and 3 backward (Langevin gradient, the two moments of the witness)."""
    z, dtype = energy.directions, data.dtype
    active_x, active_y = (data @ z.T > 0).astype(dtype), (walkers @ z.T > 0).astype(dtype)
    weighted_z = energy.output_weights[:, None] * z

    def products():
        return (data @ z.T, walkers @ z.T, walkers @ z.T, active_y @ weighted_z, active_x.T @ data,
                active_y.T @ walkers)

    return products


def one_iteration(energy, oracle):
    """One GDA iteration exactly as :func:`refefl.gda.train_gda` runs it (persistent walkers, t > 0)."""
    return oracle(1, energy)


def measure(dim: int, n_data: int, repeats: int) -> list[dict]:
    data, energy, oracle, config = make_case(dim, n_data)
    check_case(data, energy, oracle, config)
    numpy_oracle = _Iteration(data, config, np.random.default_rng(0), "numpy")
    numpy_oracle.walkers = oracle.walkers.copy()
    funcs = {
        FLOOR: lambda: floor_products(data, oracle.walkers, energy),
        "all products of an iteration": all_products(data, oracle.walkers, energy),
        "antithetic noise": lambda: gda.antithetic_noise(oracle.rng, *data.shape),
        ITERATION: lambda: one_iteration(energy, oracle),
    }
    if BACKEND != "numpy":
        funcs["one GDA iteration (numpy)"] = lambda: one_iteration(energy, numpy_oracle)
    timings = time_interleaved(funcs, repeats)
    floor = timings[FLOOR].median
    return [{"d": dim, "N": n_data, "M": 2 * n_data, "n": N_NEURONS, "what": name, "median_s": t.median,
             "min_s": t.low, "max_s": t.high, "repeats": t.repeats, "ratio_to_floor": t.median / floor}
            for name, t in timings.items()]


def write_markdown(path: Path, rows: list[dict]) -> None:
    import scipy

    lines = ["# One GDA iteration vs the unavoidable matrix products", "",
             stamp({"numpy": np.__version__, "scipy": scipy.__version__}),
             thread_settings("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"), "",
             table(("d", "N", "M", "n", "what", "median", "min–max", "× floor"),
                   ((r["d"], r["N"], r["M"], r["n"], r["what"], fmt_time(r["median_s"]),
                     f"{fmt_time(r['min_s'])}–{fmt_time(r['max_s'])}", f"{r['ratio_to_floor']:.3g}") for r in rows))]
    lines += ["", f"Target: one GDA iteration ≤ {TARGET:g}× the floor.", ""]
    for r in rows:
        if r["what"] == ITERATION:
            met = "met" if r["ratio_to_floor"] <= TARGET else "missed"
            lines.append(f"- d = {r['d']}, N = {r['N']}: {r['ratio_to_floor']:.2f}× ({met})")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest case, 30 repeats")
    parser.add_argument("--repeats", type=int, default=100, help="interleaved repeats (default %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the result files go (default: %(default)s)")
    args = parser.parse_args(argv)
    cases, repeats = (CASES[:1], 30) if args.quick else (CASES, args.repeats)
    rows = []
    for dim, n_data in cases:
        case_rows = measure(dim, n_data, repeats)
        rows += case_rows
        for r in case_rows:
            print(f"d={dim:2d} N={n_data:6d}  {r['what']:<30} {fmt_time(r['median_s']):>10}  "
                  f"[{fmt_time(r['min_s'])}–{fmt_time(r['max_s'])}]  {r['ratio_to_floor']:.2f}× floor", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(args.out_dir / "gda_iteration.csv", rows)
    write_markdown(args.out_dir / "gda_iteration.md", rows)
    print(f"written {args.out_dir / 'gda_iteration.csv'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

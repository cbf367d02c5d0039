"""Pieces shared by the experiment commands: hyperparameter grids, how a configuration is written, BLAS threads,
the independent units of work run through joblib, and the plans that hand those units out phase by phase.

A *plan* is a generator that yields a list of units ``(function, *args)``, receives the list of their results,
yields the next phase's units, and so on, and finally returns its result. A plan says what can run together;
:func:`run_plan` runs each phase's units through :func:`run_units`, and :func:`gather` combines plans (the models
of one data set, or several data sets) so that their phases run side by side: the workers then get all the units
of a phase at once instead of a few units per model. Each unit seeds its own generator, so how the units are
batched changes no result.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Sequence
from typing import Any

from refefl import config_context, get_config


def grid(base: dict, **axes) -> list[dict]:
    """Every combination of the values in ``axes``, each merged into ``base`` (a dict value sets several keys)."""
    configs = [dict(base)]
    for name, values in axes.items():
        configs = [{**config, **(value if isinstance(value, dict) else {name: value})}
                   for config in configs for value in values]
    return configs


def jsonable(config: dict) -> dict:
    """``config`` with tuples as lists (what JSON holds)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in config.items()}


def describe(config: dict) -> str:
    """``key=value, ...`` of a configuration, or "defaults"."""
    return ", ".join(f"{key}={value}" for key, value in jsonable(config).items()) or "defaults"


def prefixed(log: Callable[[str], None], label: str) -> Callable[[str], None]:
    """``log`` with every line prefixed by ``[label]``: the lines of plans run side by side interleave."""
    return lambda line: log(f"[{label}] {line}")


def blas_threads(n: int):
    """Limit BLAS to ``n`` threads when threadpoolctl is installed: the matrices here are small, and on a busy
    2-core machine a second OpenBLAS thread made a training epoch ~15× slower (measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


def one_thread():
    """Limit BLAS and OpenMP (refefl_ext's kernels) to one thread each when threadpoolctl is installed: the
    thread budget of a unit, whatever the number of workers. A unit then runs the same way in this process
    (``n_jobs=1``) as in a worker (where joblib's loky backend limits both to cores // workers), and a kernel
    that splits a long row among its threads sums in the same order."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def run_units(function: Callable, units: Sequence[tuple], *, n_jobs: int = 1, desc: str | None = None,
              progress: bool = True) -> list:
    """``[function(*unit) for unit in units]``, the units run by joblib and returned in order.

    Each unit is independent and seeds its own generator, so the results are the same, bit for bit, whatever
    ``n_jobs`` is (every unit runs with one BLAS and one OpenMP thread, :func:`one_thread`, in this process as in
    a worker). ``n_jobs=1`` runs in this
    process; ``n_jobs > 1`` in local worker processes; inside ``joblib.parallel_config(backend="dask")`` the units
    go to the Dask cluster of the active ``dask.distributed.Client``. A tqdm bar counts finished units. Every unit
    runs under the caller's :func:`refefl.config_context` (worker processes would otherwise start at the default).
    """
    check_n_jobs(n_jobs)
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    units, config = list(units), get_config()
    with one_thread():
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_run_unit)(function, config, *unit)
                                                                 for unit in units)
        return list(tqdm(results, total=len(units), desc=desc, disable=not progress, leave=False))


#: a generator that yields lists of units ``(function, *args)``, receives their results, and returns its result
Plan = Generator[list[tuple], list, Any]


def run_plan(plan: Plan, *, n_jobs: int = 1, desc: str | None = None, progress: bool = True) -> Any:
    """Run ``plan`` to its end: each list of units it yields goes to one :func:`run_units` call (on ``n_jobs``
    workers) and the results are sent back; returns what the plan returns.

    Examples
    --------
    >>> from operator import add, mul
    >>> def plan():
    ...     sums = yield [(add, 1, 2), (add, 3, 4)]
    ...     products = yield [(mul, total, 10) for total in sums]
    ...     return products
    >>> run_plan(plan(), progress=False)
    [30, 70]
    """
    results, phase = None, 0
    while True:
        try:
            units = plan.send(results)
        except StopIteration as stop:
            return stop.value
        phase += 1
        results = run_units(_call, units, n_jobs=n_jobs, progress=progress,
                            desc=None if desc is None else f"{desc}, phase {phase}")


def gather(plans: Sequence[Plan]) -> Plan:
    """A plan that runs ``plans`` side by side and returns the list of their results, in order.

    At every phase it yields the units of all the plans still running, in plan order, and hands each plan its
    share of the results; a plan that has finished yields no more units.

    Examples
    --------
    >>> from operator import neg
    >>> def plan(x, phases):
    ...     for _ in range(phases):
    ...         [x] = yield [(neg, x)]
    ...     return x
    >>> run_plan(gather([plan(1, 1), plan(2, 2), plan(3, 0)]), progress=False)
    [-1, 2, 3]
    """
    plans, results, requests = list(plans), [None] * len(plans), {}
    for index in range(len(plans)):
        _advance(plans, index, None, requests, results)
    while requests:
        pending, requests = list(requests.items()), {}
        outcomes = yield [unit for _, units in pending for unit in units]
        start = 0
        for index, units in pending:
            _advance(plans, index, outcomes[start:start + len(units)], requests, results)
            start += len(units)
    return results


def _advance(plans: list[Plan], index: int, outcomes: list | None, requests: dict, results: list) -> None:
    """Send ``outcomes`` to plan ``index``: its next units go to ``requests[index]``, or its result to
    ``results[index]`` when it has finished."""
    try:
        requests[index] = plans[index].send(outcomes)
    except StopIteration as stop:
        results[index] = stop.value


def _call(function: Callable, *args):
    return function(*args)


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` when it is a positive int or -1 (every core / every cluster worker); ``ValueError`` otherwise."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (every core), got {n_jobs!r}")
    return n_jobs


def _run_unit(function: Callable, config: dict, *args):
    """``function(*args)`` with one BLAS and OpenMP thread and refefl's ``config`` (in a worker process both are set
    again)."""
    with one_thread(), config_context(**config):
        return function(*args)

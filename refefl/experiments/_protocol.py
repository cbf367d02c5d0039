"""Pieces shared by the experiment commands: hyperparameter grids, how a configuration is written, BLAS threads,
and the independent units of work run through joblib."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

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


def blas_threads(n: int):
    """Limit BLAS to ``n`` threads when threadpoolctl is installed: the matrices here are small, and on a busy
    2-core machine a second OpenBLAS thread made a training epoch ~15× slower (measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n, user_api="blas")


def run_units(function: Callable, units: Sequence[tuple], *, n_jobs: int = 1, desc: str | None = None,
              progress: bool = True) -> list:
    """``[function(*unit) for unit in units]``, the units run by joblib and returned in order.

    Each unit is independent and seeds its own generator, so the results are the same, bit for bit, whatever
    ``n_jobs`` is (each worker also uses one BLAS thread, as the sequential run does). ``n_jobs=1`` runs in this
    process; ``n_jobs > 1`` in local worker processes; inside ``joblib.parallel_config(backend="dask")`` the units
    go to the Dask cluster of the active ``dask.distributed.Client``. A tqdm bar counts finished units. Every unit
    runs under the caller's :func:`refefl.config_context` (worker processes would otherwise start at the default).
    """
    check_n_jobs(n_jobs)
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    units, config = list(units), get_config()
    with blas_threads(1):
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_run_unit)(function, config, *unit)
                                                                 for unit in units)
        return list(tqdm(results, total=len(units), desc=desc, disable=not progress, leave=False))


def check_n_jobs(n_jobs) -> int:
    """``n_jobs`` when it is a positive int or -1 (every core / every cluster worker); ``ValueError`` otherwise."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (every core), got {n_jobs!r}")
    return n_jobs


def _run_unit(function: Callable, config: dict, *args):
    """``function(*args)`` with one BLAS thread and refefl's ``config`` (in a worker process both are set again)."""
    with blas_threads(1), config_context(**config):
        return function(*args)

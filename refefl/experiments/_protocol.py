"""Pieces shared by the experiment commands: hyperparameter grids, how a configuration is written, BLAS threads."""
from __future__ import annotations

import contextlib


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

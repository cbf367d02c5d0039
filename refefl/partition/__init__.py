"""Partition networks: the min-min loss, combinatorial output spaces, their energies and exact oracles.

See docs/partition.md for the derivations.
"""
from refefl.partition._loss import log_mean_exp_loss, min_min_loss
from refefl.partition._permanent import log_permanent

__all__ = [
    "min_min_loss",
    "log_mean_exp_loss",
    "log_permanent",
]

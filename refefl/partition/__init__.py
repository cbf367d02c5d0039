"""Partition networks: the min-min loss, combinatorial output spaces, their energies and exact oracles.

See docs/partition.md for the derivations.
"""
from refefl.partition._loss import log_mean_exp_loss, min_min_loss
from refefl.partition._permanent import log_permanent
from refefl.partition._plackett_luce import plackett_luce_sample
from refefl.partition._spaces import BinaryVectors, Permutations

__all__ = [
    "min_min_loss",
    "log_mean_exp_loss",
    "log_permanent",
    "BinaryVectors",
    "Permutations",
    "plackett_luce_sample",
]

"""Partition networks: the min-min loss, combinatorial output spaces, their energies and exact oracles.

See docs/partition.md for the derivations.
"""
from refefl.partition._baselines import (PersistentChains, gibbs_sweeps, mcmc_objective, min_max_objective,
                                         nce_objective, swap_metropolis)
from refefl.partition._energies import (BirkhoffEnergy, ModeInfo, PairwiseSetEnergy, PermutahedronEnergy,
                                        UnarySetEnergy)
from refefl.partition._loss import log_mean_exp_loss, min_min_loss
from refefl.partition._networks import PartitionNetworks
from refefl.partition._oracles import (birkhoff_log_partition, birkhoff_marginals, enumeration_log_partition,
                                       pairwise_log_partition, permutahedron_log_partition, unary_log_partition)
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
    "unary_log_partition",
    "pairwise_log_partition",
    "permutahedron_log_partition",
    "birkhoff_log_partition",
    "birkhoff_marginals",
    "enumeration_log_partition",
    "UnarySetEnergy",
    "PairwiseSetEnergy",
    "PermutahedronEnergy",
    "BirkhoffEnergy",
    "ModeInfo",
    "PartitionNetworks",
    "nce_objective",
    "mcmc_objective",
    "min_max_objective",
    "PersistentChains",
    "gibbs_sweeps",
    "swap_metropolis",
]

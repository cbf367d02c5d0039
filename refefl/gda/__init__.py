"""Dual training of energy-based models by particle gradient descent-ascent (Domingo-Enrich et al., 2022).

Shallow ReLU energies on the sphere (:class:`ReLUEnergy`), Langevin walkers (:func:`particle_step`), neuron
transport and mass updates (:func:`neuron_step`), the GDA loop with restarts (:func:`train_gda`), the paper's
teacher with exact sampling, the exact-MLE and score-matching baselines, and the metrics (KL, score-matching
distance, total variation, duality gap). See docs/gda.md and ``python -m refefl.experiments.gda``.
"""
from refefl.gda._baselines import (mle_witness_gradient, score_matching_loss, score_matching_witness_gradient,
                                   train_mle, train_score_matching)
from refefl.gda._energy import ReLUEnergy, normalize_rows, tangent_project, uniform_sphere
from refefl.gda._langevin import antithetic_noise, langevin, particle_step, restart_walkers
from refefl.gda._metrics import (SphereQuadrature, dual_objective, duality_gap, gibbs_weights, kl_divergence,
                                 kl_divergence_mc, log_partition, primal_objective, score_matching_distance,
                                 sphere_quadrature, witness)
from refefl.gda._neurons import direction_step, mass_step, neuron_step, witness_gradient
from refefl.gda._teacher import TEACHER_DIRECTIONS, max_negative_energy, paper_teacher, sample_gibbs
from refefl.gda._training import GDAConfig, GDAResult, descend, train_gda

__all__ = [
    "ReLUEnergy", "normalize_rows", "tangent_project", "uniform_sphere",
    "antithetic_noise", "langevin", "particle_step", "restart_walkers",
    "witness_gradient", "direction_step", "mass_step", "neuron_step",
    "GDAConfig", "GDAResult", "descend", "train_gda",
    "TEACHER_DIRECTIONS", "paper_teacher", "max_negative_energy", "sample_gibbs",
    "SphereQuadrature", "sphere_quadrature", "log_partition", "gibbs_weights", "kl_divergence", "kl_divergence_mc",
    "score_matching_distance", "primal_objective", "witness", "dual_objective", "duality_gap",
    "mle_witness_gradient", "score_matching_loss", "score_matching_witness_gradient", "train_mle",
    "train_score_matching",
]

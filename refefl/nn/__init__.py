"""Small neural networks with hand-written backward passes: layers, MLPs, optimizers, parameter pytrees, and the
minibatch training loop :func:`train_minibatch`.

No autodiff: every layer's ``forward(params, x)`` returns ``(out, cache)`` and its ``backward(cache, grad_out)``
returns ``(grad_x, grad_params)``. Parameters are plain pytrees (lists / tuples / dicts of arrays) updated by the
functional optimizers :class:`SGD` and :class:`Adam`.
"""
from refefl.nn._layers import ACTIVATIONS, Layer, Linear, LogSigmoid, ReLU, Sigmoid, Softplus, Tanh, activation
from refefl.nn._mlp import MLP
from refefl.nn._optim import SGD, Adam
from refefl.nn._training import TrainingResult, train_minibatch
from refefl.nn._tree import tree_leaves, tree_map, tree_ravel, tree_unravel, tree_vdot

__all__ = [
    "ACTIVATIONS",
    "Layer",
    "Linear",
    "ReLU",
    "Softplus",
    "Tanh",
    "Sigmoid",
    "LogSigmoid",
    "activation",
    "MLP",
    "SGD",
    "Adam",
    "train_minibatch",
    "TrainingResult",
    "tree_map",
    "tree_leaves",
    "tree_ravel",
    "tree_unravel",
    "tree_vdot",
]

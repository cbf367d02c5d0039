"""A tour of every registered regularizer: predictions, conjugates, losses, and the properties they satisfy."""
from __future__ import annotations

import numpy as np

import refefl
from refefl.regularizers import REGULARIZERS, regularizer
from refefl.testing import directional_derivative

THETA = np.array([1.2, -0.3, 0.8, 0.0, -1.5])
# parameters shown in the tour (the capped simplex with s = 2 differs from sparsemax, which is s = 1)
PARAMS = {"tsallis": {"alpha": 1.5}, "capped_squared": {"s": 2}, "capped_entropy": {"s": 2}}
# the figure's panels: (title, regularizers as (name, params))
PANELS = (
    ("simplex", [("shannon", {}), ("sparsemax", {}), ("tsallis", {"alpha": 1.5}), ("tsallis", {"alpha": 3.0})]),
    ("box and capped simplex (s = 2)",
     [("binary_entropy", {}), ("box_squared", {}), ("capped_entropy", {"s": 2}), ("capped_squared", {"s": 2})]),
    ("permutahedron P(3, 2, 1)", [("perm_entropy", {}), ("perm_squared", {})]),
)
# a second score vector whose prediction serves as a feasible target y
THETA_TARGET = np.array([-0.5, 2.0, 0.1, 0.3, -1.0])


def _check_properties(omega, loss) -> dict[str, float]:
    """Numbers that must hold for every regularizer (printed by the demo; asserted by the test suite)."""
    y_hat = omega.predict(THETA)
    y = omega.predict(THETA_TARGET)
    direction = np.random.default_rng(0).normal(size=THETA.shape)
    fd = directional_derivative(lambda t: loss.value(t, y), THETA, direction)
    return {
        "loss(θ, y)": float(loss.value(THETA, y)),
        "loss(θ, ŷ)": float(loss.value(THETA, y_hat)),
        "FY gap at ŷ": float(omega.value(y_hat) + omega.conjugate(THETA) - THETA @ y_hat),
        "|grad·v − finite diff|": float(abs(loss.grad(THETA, y) @ direction - fd)),
    }


def _plot(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.linspace(-3, 3, 301)
    theta = np.stack([t, np.zeros_like(t), np.full_like(t, -0.5)], axis=-1)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 4))
    for ax, (title, members) in zip(axes, PANELS):
        for name, params in members:
            label = name + "".join(f" {k}={v:g}" for k, v in params.items())
            ax.plot(t, regularizer(name, **params).predict(theta)[:, 0], label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(r"$\theta_1$ (with $\theta_2 = 0$, $\theta_3 = -0.5$)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(r"$\hat y_1 = \nabla_1 \Omega^*(\theta)$")
    fig.suptitle("Regularized predictions of refefl's regularizers")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(out: str = "refefl_demo.png") -> int:
    """Print, for each regularizer, ŷ(θ), Ω*(θ) and the FY loss with its checks; save one figure to ``out``."""
    with np.printoptions(precision=4, suppress=True):  # the caller's print options are left as they were
        _print_tour()
    try:
        _plot(out)
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'refefl[plot]')")
    else:
        print(f"figure saved to {out}")
    return 0


def _print_tour() -> None:
    print(f"refefl {refefl.__version__}; compiled kernels loaded: {refefl.HAVE_EXT}")
    print(f"θ = {THETA}\n")
    for name in sorted(REGULARIZERS):
        omega = regularizer(name, **PARAMS.get(name, {}))
        loss = refefl.FenchelYoungLoss(omega)
        print(f"{name:>16}: ŷ = {omega.predict(THETA)}  Ω*(θ) = {float(omega.conjugate(THETA)):.6f}")
        checks = _check_properties(omega, loss)
        print(" " * 18 + "  ".join(f"{key} = {value:.3g}" for key, value in checks.items()))
    result = refefl.isotonic_regression([8, 4, 8, 2, 2, 0, 8], return_blocks=True)
    print(f"\nisotonic regression of [8, 4, 8, 2, 2, 0, 8]: {result.fit}, blocks {result.blocks()}")
